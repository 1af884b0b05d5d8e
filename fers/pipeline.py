"""End-to-end detection: band spec -> normalisation -> feature enhancement -> detector maps -> AUCs.

``detect(cube (H, W, B), gt (H, W) | None, bands="auto")`` returns a
:class:`fers.result.DetectResult` with one ``(H, W)`` float64 map per method of
:mod:`fers.methods` (the one table and recipe of eq. 17-23). Model-based methods need a trained
enhancer for the adapted band count; when none is available they are skipped and ``notes`` says why.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from fers import budget, progress
from fers import methods as M
from fers.bands import DEFAULT_ADAPTER, BandSpec, parse_band_spec, planned_bands, prepare_bands
from fers.detectors import DEFAULT_WINDOWS, DETECTORS, detector_fn, parse_windows
from fers.enhance import ModelUnavailable, make_enhancer, resolve_backend
from fers.errors import FersError, FersInputError, with_path
from fers.memmap import LARGE_MEMMAP_BYTES, LARGE_PIXELS, is_mapped  # the limits: tests patch them here
from fers.nodata import FilledCube, describe, fill_invalid, floor_invalid, release_for, scan_cube
from fers.normalize import normalize_cube
from fers.result import DetectResult

RX_ALL_BANDS_MAX_PIXELS = 250_000  # the extra all-band RX reference is computed on scenes up to this size


def _check_args(cube, gt, backend, detector, windows, methods):
    resolve_backend(backend)  # checks the name
    if detector not in DETECTORS:
        raise FersInputError(f"unknown detector {detector!r}; choose one of {', '.join(DETECTORS)}")
    if cube.ndim != 3 or cube.shape[2] < 2:
        raise FersInputError(f"cube must be (H, W, B) with B >= 2, got shape {tuple(cube.shape)}")
    windows = parse_windows(windows)
    allowed = M.methods_for(detector)
    if methods is not None:
        bad = [m for m in methods if m not in allowed]
        if bad:
            raise FersInputError(f"unknown method(s) {', '.join(bad)} for detector {detector}; "
                                 f"choose from {', '.join(allowed)}")
    if gt is not None:
        g = np.asarray(gt)
        if g.shape != tuple(cube.shape[:2]):
            raise FersInputError(f"ground truth shape {g.shape} does not match the cube's (H, W) {cube.shape[:2]}")
    return windows, list(methods) if methods is not None else list(allowed)


def detect(cube, gt=None, bands="auto", backend="auto", detector="rx", windows=DEFAULT_WINDOWS, methods=None,
           weights=None, name: str = "", adapter: str = DEFAULT_ADAPTER, nodata=None, wavelengths=None,
           bad_bands=None, keep_bad_bands: bool = False) -> DetectResult:
    """Run every available method on ``cube (H, W, B)``; with ``gt (H, W)`` also their AUCs.

    bands: the band-spec grammar of :mod:`fers.bands` (default ``auto``: plain RX on all B bands, the
    models on the cube adapted to the nearest shipped band count; ``N`` runs every method, plain RX
    included, on the adapted cube as the paper's tables do). ``weights``: a checkpoint to use instead
    of the shipped models (the cube is then adapted to its band count). ``adapter``: how bands are
    fitted to the model (:data:`fers.bands.ADAPTERS`). Large scenes (see
    :func:`is_large`) with the RX detector are streamed (:mod:`fers.large`); local RX and the AE are
    refused there. Ground truth without anomaly pixels gives the maps with ``auc`` None and
    ``auc_note`` saying why.

    No-data (:mod:`fers.nodata`): pixels with a NaN/Inf value, or a value equal to ``nodata``, in
    one of the bands used are masked; a band that is no-data in every pixel is dropped as a bad band
    (also with ``keep_bad_bands``). Masked pixels are NaN in every map, left out of the AUCs and
    counted in ``masked_pixels``. A cube with no valid pixel, or whose valid pixels all have one
    spectrum, is refused. Scenes smaller than the networks' 8x8 minimum get the plain detector only,
    with a note.

    Wavelengths and bad bands (:mod:`fers.band_select`): with ``wavelengths (B,)`` in nm or
    ``bad_bands (B,)`` bool (a :class:`fers.io.Scene`'s), the bands marked bad and the water-vapour
    windows are dropped before anything else unless ``keep_bad_bands``, and ``bands`` may select
    by wavelength (``"400-1000nm"``).
    """
    t_prep = time.perf_counter()
    cube = cube if isinstance(cube, np.ndarray) else np.asarray(cube)
    windows, wanted = _check_args(cube, gt, backend, detector, windows, methods)
    backend = resolve_backend(backend, weights)
    _refuse_large(cube, detector)
    sec: dict = {}
    spec = parse_band_spec(bands)
    fixed = _weights_bands(weights) if weights else None
    need_model = any(M.BY_NAME[m].needs_model for m in wanted)
    empty = _empty_bands(cube, nodata)
    spec, notes = _resolve(spec, cube.shape[2], wavelengths, bad_bands, keep_bad_bands, empty)
    mapped = is_mapped(cube)
    large = _plan(tuple(cube.shape), 0 if mapped else int(cube.nbytes), mapped, gt is not None, spec, fixed,
                  adapter, backend, detector, weights, wanted)  # the plan counts a copy the bad-band drop makes
    cube, spec, wl_used = _take(cube, spec, wavelengths, lazy=large)
    stages = progress.bar(desc="detect", unit="stage")
    scan = _scan(cube, nodata)
    valid = scan.valid if scan.n_invalid else None
    box = scan.box() if valid is not None else (slice(0, cube.shape[0]), slice(0, cube.shape[1]))
    if valid is not None:
        notes.append(f"{scan.n_invalid} of {scan.valid.size} pixels are no-data ({describe(nodata)}): left out of "
                     "normalisation, RX statistics and AUCs, filled with the valid mean for the networks, NaN in "
                     "the maps")
    # in memory: a float32 copy with masked pixels filled; streamed: the valid area's bounding box (a view)
    src = cube[box] if large else (fill_invalid(cube, valid, scan.mean) if valid is not None else cube)
    cube_b, model_bands, adapted = prepare_bands(src, spec, model_bands=fixed, adapter=adapter)
    sec["prepare"] = time.perf_counter() - t_prep
    stages.update()
    if need_model and model_bands is not None and not _fits_networks(box, notes, name, valid is not None):
        need_model = False
    t = time.perf_counter()
    enh = _enhancer_or_note(model_bands, backend, need_model, cube, notes, weights)
    if enh is not None:
        sec["model"] = time.perf_counter() - t  # loading the networks (once per process; a cache hit after)
    f_spe = f_spa = None
    if large:
        from fers.large import detect_large

        if not is_large(cube):
            notes.append("streamed (fers.large) to stay within the memory budget")
        stages.close()  # the streamed stages show bars of their own
        core, sub_valid = cube_b, (valid[box] if valid is not None else None)
        if sub_valid is not None and not sub_valid.all():
            fill_b = prepare_bands(scan.mean[None, None].astype(np.float32), spec, fixed, adapter)[0][0, 0]
            core = FilledCube(cube_b, sub_valid, fill_b, release=release_for(cube_b))
        else:
            sub_valid = None
        maps, sec_large = detect_large(core, enh, methods=wanted, notes=notes, valid=sub_valid,
                                       progress=progress.is_shown())
        sec.update(sec_large)
        h, normalized = cube_b, False
    else:
        t = time.perf_counter()
        h, normalized = normalize_cube(cube_b), True
        sec["prepare"] += time.perf_counter() - t
        if enh is not None:
            stages.set_postfix_str("enhance")
            t = time.perf_counter()
            f_spe, f_spa = _enhance_box(enh, h, box)
            sec["enhance"] = time.perf_counter() - t
            if f_spa is None:
                notes.append("the model has no Spa-FEN (a Spe-FEN-only checkpoint): spatial and fused methods skipped")
        stages.update()
        # auto: the plain baseline is the detector on every band the user gave, not on the adapted cube
        full = spec.kind == "auto" and cube_b.shape[2] != cube.shape[2]
        score = _masked_detector(detector, windows, valid)

        def timed(name, fn):
            stages.set_postfix_str(name)
            t0 = time.perf_counter()
            out = fn()
            sec[name] = time.perf_counter() - t0
            stages.update()
            return out

        cubes = M.scored_cubes(wanted, M.available_terms(f_spe, f_spa))
        maps = {}
        if full:
            t = time.perf_counter()
            h_full = normalize_cube(src)
            sec["prepare"] += time.perf_counter() - t
            maps = M.score_cubes(h_full, {}, {n: t for n, t in cubes.items() if not t}, score, timed)
            del h_full
        rest = {n: t for n, t in cubes.items() if n not in maps}
        maps = M.combine({**maps, **M.score_cubes(h, {"spe": f_spe, "spa": f_spa}, rest, score, timed)}, wanted,
                         timed)
        stages.close()
    if valid is not None:
        t = time.perf_counter()
        maps = {m: _masked_map(s, box, valid) for m, s in maps.items()}
        sec["prepare"] += time.perf_counter() - t
    res = DetectResult(maps=maps, auc=None, auc3d=None, seconds=sec, band_adapter=adapted, model_bands=model_bands,
                       cube_used=h, notes=notes, detector=detector, backend=backend, bands=spec.describe(),
                       cube_used_normalized=normalized, default_method=M.default_method(model_bands, maps),
                       name=name, shape=tuple(cube.shape), weights=str(weights) if weights else "shipped",
                       f_spe=f_spe, f_spa=f_spa, masked_pixels=scan.n_invalid, wavelengths_used=wl_used)
    if gt is not None:
        t = time.perf_counter()
        _score(res, None if large and valid is not None else src, gt, spec, detector, valid)
        sec["auc"] = time.perf_counter() - t
    return res


def _empty_bands(cube, nodata):
    """``(B,)`` bool of the bands that hold only no-data (:func:`fers.nodata.empty_bands`), or None
    when there is none; a cube whose every band is empty is refused."""
    from fers.nodata import empty_bands

    empty = empty_bands(cube, nodata, release=release_for(cube))
    if empty.all():
        raise FersInputError(f"every pixel is no-data ({describe(nodata)}); there is nothing to detect")
    return empty if empty.any() else None


def _resolve(spec, n_bands, wavelengths, bad_bands, keep_bad, empty=None):
    """``(spec, notes)``: ``spec`` resolved against the scene's band metadata and its bands of
    no-data ``empty (B,)`` (:func:`fers.band_select.resolve_bands`); unchanged without them."""
    if wavelengths is None and bad_bands is None and empty is None and spec.kind != "nm":
        return spec, []
    from fers.band_select import resolve_bands

    return resolve_bands(spec, n_bands, wavelengths, bad_bands, keep_bad, empty)


def _take(cube, spec, wavelengths, lazy: bool):
    """``(cube, spec, wavelengths of the bands used or None)``: the bands a resolved ``spec`` uses
    taken out -- bad bands, and the bands of a range or list -- so that no-data is decided on the
    bands used (a lazy view of a streamed memory map, see :class:`fers.band_select.BandView`). A
    range or list becomes the whole ``0:`` range of the taken cube, reported as the spec it was."""
    from fers.band_select import BandView, take_bands

    idx = np.arange(cube.shape[2])
    if spec.keep is not None:
        cube, idx = take_bands(cube, spec.keep, lazy=lazy), np.asarray(spec.keep)
        spec = replace(spec, keep=None)
    sel = None
    if spec.kind == "list" and spec.indices and max(spec.indices) < cube.shape[2] and len(spec.indices) >= 2:
        sel = list(spec.indices)
    elif spec.kind == "range" and spec.start < cube.shape[2]:
        sel = list(range(spec.start, cube.shape[2] if spec.stop is None else min(spec.stop, cube.shape[2])))
    if sel is not None and len(sel) >= 2:
        if sel == sorted(sel):
            cube = take_bands(cube, sel, lazy=lazy)
        else:
            cube = BandView(cube, sel) if lazy else np.asarray(cube[..., sel])
        idx = idx[sel]
        spec = BandSpec("range", start=0, stop=None, label=spec.describe())
    wl = None if wavelengths is None else np.asarray(wavelengths, dtype=np.float64).ravel()[idx]
    return cube, spec, wl


def _scan(cube, nodata):
    """:func:`fers.nodata.scan_cube`, refusing a cube without valid pixels or with a single spectrum."""
    scan = scan_cube(cube, nodata, release=release_for(cube))
    if scan.n_valid == 0:
        raise FersInputError(f"every pixel is no-data ({describe(nodata)}); there is nothing to detect")
    if scan.constant:
        what = "every pixel" if scan.n_invalid == 0 else "every pixel with data"
        raise FersInputError(f"{what} has the same spectrum (a constant cube, e.g. all zeros); "
                             "there is nothing to detect")
    return scan


def _fits_networks(box, notes, name="", masked=False) -> bool:
    """True when the valid area ``box`` is at least the networks' minimum size; else a note says why
    they are skipped (plain RX has no minimum, so it still runs)."""
    from fers.enhance.inputs import MIN_SIZE

    rows, cols = box[0].stop - box[0].start, box[1].stop - box[1].start
    if min(rows, cols) >= MIN_SIZE:
        return True
    notes.append(f"{name or 'the cube'} is {rows}x{cols} pixels{' with data' if masked else ''}; the networks need "
                 f"at least {MIN_SIZE}x{MIN_SIZE}: model-based methods skipped, plain detector only")
    return False


def _enhance_box(enh, h, box):
    """``(F_spe, F_spa)`` of normalised ``h (H, W, N)``: the networks see only ``box`` (the valid
    pixels' bounding box, so a no-data border does not reach them); zero features outside it."""
    if h[box].shape == h.shape:
        return enh.enhance(h)
    part = enh.enhance(np.ascontiguousarray(h[box]))
    out = []
    for f in part:
        if f is not None:
            full = np.zeros(h.shape[:2] + f.shape[2:], dtype=f.dtype)
            full[box] = f
            f = full
        out.append(f)
    return tuple(out)


def _masked_detector(detector, windows, valid):
    """The detector ``cube -> (H, W)``; with a mask, RX statistics, local RX window statistics and the
    AE's scaling and training over valid pixels only, and masked scores floored to the lowest valid
    score (they become NaN after the fusions)."""
    base = detector_fn(detector, windows)
    if valid is None:
        return base
    if detector == "rx":
        from fers.detectors.rx import rx

        return lambda c: floor_invalid(rx(c, valid), valid)
    if detector == "lrx":  # masked pixels out of every window's statistics
        from fers.detectors.lrx import local_rx

        inner, outer = parse_windows(windows)
        return lambda c: floor_invalid(local_rx(c, inner, outer, valid=valid), valid)
    if detector == "ae":  # masked pixels out of the scaling and the training loss
        from fers.detectors.ae import ae_scores

        return lambda c: floor_invalid(ae_scores(c, seed=0, threads=1, valid=valid), valid)
    return lambda c: floor_invalid(base(c), valid)


def _masked_map(score, box, valid):
    """A full-size ``(H, W)`` map from ``score`` (full-size, or the ``box`` crop of the streamed path),
    NaN at every masked pixel."""
    out = np.full(valid.shape, np.nan)
    if score.shape == valid.shape:
        out[...] = score
    else:
        out[box] = score
    out[~valid] = np.nan
    return out


def _score(res: DetectResult, src, gt, spec, detector, valid=None) -> None:
    """AUCs of every map, masked pixels left out (and the all-band RX reference on ``src``, the cube
    as given with masked pixels filled, for a fixed band spec on small scenes)."""
    from fers.metrics import auc, auc_3d

    g = np.asarray(gt) > 0
    gv = g if valid is None else g[valid]
    where = "" if valid is None else " among the pixels with data"
    if not np.any(gv) or np.all(gv):
        res.auc_note = (f"ground truth has no anomaly pixel{where}" if not np.any(gv)
                        else f"ground truth marks every pixel{where}") + "; AUC not available"
        return
    res.auc = {m: auc(s, gt) for m, s in res.maps.items()}
    res.auc3d = {m: auc_3d(s, gt) for m, s in res.maps.items()}
    h, w = g.shape
    if src is not None and spec.kind not in ("all", "auto") and detector == "rx" and h * w <= RX_ALL_BANDS_MAX_PIXELS:
        # reference: plain RX on every original band (the usual "Original" column of HAD papers)
        from fers.detectors.rx import rx

        ref = rx(normalize_cube(src), valid)
        res.rx_all_bands_auc = auc(ref if valid is None else np.where(valid, ref, np.nan), gt)


def _weights_bands(weights) -> int:
    """Band count of a user checkpoint (read from its config)."""
    from fers.models.checkpoint import checkpoint_bands

    return checkpoint_bands(weights)


def is_large(cube) -> bool:
    """True for scenes :func:`detect` streams: ``LARGE_PIXELS`` pixels or more, or a ``np.memmap`` whose
    float32 copy would exceed ``LARGE_MEMMAP_BYTES`` (small memmaps are simply read into memory)."""
    return _large_shape(cube.shape, is_mapped(cube))


def _large_shape(shape, memmap: bool) -> bool:
    h, w, b = shape
    return h * w >= LARGE_PIXELS or (memmap and h * w * b * 4 > LARGE_MEMMAP_BYTES)


def plan_request(shape, resident: int = 0, memmap: bool = False, gt: bool = False, bands="auto", backend="auto",
                 detector="rx", weights=None, methods=None, adapter: str = DEFAULT_ADAPTER) -> bool:
    """The memory plan of a :func:`detect` call from shapes alone, before any work: True when it will
    be streamed (:mod:`fers.large`), False for the in-memory path; :class:`FersInputError` (one line:
    what needs the memory, what to do) when no path fits the budget of :mod:`fers.budget`.

    ``shape``: the cube's ``(H, W, B)``; ``resident``: bytes of it already in memory; ``memmap``: the
    cube is a memory map; ``gt``: a ground truth is given. Other arguments as :func:`detect`."""
    detector = detector if detector in DETECTORS else "rx"
    backend = resolve_backend(backend, weights)
    wanted = list(methods) if methods is not None else list(M.methods_for(detector))
    return _plan(tuple(int(s) for s in shape), int(resident), memmap, gt, parse_band_spec(bands),
                 _weights_bands(weights) if weights else None, adapter, backend, detector, weights, wanted)


def _plan(shape, resident, memmap, gt, spec, fixed, adapter, backend, detector, weights, wanted) -> bool:
    h, w, b = shape
    _, n, copies = planned_bands(spec, b, fixed, adapter)
    need_model = any(M.BY_NAME[m].needs_model for m in wanted if m in M.BY_NAME)
    models = need_model and spec.kind != "all" and _model_exists(n, backend, weights)
    full = (spec.kind == "auto" and n != b) or (
        gt and spec.kind not in ("all", "auto") and detector == "rx" and h * w <= RX_ALL_BANDS_MAX_PIXELS)
    req = budget.Request(height=h, width=w, bands=b, n=n, copy=copies, models=models, detector=detector,
                         resident=resident, n_maps=len(wanted), gt=gt, full_rx=b if full else 0,
                         torch=(models and backend == "torch") or detector == "ae", backend=backend)
    rx_only = replace(req, n=b, copy=False, models=False, full_rx=0, torch=False, n_maps=1)
    return budget.choose_path(req, large=_large_shape(shape, memmap) and detector == "rx", rx_only=rx_only)


def check_file_request(path, key=None, gt_path=None, gt_key=None, mmap: bool = False, **detect_args) -> None:
    """Refuse a detection request on a file from its headers alone (:mod:`fers.io.peek`), before it is
    decoded: a reader that decodes the whole file (compressed TIFF, ``.mat``, a ``.npy`` read without
    ``mmap``) must fit the memory budget, and so must :func:`plan_request` of the cube's shape.
    ``detect_args``: ``bands``, ``backend``, ``detector``, ``weights``, ``methods``, ``adapter`` as for
    :func:`detect`. Headers that cannot be read are left to the readers, which say what is wrong."""
    from fers.io.peek import peek_cube, peek_gt

    head = peek_cube(path, key)
    if head is None:
        return
    if head.problem:
        raise FersInputError(head.problem, path)
    mapped = mmap and head.mappable
    if not mapped:  # decoded whole, then converted to float32 (a .mat also holds its compressed bytes)
        extra = head.values * 4 + (Path(path).stat().st_size if head.fmt == "mat" else 0)
        budget.check_decode(head.values, head.itemsize, extra + head.aux_bytes, path)
    elif head.aux_bytes:  # a GLT is decoded whole whatever the cube's path
        budget.check_decode(head.aux_bytes // 8, 8, 0, path, "its GLT grid")
    if gt_path is not None and (g := peek_gt(gt_path, gt_key)) is not None:
        budget.check_decode(g.values, g.itemsize, g.values, gt_path, "ground truth")
    shape = head.hwb()
    try:
        plan_request(shape, 0 if mapped else shape[0] * shape[1] * shape[2] * 4, mapped,
                     gt_path is not None or head.fmt == "mat", **detect_args)
    except FersError as e:
        raise with_path(e, path) from None


def _model_exists(n_bands: int, backend: str, weights) -> bool:
    """Whether :func:`make_enhancer` will find a model for ``n_bands`` (a given checkpoint, one already
    loaded, or the shipped files of the backend), without loading it."""
    from fers.enhance import _ENHANCERS
    from fers.enhance.paths import find_onnx, shipped_checkpoint

    if weights or (int(n_bands), backend, None) in _ENHANCERS:
        return True
    if backend == "torch":
        return shipped_checkpoint(n_bands).is_file()
    return all(p.is_file() for p in find_onnx(n_bands))


def _refuse_large(cube, detector: str) -> None:
    """Local RX and the AE are not streamed: on ``LARGE_PIXELS`` pixels or more local RX would take
    tens of minutes (one (B + 2)^2 factorisation per pixel, four maps) and the AE trains full-batch on
    the whole in-memory scene, so refuse with a one-line hint."""
    h, w = cube.shape[:2]
    if detector in ("lrx", "ae") and h * w >= LARGE_PIXELS:
        what = "local RX" if detector == "lrx" else "the AE detector"
        raise FersInputError(f"{what} is not supported on large scenes ({h}x{w} = {h * w} pixels, limit "
                             f"{LARGE_PIXELS - 1}); crop the cube to a region of interest, or use --detector rx")


def _enhancer_or_note(model_bands, backend, need_model, cube, notes, weights=None):
    """The enhancer for ``model_bands``, or None with the reason appended to ``notes``."""
    if not need_model:
        return None
    if model_bands is None:
        notes.append(f"bands=all: no model for {cube.shape[2]} bands, model-based methods skipped")
        return None
    try:
        return make_enhancer(model_bands, backend, weights=weights)
    except ModelUnavailable as e:
        notes.append(f"{e}; model-based methods skipped")
        return None
