"""End-to-end detection: band spec -> normalisation -> feature enhancement -> detector maps -> AUCs.

``detect(cube (H, W, B), gt (H, W) | None, bands="100")`` returns a :class:`DetectResult` with one
``(H, W)`` float64 map per method:

* ``rx``          detector on the normalised cube H                       (eq. 17)
* ``spectral``    detector on H + F_spe                                   (eq. 19)
* ``spatial``     detector on H + F_spa                                   (eq. 18)
* ``fusion_add``  detector on H + F_spe + F_spa  (fusion B)               (eq. 23)
* ``fusion_mult`` minmax(spatial) * minmax(spectral)  (fusion A)          (eq. 20-22)

The detector is global RX (default), local RX (``lrx``, dual window) or an autoencoder (``ae``:
methods ``ae`` on H and ``ae_enhanced`` on H + F_spe + F_spa). Model-based methods need a trained
enhancer for the adapted band count; when none is available they are skipped and ``notes`` says why.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import fusion
from .bands import parse_band_spec, prepare_bands
from .errors import FersInputError
from .normalize import normalize_cube
from .rx import rx

BACKENDS = ("torch", "onnx")
DETECTORS = ("rx", "lrx", "ae")
AE_METHODS = ("ae", "ae_enhanced")
LARGE_PIXELS = 1_000_000  # this many pixels or more: streamed path (fers.large); lrx / ae refused
LARGE_MEMMAP_BYTES = 512 * 2**20  # a memory-mapped cube whose float32 copy would exceed this: streamed too
_ENHANCERS: dict = {}


@dataclass
class DetectResult:
    """Output of :func:`detect`. ``maps``: method -> ``(H, W)`` float64; ``auc``/``auc3d``: method ->
    float / dict of 3-D ROC areas (None without GT); ``seconds``: stage -> wall time; ``cube_used``:
    the normalised ``(H, W, N)`` cube the detectors saw (see ``cube_used_normalized``)."""

    maps: dict
    auc: dict | None
    auc3d: dict | None
    seconds: dict
    band_adapter: str
    model_bands: int | None
    cube_used: np.ndarray
    notes: list = field(default_factory=list)
    detector: str = "rx"
    backend: str = "torch"
    bands: str = "auto"
    cube_used_normalized: bool = True  # False on the streamed large-scene path (band-adapted input only)


class ModelUnavailable(FersInputError):
    """No trained enhancer for this band count / backend (weights or backend module missing)."""


def make_enhancer(n_bands: int, backend: str = "torch"):
    """Enhancer with ``.n_bands``, ``.config``, ``.enhance(h (H, W, N)) -> (f_spe, f_spa)`` for N bands.

    ``torch``: ``TorchEnhancer(shipped_checkpoint(n))``; ``onnx``: ``OnnxEnhancer(*onnx_paths(n))``.
    Cached per ``(n_bands, backend)``. Raises :class:`ModelUnavailable` when the backend module or the
    weight files are missing.
    """
    if backend not in BACKENDS:
        raise FersInputError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    cache_key = (int(n_bands), backend)
    if cache_key in _ENHANCERS:
        return _ENHANCERS[cache_key]
    try:
        if backend == "torch":
            from .checkpoint import shipped_checkpoint
            from .enhance_torch import TorchEnhancer

            paths = [Path(shipped_checkpoint(n_bands))]
            factory = lambda: TorchEnhancer(paths[0])  # noqa: E731
        else:
            from .onnx_backend import OnnxEnhancer, onnx_paths

            paths = [Path(p) for p in onnx_paths(n_bands)]
            factory = lambda: OnnxEnhancer(*paths)  # noqa: E731
    except ImportError as e:
        raise ModelUnavailable(f"{backend} backend not available ({e})") from None
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise ModelUnavailable(f"no {backend} model for {n_bands} bands (missing {', '.join(missing)})")
    try:
        enh = factory()
    except (ImportError, OSError, RuntimeError, ValueError, KeyError) as e:
        raise ModelUnavailable(f"cannot load the {backend} model for {n_bands} bands: {type(e).__name__}: {e}"
                               ) from None
    if int(getattr(enh, "n_bands", n_bands)) != int(n_bands):
        raise ModelUnavailable(f"{backend} model file for {n_bands} bands has {enh.n_bands} bands")
    _ENHANCERS[cache_key] = enh
    return enh


def _detector_fn(detector: str, windows):
    """``cube (H, W, N) -> (H, W)`` scoring function for the chosen detector."""
    if detector == "rx":
        return rx
    if detector == "lrx":
        try:
            from .lrx import local_rx
        except ImportError:
            raise FersInputError("detector lrx not available") from None
        inner, outer = windows
        return lambda c: local_rx(c, inner, outer)
    try:
        from .ae import ae_scores
    except ImportError:
        raise FersInputError("detector ae not available") from None
    return lambda c: ae_scores(c, seed=0, threads=1)  # 1 torch thread: much faster than 2 on a busy CPU


def _check_args(cube, gt, backend, detector, windows, methods):
    if backend not in BACKENDS:
        raise FersInputError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if detector not in DETECTORS:
        raise FersInputError(f"unknown detector {detector!r}; choose one of {', '.join(DETECTORS)}")
    if cube.ndim != 3 or cube.shape[2] < 2:
        raise FersInputError(f"cube must be (H, W, B) with B >= 2, got shape {tuple(cube.shape)}")
    try:
        inner, outer = (int(w) for w in windows)
    except (TypeError, ValueError):
        raise FersInputError(f"windows must be two integers (inner, outer), got {windows!r}") from None
    if detector == "lrx" and not (1 <= inner < outer and inner % 2 == 1 and outer % 2 == 1):
        raise FersInputError(f"windows must be odd with 1 <= inner < outer, got {inner},{outer}")
    allowed = AE_METHODS if detector == "ae" else fusion.METHODS
    if methods is not None:
        bad = [m for m in methods if m not in allowed]
        if bad:
            raise FersInputError(f"unknown method(s) {', '.join(bad)} for detector {detector}; "
                                 f"choose from {', '.join(allowed)}")
    if gt is not None:
        g = np.asarray(gt)
        if g.shape != tuple(cube.shape[:2]):
            raise FersInputError(f"ground truth shape {g.shape} does not match the cube's (H, W) {cube.shape[:2]}")
        if not np.any(g > 0):
            raise FersInputError("ground truth has no anomaly pixel; an AUC cannot be computed")
    return (inner, outer), list(methods) if methods is not None else list(allowed)


def detect(cube, gt=None, bands="auto", backend="torch", detector="rx", windows=(5, 15), methods=None) -> DetectResult:
    """Run every available method on ``cube (H, W, B)``; with ``gt (H, W)`` also their AUCs.

    bands: ``auto`` (default: plain RX on all B bands; the models on the cube adapted to the nearest
    shipped band count), ``all`` (no adaptation, model methods skipped), ``N`` (every method, plain RX
    included, on the first N bands, or interpolated when B < N — as the paper's tables do),
    ``START:STOP`` / ``i,j,k`` (then adapted to the nearest shipped model).
    Large scenes (see :func:`is_large`) with the RX detector go through
    :func:`fers.large.detect_large` (streamed statistics, tiled enhancement; ``notes`` says whether
    the Spa-FEN was streamed exactly or tiled); their ``cube_used`` is then the band-adapted input,
    not normalised (``cube_used_normalized`` False). Local RX and the AE are refused on scenes of
    ``LARGE_PIXELS`` pixels or more (:class:`FersInputError`).
    """
    cube = cube if isinstance(cube, np.ndarray) else np.asarray(cube)
    windows, wanted = _check_args(cube, gt, backend, detector, windows, methods)
    _refuse_large(cube, detector)
    notes: list = []
    sec: dict = {}
    spec = parse_band_spec(bands)
    t = time.perf_counter()
    cube_b, model_bands, adapter = prepare_bands(cube, spec)
    sec["prepare"] = time.perf_counter() - t
    enh = _enhancer_or_note(model_bands, backend, any(m not in ("rx", "ae") for m in wanted), cube, notes)

    large = is_large(cube)
    detect_large = None
    if large and detector == "rx":
        try:
            from .large import detect_large
        except ImportError:
            notes.append("large-scene path not available; scene processed in memory")
    if detect_large is not None:
        maps, sec_large = detect_large(cube_b, enh, methods=wanted, notes=notes)
        sec.update(sec_large)
        h, normalized = cube_b, False
    else:
        t = time.perf_counter()
        h, normalized = normalize_cube(cube_b), True
        sec["prepare"] += time.perf_counter() - t
        # auto: the plain baseline is the detector on every band the user gave, not on the adapted
        # cube, so the adapted-cube baseline is not computed at all
        full_rx = spec.kind == "auto" and "rx" in wanted and cube_b.shape[2] != cube.shape[2]
        maps = _maps_in_memory(h, enh, detector, windows, [m for m in wanted if not (full_rx and m == "rx")], sec)
        if full_rx:
            t = time.perf_counter()
            maps["rx"] = np.asarray(_detector_fn(detector, windows)(normalize_cube(cube)), np.float64)
            sec["rx"] = time.perf_counter() - t
            maps = {m: maps[m] for m in fusion.METHODS if m in maps}

    aucs = auc3d = None
    if gt is not None:
        from .metrics import auc, auc_3d

        aucs = {m: auc(s, gt) for m, s in maps.items()}
        auc3d = {m: auc_3d(s, gt) for m, s in maps.items()}
    return DetectResult(maps=maps, auc=aucs, auc3d=auc3d, seconds=sec, band_adapter=adapter,
                        model_bands=model_bands, cube_used=h, notes=notes, detector=detector,
                        backend=backend, bands=spec.describe(), cube_used_normalized=normalized)


def is_large(cube) -> bool:
    """True for scenes :func:`detect` streams: ``LARGE_PIXELS`` pixels or more, or a ``np.memmap`` whose
    float32 copy would exceed ``LARGE_MEMMAP_BYTES`` (small memmaps are simply read into memory)."""
    h, w, b = cube.shape
    return h * w >= LARGE_PIXELS or (isinstance(cube, np.memmap) and h * w * b * 4 > LARGE_MEMMAP_BYTES)


def _refuse_large(cube, detector: str) -> None:
    """Local RX and the AE are not streamed: on ``LARGE_PIXELS`` pixels or more local RX would take
    tens of minutes (one (B + 2)^2 factorisation per pixel, four maps) and the AE trains full-batch on
    the whole in-memory scene, so refuse with a one-line hint."""
    h, w = cube.shape[:2]
    if detector in ("lrx", "ae") and h * w >= LARGE_PIXELS:
        what = "local RX" if detector == "lrx" else "the AE detector"
        raise FersInputError(f"{what} is not supported on large scenes ({h}x{w} = {h * w} pixels, limit "
                             f"{LARGE_PIXELS - 1}); crop the cube to a region of interest, or use --detector rx")


def _enhancer_or_note(model_bands, backend, need_model, cube, notes):
    """The enhancer for ``model_bands``, or None with the reason appended to ``notes``."""
    if not need_model:
        return None
    if model_bands is None:
        notes.append(f"bands=all: no model for {cube.shape[2]} bands, model-based methods skipped")
        return None
    try:
        return make_enhancer(model_bands, backend)
    except ModelUnavailable as e:
        notes.append(f"{e}; model-based methods skipped")
        return None


def _maps_in_memory(h, enh, detector, windows, wanted, sec) -> dict:
    """Detector maps of ``h (H, W, N)`` and its enhanced versions (eq. 17-23), timing each stage."""
    f_spe = f_spa = None
    if enh is not None:
        t = time.perf_counter()
        f_spe, f_spa = (np.asarray(f, np.float32) for f in enh.enhance(h))
        sec["enhance"] = time.perf_counter() - t
    score = _detector_fn(detector, windows)
    maps: dict = {}

    def run(name, fn):
        t0 = time.perf_counter()
        maps[name] = np.asarray(fn(), dtype=np.float64)
        sec[name] = time.perf_counter() - t0

    if detector == "ae":
        if "ae" in wanted:
            run("ae", lambda: score(h))
        if "ae_enhanced" in wanted and f_spe is not None:
            run("ae_enhanced", lambda: score(h + f_spe + f_spa))
        return maps
    if "rx" in wanted:
        run("rx", lambda: score(h))
    if f_spe is not None:
        if {"spectral", "fusion_mult"} & set(wanted):
            run("spectral", lambda: score(h + f_spe))
        if {"spatial", "fusion_mult"} & set(wanted):
            run("spatial", lambda: score(h + f_spa))
        if "fusion_add" in wanted:
            run("fusion_add", lambda: score(h + f_spe + f_spa))
        if "fusion_mult" in wanted:
            run("fusion_mult", lambda: fusion.fusion_mult(maps["spatial"], maps["spectral"]))
    return {m: maps[m] for m in fusion.METHODS if m in wanted and m in maps}
