"""The band adapter: fit a cube ``(H, W, B)`` to a model's band count N.

:func:`adapt_bands` fits any cube to a model with N bands by one of :data:`ADAPTERS`: the first N
bands when ``B >= N``, else linear interpolation along the band axis (``first``, the paper's); the
whole band range resampled to N samples (``resample``); for ``auto``, the largest shipped N not
above B (``floor``). It reports which rule it used. :func:`prepare_bands` applies a resolved band
spec and the adapter; :func:`planned_bands` says from shapes alone what it will make (memory plan).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from fers.bands.spec import BandSpec, _require_resolved, select_bands
from fers.errors import FersInputError
from fers.memmap import release_pages

SHIPPED_BAND_COUNTS = (50, 100, 200)


def nearest_model_bands(b: int, choices=SHIPPED_BAND_COUNTS) -> int:
    """The shipped model band count closest to ``b`` (ties go to the larger model)."""
    return min(choices, key=lambda n: (abs(n - b), -n))


def resample_bands(cube: np.ndarray, n: int, chunk_bytes: int = 64 * 2**20) -> np.ndarray:
    """Linear interpolation of every spectrum of ``(..., B)`` from B to ``n`` evenly spaced samples over
    the same band range (stretches when ``n > B``, compresses when ``n < B``) -> ``(..., n)`` float32.

    A ``(H, W, B)`` cube is read ``chunk_bytes`` of rows at a time (a memory map or a lazy band view
    is never read whole; the result is the only full-size array)."""
    b = cube.shape[-1]
    if b == n:
        return np.asarray(cube, dtype=np.float32)
    src = np.linspace(0.0, 1.0, b)
    dst = np.linspace(0.0, 1.0, n)
    j = np.clip(np.searchsorted(src, dst, side="right") - 1, 0, b - 2)
    w = ((dst - src[j]) / (src[j + 1] - src[j])).astype(np.float32)
    if len(cube.shape) != 3:
        lo, hi = (np.asarray(cube, dtype=np.float32)[..., k] for k in (j, j + 1))
        return lo + (hi - lo) * w
    h, width = cube.shape[:2]
    out = np.empty((h, width, n), dtype=np.float32)
    step = max(1, chunk_bytes // max(1, width * b * 4))
    for r0 in range(0, h, step):
        blk = np.asarray(cube[r0 : r0 + step], dtype=np.float32)
        lo = np.take(blk, j, axis=-1)  # faster than blk[..., j] (docs/results.md, "Second round")
        d = np.take(blk, j + 1, axis=-1)
        d -= lo
        d *= w
        d += lo  # = lo + (hi - lo) * w, the same arithmetic in place
        out[r0 : r0 + step] = d
        release_pages(cube)
    return out


# Band adapters (how a cube of B bands meets a model of N bands) and, for ``auto``, which shipped N:
#   first   - the first N bands when B >= N, else linear interpolation to N (the paper's "first N bands");
#   resample - the whole band range linearly resampled to N samples (compresses or stretches);
#   floor   - (auto only) the largest shipped N <= B with "first" (no interpolation unless B < 50).
ADAPTERS = ("first", "resample", "floor")
ADAPTER_RULES = {
    "first": "first N bands if B >= N, else linear interpolation along the band axis to N",
    "resample": "the whole band range linearly resampled to N samples (B != N)",
    "floor": "bands auto: the largest model N <= B, its first N bands",
}
# Chosen on held-out validation (training/select_defaults.py; docs/method.md "Defaults"), never on
# benchmark scenes; "first" is the paper's setting, available by name (--adapter first).
DEFAULT_ADAPTER = "resample"
ADAPTER_RULE = ADAPTER_RULES["first"]  # the paper's rule, as stored in checkpoints and ONNX metadata


def adapt_bands(cube: np.ndarray, n: int, adapter: str = "first") -> tuple[np.ndarray, str]:
    """Fit ``(H, W, B)`` to ``n`` bands. Returns ``(cube (H, W, n), adapter description)``."""
    b = cube.shape[-1]
    if b == n:
        return cube, f"identity ({b} bands)"
    if b > n and adapter != "resample":
        return cube[..., :n], f"first {n} of {b} bands"
    return resample_bands(cube, n), f"linear interpolation {b} -> {n} bands"


def auto_model_bands(b: int, adapter: str = DEFAULT_ADAPTER, choices=SHIPPED_BAND_COUNTS) -> int:
    """The shipped band count ``auto`` uses for a B-band cube: the nearest, or with ``floor`` the
    largest one not above B (the smallest when B is below all)."""
    if adapter == "floor":
        below = [n for n in choices if n <= b]
        return max(below) if below else min(choices)
    return nearest_model_bands(b, choices)


def planned_bands(spec: BandSpec, b: int, model_bands: int | None = None,
                  adapter: str = DEFAULT_ADAPTER) -> tuple[int, int, bool]:
    """What :func:`prepare_bands` will make of a B-band cube, from shapes alone (memory estimates, see
    :mod:`fers.budget`): ``(bands selected by the spec, bands after adapting, whether that copies the
    cube)`` -- a band list or an interpolation copies, a range or the first N bands is a view."""
    if spec.keep is not None:  # bad bands dropped first: a view for one run of bands, else a copy
        run = len(spec.keep) == spec.keep[-1] - spec.keep[0] + 1
        sel, n, copies = planned_bands(replace(spec, keep=None), len(spec.keep), model_bands, adapter)
        return sel, n, copies or not run
    if spec.kind == "all":
        return b, b, False
    if spec.kind == "nm":  # unresolved (no wavelengths yet): at most every band
        n = model_bands or auto_model_bands(b, adapter)
        return b, n, True
    if spec.kind == "count":
        sel, n = b, spec.count
    else:
        sel = {"range": lambda: max(0, (b if spec.stop is None else min(spec.stop, b)) - spec.start),
               "list": lambda: len(spec.indices or ())}.get(spec.kind, lambda: b)()
        n = model_bands or auto_model_bands(sel, adapter)
    interpolates = n != sel and (n > sel or adapter == "resample")
    return sel, n, spec.kind == "list" or interpolates


def prepare_bands(cube: np.ndarray, spec: BandSpec, model_bands: int | None = None,
                  adapter: str = DEFAULT_ADAPTER) -> tuple[np.ndarray, int | None, str]:
    """Apply a band spec as the CLI and app do.

    Returns ``(cube, model_bands, adapter)``: ``model_bands`` is None for ``all`` (model methods are
    skipped); for ``N`` the cube is adapted to N; for ``auto`` (all bands) or a range or list the
    selection is adapted to the nearest shipped model size, or to ``model_bands`` when given (a user's
    checkpoint). ``adapter`` is one of :data:`ADAPTERS`. (With ``auto`` the pipeline scores plain RX on
    the unadapted cube; see :func:`fers.pipeline.detect`.)
    """
    if adapter not in ADAPTERS:
        raise FersInputError(f"unknown band adapter {adapter!r}; choose one of {', '.join(ADAPTERS)}")
    _require_resolved(spec)
    if spec.kind == "all":
        return cube, None, f"none (all {cube.shape[-1]} bands)"
    if spec.kind == "count":
        if model_bands is not None and model_bands != spec.count:
            raise FersInputError(f"--bands {spec.count} but the weights are for {model_bands} bands")
        out, how = adapt_bands(cube, spec.count, adapter)
        return out, spec.count, how
    sub = select_bands(cube, spec)
    n = model_bands or auto_model_bands(sub.shape[-1], adapter)
    out, how = adapt_bands(sub, n, adapter)
    if spec.kind == "auto":
        return out, n, f"auto: rx on all {cube.shape[-1]} bands; models on {how}"
    return out, n, f"bands {spec.describe()} then {how}"
