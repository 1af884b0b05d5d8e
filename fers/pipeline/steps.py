"""The steps of a detection after its plan: prepare, enhance, score (in memory or streamed), finish.

Cubes are ``(H, W, B)``; ``F_spe``/``F_spa`` the enhanced features ``(H, W, N)`` of the two FENs
(paper eq. 4-8); maps ``(H, W)`` float64. Each step returns what the next needs; notes
(:class:`fers.notes.Note`) and seconds are collected by the :class:`Clock` the caller passes.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from fers import methods as M
from fers import progress
from fers.bands import prepare_bands, take_chosen
from fers.enhance import ModelUnavailable, make_enhancer
from fers.errors import FersInputError
from fers.nodata import FilledCube, describe, fill_invalid, floor_invalid, release_for, scan_cube
from fers.normalize import normalize_cube
from fers.notes import Note


@dataclass
class Clock:
    """Seconds per stage (``sec``) and the notes of one detection."""

    sec: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)

    @contextmanager
    def __call__(self, name: str):
        t = time.perf_counter()
        try:
            yield
        finally:
            self.sec[name] = self.sec.get(name, 0.0) + time.perf_counter() - t


@dataclass
class Prepared:
    """The cube made ready: ``cube`` the bands used (``(H, W, B')``), ``src`` the cube the networks and
    the detector start from (masked pixels filled; on the streamed path the valid area's bounding box),
    ``cube_b`` ``src`` adapted to ``model_bands``; ``valid (H, W)`` bool or None when every pixel has
    data; ``box`` the valid pixels' bounding box; ``mean (B',)`` the valid pixels' mean spectrum;
    ``spec`` the band spec as it applies to ``cube``."""

    cube: object
    spec: object
    src: object
    cube_b: object
    model_bands: int | None
    adapted: str
    valid: np.ndarray | None
    box: tuple
    mean: np.ndarray
    wavelengths_used: np.ndarray | None
    n_invalid: int


def prepare(cube, plan, wavelengths, clock: Clock) -> Prepared:
    """Take the planned bands, find the no-data pixels, fill them for the networks, adapt the bands."""
    with clock("prepare"):
        cube, spec, wl_used = take_chosen(cube, plan.spec, wavelengths, lazy=plan.streamed)
        nodata = plan.options.nodata
        scan = scan_cube(cube, nodata, release=release_for(cube))
        if scan.n_valid == 0:
            raise FersInputError(f"every pixel is no-data ({describe(nodata)}); there is nothing to detect")
        if scan.constant:
            what = "every pixel" if scan.n_invalid == 0 else "every pixel with data"
            raise FersInputError(f"{what} has the same spectrum (a constant cube, e.g. all zeros); "
                                 "there is nothing to detect")
        valid = scan.valid if scan.n_invalid else None
        box = scan.box() if valid is not None else (slice(0, cube.shape[0]), slice(0, cube.shape[1]))
        if valid is not None:
            clock.notes.append(Note(
                "nodata.masked", f"{scan.n_invalid} of {scan.valid.size} pixels are no-data ({describe(nodata)}): "
                "left out of normalisation, RX statistics and AUCs, filled with the valid mean for the networks, "
                "NaN in the maps", {"pixels": int(scan.n_invalid), "of": int(scan.valid.size)}))
        # in memory: a float32 copy with masked pixels filled; streamed: the valid area's bounding box (a view)
        src = cube[box] if plan.streamed else (fill_invalid(cube, valid, scan.mean) if valid is not None else cube)
        cube_b, model_bands, adapted = prepare_bands(src, spec, model_bands=plan.fixed, adapter=plan.options.adapter)
    return Prepared(cube, spec, src, cube_b, model_bands, adapted, valid, box, scan.mean, wl_used, scan.n_invalid)


def load_enhancer(prep: Prepared, plan, clock: Clock):
    """The enhancer for the prepared cube, or None (with a note saying why) when no model runs."""
    from fers.enhance.inputs import MIN_SIZE

    if not plan.need_model:
        return None
    if prep.model_bands is None:
        clock.notes.append(Note("model.no_bands", f"bands=all: no model for {prep.cube.shape[2]} bands, "
                                "model-based methods skipped", {"bands": int(prep.cube.shape[2])}))
        return None
    rows, cols = prep.box[0].stop - prep.box[0].start, prep.box[1].stop - prep.box[1].start
    if min(rows, cols) < MIN_SIZE:
        clock.notes.append(Note(
            "model.too_small", f"{plan.options.name or 'the cube'} is {rows}x{cols} pixels"
            f"{' with data' if prep.valid is not None else ''}; the networks need at least {MIN_SIZE}x{MIN_SIZE}: "
            "model-based methods skipped, plain detector only", {"rows": rows, "cols": cols, "min": MIN_SIZE}))
        return None
    try:
        with clock("model"):  # loading the networks (once per process; a cache hit after)
            return make_enhancer(prep.model_bands, plan.backend, weights=plan.options.weights)
    except ModelUnavailable as e:
        clock.notes.append(Note("model.unavailable", f"{e}; model-based methods skipped"))
        return None


def enhance(enh, h, box, clock: Clock):
    """``(F_spe, F_spa)`` of normalised ``h (H, W, N)`` (eq. 4-8): the networks see only ``box`` (the
    valid pixels' bounding box, so a no-data border does not reach them); zero features outside it."""
    with clock("enhance"):
        if h[box].shape == h.shape:
            out = enh.enhance(h)
        else:
            out = tuple(_pad(f, h.shape[:2], box) for f in enh.enhance(np.ascontiguousarray(h[box])))
    if out[1] is None:
        clock.notes.append(Note("model.no_spa", "the model has no Spa-FEN (a Spe-FEN-only checkpoint): spatial "
                                "and fused methods skipped"))
    return out


def _pad(f, shape, box):
    if f is None:
        return None
    full = np.zeros(tuple(shape) + f.shape[2:], dtype=f.dtype)
    full[box] = f
    return full


def scorer(plan, valid):
    """The detector ``cube -> (H, W)`` with the plan's options; with a mask, its statistics over valid
    pixels only and masked scores floored to the lowest valid score (NaN after the fusions)."""
    name, base = plan.detector.name, plan.detector.scorer(valid, **plan.options.detector_params())

    def score(c):
        try:
            out = base(c)
        except ImportError as e:  # a detector whose library is not installed (the AE needs PyTorch)
            raise FersInputError(f"detector {name} not available ({e})") from None
        return out if valid is None else floor_invalid(out, valid)

    return score


def score_in_memory(prep: Prepared, plan, enh, clock: Clock):
    """``(maps, h, f_spe, f_spa)``: every wanted map of the in-memory path (eq. 17-23)."""
    stages = progress.bar(desc="detect", unit="stage")
    stages.update()
    with clock("prepare"):
        h = normalize_cube(prep.cube_b)
    f_spe = f_spa = None
    if enh is not None:
        stages.set_postfix_str("enhance")
        f_spe, f_spa = enhance(enh, h, prep.box, clock)
    stages.update()
    score = scorer(plan, prep.valid)

    def timed(name, fn):
        stages.set_postfix_str(name)
        with clock(name):
            out = fn()
        stages.update()
        return out

    cubes = M.scored_cubes(plan.wanted, M.available_terms(f_spe, f_spa))
    maps = {}
    # auto: the plain baseline is the detector on every band the user gave, not on the adapted cube
    if plan.spec.kind == "auto" and prep.cube_b.shape[2] != prep.cube.shape[2]:
        with clock("prepare"):
            h_full = normalize_cube(prep.src)
        maps = M.score_cubes(h_full, {}, {n: t for n, t in cubes.items() if not t}, score, timed)
        del h_full
    rest = {n: t for n, t in cubes.items() if n not in maps}
    maps = M.combine({**maps, **M.score_cubes(h, {"spe": f_spe, "spa": f_spa}, rest, score, timed)}, plan.wanted,
                     timed, prep.valid)
    stages.close()
    return maps, h, f_spe, f_spa


def score_streamed(prep: Prepared, plan, enh, clock: Clock) -> dict:
    """Every wanted map of the streamed path (:func:`fers.large.detect_large`, global RX)."""
    from fers.large import detect_large
    from fers.pipeline.plan import is_large

    if not is_large(prep.cube):
        clock.notes.append(Note("large.streamed", "streamed (fers.large) to stay within the memory budget"))
    core, sub_valid = prep.cube_b, (prep.valid[prep.box] if prep.valid is not None else None)
    if sub_valid is not None and not sub_valid.all():
        fill_b = prepare_bands(prep.mean[None, None].astype(np.float32), prep.spec, plan.fixed,
                               plan.options.adapter)[0][0, 0]
        core = FilledCube(prep.cube_b, sub_valid, fill_b, release=release_for(prep.cube_b))
    else:
        sub_valid = None
    maps, sec = detect_large(core, enh, methods=list(plan.wanted), notes=clock.notes, valid=sub_valid,
                             progress=progress.is_shown())
    clock.sec.update(sec)
    return maps


def masked_maps(maps: dict, prep: Prepared, clock: Clock) -> dict:
    """Full-size ``(H, W)`` maps (the streamed path scores the ``box`` crop), NaN at every masked pixel."""
    if prep.valid is None:
        return maps
    with clock("prepare"):
        out = {}
        for m, s in maps.items():
            full = np.full(prep.valid.shape, np.nan)
            if s.shape == prep.valid.shape:
                full[...] = s
            else:
                full[prep.box] = s
            full[~prep.valid] = np.nan
            out[m] = full
    return out
