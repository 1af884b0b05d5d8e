"""Band centre wavelengths in nanometres, whatever unit a file states.

Every reader hands its wavelengths (and FWHMs) through :func:`to_nm`, so a :class:`fers.io.Scene`
always carries nm. Band selection by wavelength and the water-vapour windows live in
:mod:`fers.bands` (the one band-spec grammar).
"""

from __future__ import annotations

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
