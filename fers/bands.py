"""Band subsets and the band adapter that fits a cube to a model's band count.

Cubes here are ``(H, W, B)``, bands last.

The band-spec grammar (``--bands``, the app's band box, ``fers.detect(bands=...)``; the same table is
in docs/formats.md, "Band spec"). Case and surrounding spaces are ignored; band numbers are 0-based::

    auto          the default: plain RX on all B bands, the models on the cube adapted to the
                  nearest shipped model size (50/100/200)
    all           every band as stored; model-based methods skipped
    N             an integer >= 2: adapt the cube to N bands (every method runs on it)
    START:STOP    the bands START .. STOP-1; either end may be left out (":50" = "0:50",
                  "5:" = band 5 to the last, ":" = every band as a range); START < STOP
    i,j,k         two or more distinct band indices, in the order given (no empty items)
    LO-HInm       bands whose centre wavelength is within LO..HI (inclusive); several ranges are
                  joined with commas ("400-1340nm,1450-1800nm"); "um"/"µm" ranges are converted
                  ("0.4-1.0um"); a range without a unit takes the next one given. Needs a scene
                  with wavelengths.

A range or list is then adapted to the nearest shipped model size. Anything else (negative numbers,
a step ``a:b:c``, a repeated index such as ``1,1,1``) is refused with one line naming the rule.

Bad bands: when a scene's file marks bands bad (ENVI ``bbl``, EMIT ``good_wavelengths``) or
carries wavelengths, every spec first drops the bad bands and the water-vapour windows
:data:`fers.band_select.WATER_WINDOWS_NM` (``--keep-bad-bands`` keeps them); see
:func:`fers.band_select.resolve_bands`, which turns a spec and a scene's band metadata into the
band indices used.

* :func:`parse_band_spec` parses it into a :class:`BandSpec`; :func:`select_bands` applies a range
  or list (a range reaching past the last band stops there; a list index past it is refused).
* :func:`adapt_bands` fits any cube to a model with N bands: the first N bands when ``B >= N``,
  linear interpolation along the band axis when ``B < N``. It reports which rule it used.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from fers.errors import FersInputError
from fers.memmap import release_pages

SHIPPED_BAND_COUNTS = (50, 100, 200)
ADAPTER_RULE = "first N bands if B >= N, else linear interpolation along the band axis to N"


@dataclass(frozen=True)
class BandSpec:
    """A parsed ``--bands`` value.

    kind: ``auto`` | ``all`` | ``count`` | ``range`` | ``list`` | ``nm``; a range's ``stop`` is
    None when open-ended (to the last band); ``nm``: ``ranges`` of ``(lo, hi)`` wavelengths in nm.
    ``keep``: band indices a scene's bad-band metadata leaves (set by
    :func:`fers.band_select.resolve_bands`; the spec then applies to ``cube[..., keep]``).
    ``label``: the text to report instead of :meth:`describe` (e.g. the wavelength ranges a
    resolved band list came from).
    """

    kind: str
    count: int | None = None
    start: int | None = None
    stop: int | None = None
    indices: tuple[int, ...] | None = None
    ranges: tuple[tuple[float, float], ...] | None = None
    keep: tuple[int, ...] | None = None
    label: str | None = None

    def describe(self) -> str:
        if self.label:
            return self.label
        if self.kind in ("all", "auto"):
            return self.kind
        if self.kind == "nm":
            return ",".join(f"{lo:g}-{hi:g}nm" for lo, hi in self.ranges or ())
        if self.kind == "count":
            return str(self.count)
        if self.kind == "range":
            return f"{self.start}:{'' if self.stop is None else self.stop}"
        return ",".join(str(i) for i in self.indices or ())


BAND_SPEC_RULE = ("use 'auto', 'all', a count N >= 2, a range 'START:STOP' (0-based, either end may be left out), "
                  "a list 'i,j,k' of distinct band indices, or wavelength ranges such as '400-1000nm' or "
                  "'400-1340nm,1450-1800nm'")
WAVELENGTH_UNITS = {"nm": 1.0, "um": 1e3, "µm": 1e3, "μm": 1e3}


def parse_band_spec(spec: str | int | None) -> BandSpec:
    """Parse ``auto`` / ``all`` / ``N`` / ``START:STOP`` / ``i,j,k`` (module docstring) into a :class:`BandSpec`."""
    if spec is None:
        return BandSpec("auto")
    if isinstance(spec, (int, np.integer)):
        spec = str(int(spec))
    s = str(spec).strip().lower()
    try:
        if s in ("", "auto"):
            return BandSpec("auto")
        if s == "all":
            return BandSpec("all")
        if any(s.endswith(u) or f"{u}," in s for u in WAVELENGTH_UNITS):
            return BandSpec("nm", ranges=_wavelength_ranges(s))
        if ":" in s:
            a, b = (t.strip() for t in s.split(":", 1))
            start = _index(a) if a else 0
            stop = _index(b) if b else None
            if stop is not None and stop <= start:
                raise _Bad("STOP must be greater than START")
            return BandSpec("range", start=start, stop=stop)
        if "," in s:
            idx = tuple(_index(t.strip()) for t in s.split(","))
            dup = sorted({i for i in idx if idx.count(i) > 1})
            if dup:
                raise _Bad(f"band {', '.join(map(str, dup))} listed more than once")
            return BandSpec("list", indices=idx)
        if "-" in s.lstrip("-"):
            raise _Bad("a wavelength range needs a unit, e.g. 400-1000nm")
        n = int(s)
        if n < 2:
            raise _Bad("a count must be at least 2")
        return BandSpec("count", count=n)
    except _Bad as e:
        raise FersInputError(f"bad band spec {spec!r}: {e}; {BAND_SPEC_RULE}") from None
    except ValueError:
        raise FersInputError(f"bad band spec {spec!r}; {BAND_SPEC_RULE}") from None


class _Bad(ValueError):
    """A band spec broken in a way worth naming (the message says how)."""


def _wavelength_ranges(s: str) -> tuple[tuple[float, float], ...]:
    """``"400-1340nm,1450-1800nm"`` -> ``((400, 1340), (1450, 1800))`` in nm; an item without a unit
    takes the next unit given ("400-1340,1450-1800nm")."""
    items, pending = [], []
    for raw in s.split(","):
        t = raw.strip().replace(" ", "")
        if not t:
            raise _Bad("empty item")
        unit = next((u for u in WAVELENGTH_UNITS if t.endswith(u)), None)
        body = t[: -len(unit)] if unit else t
        lo, sep, hi = body.partition("-")
        if not sep or not lo or not hi:
            raise _Bad(f"wavelength range {raw.strip()!r} is not LO-HI with a unit, e.g. 400-1000nm")
        pending.append((float(lo), float(hi), raw.strip()))
        if unit:
            items += [(a * WAVELENGTH_UNITS[unit], b * WAVELENGTH_UNITS[unit], r) for a, b, r in pending]
            pending = []
    if pending:
        raise _Bad("the last wavelength range has no unit (nm or um)")
    for lo, hi, raw in items:
        if not (0 < lo < hi) or not np.isfinite(hi):
            raise _Bad(f"wavelength range {raw!r} must have 0 < LO < HI")
    return tuple((lo, hi) for lo, hi, _ in items)


def _index(text: str) -> int:
    """A 0-based band number (digits only: no sign, no step)."""
    if not text:
        raise _Bad("empty item")
    if text.startswith("-"):
        raise _Bad("negative band number")
    if not text.isdigit():
        raise ValueError(text)
    return int(text)


def _require_resolved(spec: BandSpec) -> None:
    """Refuse a wavelength spec or a bad-band ``keep`` that :func:`fers.band_select.resolve_bands` has
    not turned into band indices (a bare array carries no wavelengths)."""
    if spec.kind == "nm" or spec.keep is not None:
        raise FersInputError(f"band spec {spec.describe()} needs the scene's wavelengths or bad-band list "
                             "(fers.band_select.resolve_bands); this cube has none")


def select_bands(cube: np.ndarray, spec: BandSpec) -> np.ndarray:
    """Take a range or list of bands from ``(H, W, B)`` (``all``/``count`` return the cube unchanged)."""
    b = cube.shape[-1]
    _require_resolved(spec)
    if spec.kind == "range":
        if spec.start >= b:
            raise FersInputError(f"band range {spec.describe()} starts beyond the cube's {b} bands")
        out = cube[..., spec.start : b if spec.stop is None else min(spec.stop, b)]
    elif spec.kind == "list":
        if max(spec.indices) >= b:
            raise FersInputError(f"band index {max(spec.indices)} out of range for a cube with {b} bands")
        out = cube[..., list(spec.indices)]
    else:
        return cube
    if out.shape[-1] < 2:
        raise FersInputError(f"band selection {spec.describe()} leaves {out.shape[-1]} band(s); need at least 2")
    return out


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
