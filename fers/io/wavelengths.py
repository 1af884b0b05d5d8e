"""Band centre wavelengths in nanometres, whatever unit a file states.

Every reader hands its wavelengths (and FWHMs) through :func:`to_nm`, so a :class:`fers.io.Scene`
always carries nm. Band selection by wavelength and the water-vapour windows live in
:mod:`fers.bands` (the one band-spec grammar).
"""

from __future__ import annotations

import re

import numpy as np

from fers.errors import FersInputError

# unit names as products write them (ENVI "wavelength units", GDAL metadata, NetCDF "units"),
# lower-cased -> factor to nanometres
UNIT_FACTORS = {
    "nm": 1.0, "nanometer": 1.0, "nanometers": 1.0, "nanometre": 1.0, "nanometres": 1.0,
    "um": 1e3, "µm": 1e3, "μm": 1e3, "micrometer": 1e3, "micrometers": 1e3, "micrometre": 1e3,
    "micrometres": 1e3, "micron": 1e3, "microns": 1e3, "mu": 1e3,
    "mm": 1e6, "millimeter": 1e6, "millimeters": 1e6,
}
# without a stated unit, values all below this are taken as micrometres (no imaging spectrometer
# has bands below 30 nm; none beyond 30 µm)
MICROMETRE_GUESS_BELOW = 30.0


def to_nm(values, units=None, path=None, what: str = "wavelengths") -> np.ndarray:
    """``values (B,)`` in ``units`` -> float64 nanometres. ``units`` None/"unknown": micrometres when
    every value is below :data:`MICROMETRE_GUESS_BELOW`, else nanometres. Wavenumbers and other
    units are refused in one line; so are non-finite or non-positive values."""
    v = np.asarray(values, dtype=np.float64).ravel()
    u = str(units or "").strip().lower()
    if u in ("", "unknown", "none", "index"):
        factor = 1e3 if v.size and np.nanmax(v) < MICROMETRE_GUESS_BELOW else 1.0
    elif u in UNIT_FACTORS:
        factor = UNIT_FACTORS[u]
    else:
        raise FersInputError(f"{what} are in {units!r}; supported units: nm, µm (micrometers), mm", path)
    if not np.all(np.isfinite(v)) or (v.size and v.min() <= 0):
        raise FersInputError(f"{what} must be positive numbers", path)
    return v * factor


def per_band_numbers(values, n: int, what: str, notes: list):
    """``values`` (a list of header strings) as ``(n,)`` float64, or None with a note saying why."""
    if values is None:
        return None
    items = values if isinstance(values, (list, tuple)) else str(values).strip().strip("{}").split(",")
    try:
        arr = np.array([float(str(v).strip()) for v in items if str(v).strip()], dtype=np.float64)
    except ValueError:
        notes.append(f"{what}: not a list of numbers; left out")
        return None
    if arr.size != n:
        notes.append(f"{what}: {arr.size} values for {n} bands; left out")
        return None
    return arr


def spectral_meta(wl, units, fwhm, bbl, notes: list) -> dict:
    """``wavelengths``/``fwhm`` in nm and ``bad_bands`` (``bbl == 0``) from per-band values ``(B,)``.

    ``units``: one unit for all bands, or a per-band list. FWHMs are in the wavelengths' unit.
    Values :func:`fers.io.wavelengths.to_nm` refuses are left out, with a note."""
    out: dict = {}
    if wl is not None:
        try:
            if isinstance(units, (list, tuple)):
                nm = np.concatenate([to_nm([v], u) for v, u in zip(wl, units)])
            else:
                nm = to_nm(wl, units)
        except FersInputError as e:
            notes.append(f"wavelengths left out: {e}")
            nm = None
        if nm is not None:
            out["wavelengths"] = nm
            if fwhm is not None:
                if np.all(np.isfinite(fwhm)) and np.all(fwhm > 0):
                    out["fwhm"] = fwhm * (nm / wl)  # the wavelengths' unit -> nm, band by band
                else:
                    notes.append("fwhm: not all positive numbers; left out")
    if bbl is not None:
        out["bad_bands"] = bbl == 0
    return out


def with_notes(meta: dict, notes: list) -> dict:
    if notes:
        meta["metadata_notes"] = list(meta.get("metadata_notes", [])) + notes
    return meta


# "Band 1 (450.5 nm)", "0.45 Micrometers", "wl=450.5nm": the number right before a wavelength unit
_TEXT_WAVELENGTH = re.compile(
    r"(\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)\s*(nm|nanomet(?:er|re)s?|um|µm|μm|micromet(?:er|re)s?|microns?)(?![a-z])",
    re.IGNORECASE)


def wavelength_in_text(text) -> tuple[float, str] | None:
    """``(value, unit)`` of the last wavelength written in a band name or description (AVIRIS-NG
    ``"... (376.86 nm)"``, GDAL ``"Band 1 (450.5 nm)"``), or None."""
    found = _TEXT_WAVELENGTH.findall(str(text or ""))
    return (float(found[-1][0]), found[-1][1]) if found else None
