"""The band-spec grammar: which bands of a cube ``(H, W, B)`` (bands last) a request uses.

Used by ``--bands``, the app's band box and ``fers.detect(bands=...)``; the same table is in
docs/formats.md, "Band spec". Case and surrounding spaces are ignored; band numbers are 0-based::

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

A range or list is then adapted to the nearest shipped model size (:mod:`fers.bands.adapt`).
Anything else (negative numbers, a step ``a:b:c``, a repeated index such as ``1,1,1``) is refused
with one line naming the rule. :func:`parse_band_spec` parses a spec into a :class:`BandSpec`;
:func:`select_bands` applies a range or list (a range reaching past the last band stops there; a
list index past it is refused).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fers.errors import FersInputError


@dataclass(frozen=True)
class BandSpec:
    """A parsed ``--bands`` value.

    kind: ``auto`` | ``all`` | ``count`` | ``range`` | ``list`` | ``nm``; a range's ``stop`` is
    None when open-ended (to the last band); ``nm``: ``ranges`` of ``(lo, hi)`` wavelengths in nm.
    ``keep``: band indices a scene's bad-band metadata leaves (set by
    :func:`fers.bands.select.resolve_bands`; the spec then applies to ``cube[..., keep]``).
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
    """Refuse a wavelength spec or a bad-band ``keep`` that :func:`fers.bands.select.resolve_bands` has
    not turned into band indices (a bare array carries no wavelengths)."""
    if spec.kind == "nm" or spec.keep is not None:
        raise FersInputError(f"band spec {spec.describe()} needs the scene's wavelengths or bad-band list "
                             "(fers.bands.select.resolve_bands); this cube has none")


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
