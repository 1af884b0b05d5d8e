"""Which of a scene's bands a band spec uses, given the scene's wavelengths and bad-band flags.

The grammar itself is in :mod:`fers.bands.spec`; this module resolves a parsed spec against a scene:

* bad bands are dropped first: those the file marks bad (``bad_bands (B,)`` True: ENVI ``bbl`` 0,
  EMIT ``good_wavelengths`` 0) and, when wavelengths are known, those inside the water-vapour
  windows :data:`WATER_WINDOWS_NM` (atmospheric absorption leaves them near zero and noisy in
  reflectance products). ``keep_bad=True`` keeps every band;
* a wavelength spec (``400-1000nm``) becomes the list of remaining bands whose centre lies inside
  one of its ranges;
* an index range or list keeps its order and loses only the bad bands it contains.

`resolve_bands` returns a spec that :func:`fers.bands.adapt.prepare_bands` applies to
``cube[..., spec.keep]`` (``keep`` set) or to the cube (a band list, or nothing dropped), and one
:class:`fers.notes.Note` per change for the user.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from fers.bands.spec import BandSpec
from fers.errors import FersInputError
from fers.notes import Note

# The strong water-vapour absorption bands of reflectance spectra (nm), dropped when a scene has
# wavelengths. Their limits follow the common practice of AVIRIS-NG/EMIT bad-band lists.
WATER_WINDOWS_NM = ((1340.0, 1450.0), (1790.0, 1960.0))


def _inside(wl: np.ndarray, ranges) -> np.ndarray:
    """``(B,)`` bool: centres ``wl (B,)`` inside any ``(lo, hi)`` of ``ranges`` (inclusive)."""
    return np.any([(wl >= lo) & (wl <= hi) for lo, hi in ranges], axis=0)


def water_bands(wavelengths) -> np.ndarray:
    """``(B,)`` bool: centres inside :data:`WATER_WINDOWS_NM`."""
    return _inside(np.asarray(wavelengths, dtype=np.float64), WATER_WINDOWS_NM)


def band_masks(n_bands: int, wavelengths=None, bad_bands=None, keep_bad: bool = False, empty_bands=None):
    """``(bad, water, drop)``, each ``(B,)`` bool: the bands the file marks bad (and those entirely
    no-data, ``empty_bands``), the others inside the water-vapour windows (wavelengths known), and
    those dropped (both; with ``keep_bad`` only the entirely no-data ones, which hold no value to
    keep). ``wavelengths``/``bad_bands``/``empty_bands`` of another length than ``n_bands`` are
    refused in one line."""
    wl = _checked(wavelengths, n_bands, "wavelengths")
    bad = _checked(bad_bands, n_bands, "bad-band list")
    empty = _checked(empty_bands, n_bands, "no-data band list")
    empty = np.zeros(n_bands, bool) if empty is None else empty.astype(bool)
    bad = (np.zeros(n_bands, bool) if bad is None else bad.astype(bool)) | empty
    water = water_bands(wl) & ~bad if wl is not None else np.zeros(n_bands, bool)
    return bad, water, empty.copy() if keep_bad else (bad | water)


def resolve_bands(spec: BandSpec, n_bands: int, wavelengths=None, bad_bands=None,
                  keep_bad: bool = False, empty_bands=None) -> tuple[BandSpec, list[Note]]:
    """``(spec, notes)``: ``spec`` resolved against a B-band scene's ``wavelengths (B,)`` in nm,
    ``bad_bands (B,)`` bool and ``empty_bands (B,)`` bool (bands entirely no-data,
    :func:`fers.nodata.empty_bands`; always dropped); any may be None. See the module docstring."""
    bad_all, water, drop = band_masks(n_bands, wavelengths, bad_bands, keep_bad, empty_bands)
    empty = np.zeros(n_bands, bool) if empty_bands is None else np.asarray(empty_bands, bool).ravel()
    bad_file = bad_all & ~empty
    wl = None if wavelengths is None else np.asarray(wavelengths, dtype=np.float64).ravel()
    notes = []
    if empty.any():
        notes.append(Note("bands.empty", f"{int(empty.sum())} band(s) hold only no-data (band {_numbers(empty)}): "
                          "bad bands, always dropped", {"bands": int(empty.sum())}))
    if (drop & ~empty).any():
        parts = [f"{int(bad_file.sum())} marked bad in the file"] if bad_file.any() and not keep_bad else []
        if water.any():
            windows = ", ".join(f"{lo:g}-{hi:g}" for lo, hi in WATER_WINDOWS_NM)
            parts.append(f"{int(water.sum())} in the water-vapour windows {windows} nm")
        notes.append(Note("bands.dropped", f"dropped {int((drop & ~empty).sum())} of {n_bands} bands "
                          f"({'; '.join(parts)})", {"dropped": int((drop & ~empty).sum()), "of": n_bands}))
    if drop.all():
        if empty.all():
            raise FersInputError(f"every one of the {n_bands} bands holds only no-data; there is nothing to detect")
        raise FersInputError(f"every one of the {n_bands} bands is bad, entirely no-data or in a water-vapour "
                             "window; use --keep-bad-bands to use the bad ones anyway")
    if spec.kind == "nm":
        if wl is None:
            raise FersInputError(f"band spec {spec.describe()} selects by wavelength, but the file records no "
                                 "wavelengths; use band numbers (START:STOP) instead")
        idx = np.flatnonzero(_inside(wl, spec.ranges) & ~drop)
        if idx.size < 2:
            raise FersInputError(f"band spec {spec.describe()} selects {idx.size} usable band(s) (the file's "
                                 f"wavelengths span {wl.min():g}-{wl.max():g} nm); at least 2 are needed")
        notes.append(Note("bands.selected", f"bands {spec.describe()}: {idx.size} bands, "
                          f"{wl[idx].min():g}-{wl[idx].max():g} nm",
                          {"count": int(idx.size), "min_nm": float(wl[idx].min()), "max_nm": float(wl[idx].max())}))
        return BandSpec("list", indices=tuple(int(i) for i in idx), label=spec.describe()), notes
    if not drop.any():
        return spec, notes
    if spec.kind in ("range", "list"):
        chosen = (range(spec.start, n_bands if spec.stop is None else min(spec.stop, n_bands))
                  if spec.kind == "range" else spec.indices)
        chosen = [int(i) for i in chosen if i < n_bands]
        idx = tuple(i for i in chosen if not drop[i])
        if len(idx) == len(chosen):
            return spec, []  # nothing bad among the bands asked for
        notes = [Note("bands.dropped", f"bands {spec.describe()}: dropped {len(chosen) - len(idx)} bad or "
                      "water-vapour band(s) among them", {"dropped": len(chosen) - len(idx), "of": len(chosen)})]
        if len(idx) < 2:
            raise FersInputError(f"band spec {spec.describe()} leaves {len(idx)} band(s) once bad bands are "
                                 "dropped; at least 2 are needed (or use --keep-bad-bands)")
        return BandSpec("list", indices=idx, label=spec.describe()), notes
    return replace(spec, keep=tuple(int(i) for i in np.flatnonzero(~drop))), notes


def _numbers(mask, limit: int = 12) -> str:
    """1-based band numbers of ``mask (B,)`` True, e.g. ``"3, 4, 9"`` (the first ``limit``)."""
    idx = np.flatnonzero(mask) + 1
    text = ", ".join(str(int(i)) for i in idx[:limit])
    return text + (", ..." if idx.size > limit else "")


def _checked(arr, n_bands: int, what: str):
    if arr is None:
        return None
    a = np.asarray(arr).ravel()
    if a.size != n_bands:
        raise FersInputError(f"the scene's {what} has {a.size} entries for {n_bands} bands")
    return a


def take_bands(cube, keep, lazy: bool = False):
    """``cube (H, W, B)`` -> ``(H, W, len(keep))``: a view when ``keep`` is one run of bands (a
    memory map stays one); else, with ``lazy``, a :class:`BandView` that reads ``cube`` block by
    block (for memory maps the pipeline streams), else a copy."""
    keep = tuple(keep)
    if len(keep) == keep[-1] - keep[0] + 1:
        return cube[..., keep[0] : keep[-1] + 1]
    if lazy:
        return BandView(cube, keep)
    return np.asarray(cube[..., list(keep)])


class BandView:
    """``base[..., keep]`` of a ``(H, W, B)`` array (e.g. a ``np.memmap``) without copying it.

    Row/column slices give another view; ``view[..., k]`` (a band slice or index list, as the band
    adapters take) and ``np.asarray(view)`` read the data. For the streamed large-scene path, which
    reads ``cube[r0:r1]`` blocks (:mod:`fers.large`): nothing the size of the cube is allocated.
    ``_mmap``/``mode`` are the base's, so :func:`fers.memmap.release_pages` drops its pages."""

    def __init__(self, base, keep):
        self.base, self.keep = base, np.asarray(keep, dtype=np.intp)
        self.shape = tuple(base.shape[:2]) + (len(self.keep),)
        self.ndim, self.dtype = 3, base.dtype
        self._mmap, self.mode = getattr(base, "_mmap", None), getattr(base, "mode", None)

    def __getitem__(self, key):
        key = key if isinstance(key, tuple) else (key,)
        if len(key) == 2 and key[0] is Ellipsis:
            sel = self.keep[key[1]]
            if isinstance(key[1], slice):
                return BandView(self.base, sel)
            return np.asarray(self.base[..., sel])
        if len(key) > 2 or not all(isinstance(k, slice) for k in key):
            raise IndexError("BandView takes row and column slices, or [..., bands]")
        return BandView(self.base[key], self.keep)

    def __array__(self, dtype=None, copy=None):
        out = np.asarray(self.base[..., self.keep])
        return out if dtype is None else out.astype(dtype, copy=False)
