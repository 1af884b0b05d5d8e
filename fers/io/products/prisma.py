"""PRISMA L2 reflectance (``PRS_L2D_STD_..._0001.he5``, HDF-EOS5) read with h5py.

Layout (PRISMA Products Specification; conventions as in prismaread and the EnMAP-Box importer):

* ``HDFEOS/SWATHS/PRS_L2D_HCO/Data Fields/VNIR_Cube`` and ``SWIR_Cube``: ``(rows, bands, cols)``
  uint16 DN, rows north to south, columns west to east (L2B/L2C: ``PRS_L2B_HCO`` / ``PRS_L2C_HCO``,
  same layout, in swath geometry);
* root attributes ``List_Cw_Vnir`` / ``List_Cw_Swir`` (band centres, nm; VNIR stored in descending
  order, 0 for an unused slot), ``List_Fwhm_*``, ``List_Cw_*_Flags`` (1 = band in use),
  ``L2ScaleVnirMin/Max``, ``L2ScaleSwirMin/Max``: reflectance = min + DN x (max - min) / 65535;
* L2D only: ``Epsg_Code`` (UTM) and ``Product_ULcorner_easting`` / ``_northing``, the centre of the
  upper-left 30 m pixel (so the grid's corner is half a pixel further west and north).

The cube is VNIR and SWIR together, bands sorted by wavelength (zero-wavelength slots dropped; the
detectors' overlap near 950 nm keeps both sets), float32 reflectance; pixels whose DN is 0 in every
band are no-data (NaN).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fers.errors import FersInputError
from fers.io.formats import why
from fers.io.georef import Georef
from fers.io.header import Header
from fers.io.registry import Reader
from fers.io.wavelengths import to_nm

LEVELS = ("L2D", "L2C", "L2B")
FIELDS = "HDFEOS/SWATHS/PRS_{level}_HCO/Data Fields"
PARTS = (("VNIR", "Vnir"), ("SWIR", "Swir"))  # cube name, attribute infix
PIXEL_M = 30.0
DN_MAX = 65535.0
SCALING = "reflectance = L2Scale<part>Min + DN x (L2Scale<part>Max - L2Scale<part>Min) / 65535"
NO_DATA_RULE = "pixels with DN 0 in every band are no-data (NaN)"


def find_swath(f) -> tuple[str, object] | None:
    """``(level, "Data Fields" group)`` of the first PRISMA L2 HCO swath in an open h5py file."""
    for level in LEVELS:
        group = f.get(FIELDS.format(level=level))
        if group is not None and any(f"{p}_Cube" in group for p, _ in PARTS):
            return level, group
    return None


def _attr(f, key, path, required=True):
    """A root attribute as a float64 array (None when absent and not ``required``)."""
    if key not in f.attrs:
        if required:
            raise FersInputError(f"PRISMA file has no root attribute '{key}'", path)
        return None
    try:
        return np.asarray(f.attrs[key], dtype=np.float64).ravel()
    except (TypeError, ValueError):
        raise FersInputError(f"PRISMA root attribute '{key}' is not numeric", path) from None


def read(path, max_bytes=None, mmap: bool = False) -> tuple[np.ndarray, dict]:
    """PRISMA L2 ``.he5`` -> ``(cube (rows, cols, B) float32 reflectance, meta)``.

    ``meta``: ``wavelengths`` and ``fwhm`` (nm, ascending), ``bad_bands`` (``List_Cw_*_Flags`` 0),
    ``georef`` (L2D: ``Epsg_Code`` + upper-left pixel centre, 30 m), ``product``, ``scaling``,
    ``no_data``. Corrupt, truncated or non-PRISMA files are refused in one line; ``max_bytes`` is
    checked against the cube shapes before any data are read. ``mmap`` is accepted for the reader
    interface and not used: a PRISMA scene (about 1000 x 1000 x 230) is decoded in memory."""
    import h5py

    path = Path(path)
    try:
        f = h5py.File(path, "r")
    except Exception as e:
        raise FersInputError(f"cannot read HDF5 (corrupt, truncated or not HDF-EOS5): {why(e)}", path) from None
    try:
        with f:
            return _read(f, path, max_bytes)
    except FersInputError:
        raise
    except Exception as e:
        raise FersInputError(f"cannot read PRISMA data (corrupt or truncated): {why(e)}", path) from None


def _read(f, path: Path, max_bytes) -> tuple[np.ndarray, dict]:
    found = find_swath(f)
    if found is None:
        if "HDFEOS/SWATHS/PRS_L1_HCO" in f:
            raise FersInputError("PRISMA L1 (top-of-atmosphere radiance) is not read; use an L2B, L2C or L2D "
                                 "reflectance product", path)
        raise FersInputError("not a PRISMA L2 product: no HDFEOS/SWATHS/PRS_L2D_HCO/Data Fields/VNIR_Cube or "
                             "SWIR_Cube", path)
    level, fields = found
    parts, bands, shape = [], [], None  # bands: (wavelength, fwhm, flag, part index, band in part)
    for name, key in PARTS:
        ds = fields.get(f"{name}_Cube")
        if ds is None:
            continue
        if ds.ndim != 3:
            raise FersInputError(f"PRISMA {name}_Cube has shape {ds.shape}; expected (rows, bands, cols)", path)
        rows, nb, cols = ds.shape
        if shape is not None and shape != (rows, cols):
            raise FersInputError(f"PRISMA VNIR and SWIR cubes differ in size: {shape} and {(rows, cols)}", path)
        shape = (rows, cols)
        cw = _attr(f, f"List_Cw_{key}", path)
        fwhm = _attr(f, f"List_Fwhm_{key}", path, required=False)
        flags = _attr(f, f"List_Cw_{key}_Flags", path, required=False)
        if cw.size != nb:
            raise FersInputError(f"PRISMA List_Cw_{key} has {cw.size} values for {nb} {name} bands", path)
        fwhm = fwhm if fwhm is not None and fwhm.size == nb else np.full(nb, np.nan)
        flags = flags if flags is not None and flags.size == nb else np.ones(nb)
        lo, hi = (float(_attr(f, f"L2Scale{key}{m}", path)[0]) for m in ("Min", "Max"))
        parts.append((name, ds, lo, hi))
        bands += [(cw[i], fwhm[i], flags[i], len(parts) - 1, i) for i in range(nb) if cw[i] > 0]
    bands.sort(key=lambda t: t[0])  # stable: VNIR before SWIR at equal wavelengths
    if not bands:
        raise FersInputError("PRISMA file lists no band with a wavelength above 0", path)
    rows, cols = shape
    need = rows * cols * len(bands) * 4 + max(int(np.prod(p[1].shape)) * p[1].dtype.itemsize for p in parts)
    if max_bytes is not None and need > max_bytes:
        raise FersInputError(f"PRISMA cube {(rows, cols, len(bands))} needs {need / 2**20:.1f} MiB in memory, the "
                             f"limit is {max_bytes / 2**20:.1f} MiB", path)
    cube = np.empty((rows, cols, len(bands)), dtype=np.float32)
    empty = np.ones((rows, cols), dtype=bool)
    for p, (name, ds, lo, hi) in enumerate(parts):
        dn = ds[()]  # (rows, bands in part, cols)
        step = np.float32((hi - lo) / DN_MAX)
        for k, (_, _, _, part, i) in enumerate(bands):
            if part == p:
                band = dn[:, i, :]
                empty &= band == 0
                cube[..., k] = band.astype(np.float32) * step + np.float32(lo)
        del dn
    cube[empty] = np.nan
    wl = np.array([b[0] for b in bands])
    meta: dict = {"product": f"PRISMA {level}", "scaling": SCALING, "no_data": NO_DATA_RULE,
                  "wavelengths": to_nm(wl, "nm", path),
                  "bad_bands": np.array([b[2] == 0 for b in bands])}
    fwhm = np.array([b[1] for b in bands])
    if np.all(np.isfinite(fwhm)) and np.all(fwhm > 0):
        meta["fwhm"] = to_nm(fwhm, "nm", path, what="FWHM values")
    meta["georef"] = _georef(f, path) if level == "L2D" else None
    return cube, meta


def _georef(f, path: Path):
    """L2D map grid: ``Epsg_Code`` and the upper-left pixel centre -> :class:`Georef`, or None."""
    keys = ("Epsg_Code", "Product_ULcorner_easting", "Product_ULcorner_northing")
    if not all(k in f.attrs for k in keys):
        return None
    epsg, east, north = (float(_attr(f, k, path)[0]) for k in keys)
    crs = f"EPSG:{int(epsg)}"
    try:
        from rasterio.crs import CRS

        crs = CRS.from_epsg(int(epsg)).to_wkt()
    except Exception:
        pass  # keep "EPSG:n"
    half = PIXEL_M / 2
    return Georef(crs=crs, transform=(PIXEL_M, 0.0, east - half, 0.0, -PIXEL_M, north + half),
                  source="PRISMA L2D Epsg_Code + Product_ULcorner_* (upper-left pixel centre, 30 m)")


def peek(path, key=None) -> Header | None:
    """``(rows, cols, bands)`` of VNIR + SWIR together (bands with a wavelength above 0, as the reader
    keeps them), from the dataset headers and root attributes."""
    try:
        import h5py

        with h5py.File(path, "r") as f:
            _, fields = find_swath(f)
            rows = cols = None
            bands = 0
            for name, key in PARTS:
                if f"{name}_Cube" not in fields:
                    continue
                rows, nb, cols = fields[f"{name}_Cube"].shape
                cw = np.asarray(f.attrs.get(f"List_Cw_{key}", []), dtype=np.float64).ravel()
                bands += int((cw > 0).sum()) if cw.size == nb else nb
    except Exception:
        return None
    return Header((rows, cols, bands), 2, False, "he5") if rows is not None else None


def _read_opts(path, opts) -> tuple[np.ndarray, dict]:
    return read(path, max_bytes=opts.max_bytes, mmap=opts.mmap)


READER = Reader(name="prisma", title="PRISMA L2 .he5", extensions=(".he5",), peek=peek, read=_read_opts)
