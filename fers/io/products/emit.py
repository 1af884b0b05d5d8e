"""EMIT L2A reflectance (and L1B radiance) NetCDF4 granules (``EMIT_L2A_RFL_001_..._.nc``).

Layout (LP DAAC EMITL2ARFL), read with xarray (h5netcdf engine, no CF decoding):

* root variable ``reflectance (downtrack, crosstrack, bands)`` float32, ``_FillValue`` -9999
  (L1B: ``radiance``, same dimensions);
* group ``sensor_band_parameters``: ``wavelengths (bands)`` and ``fwhm (bands)`` in nm,
  ``good_wavelengths (bands)`` 1 = good, 0 = bad (water-vapour windows);
* group ``location``: ``glt_x``, ``glt_y (ortho_y, ortho_x)`` int, 1-based crosstrack/downtrack
  numbers of the cube pixel to draw at each map cell, 0 = no data (plus ``lat``, ``lon``, ``elev``);
* global attributes ``geotransform`` (GDAL order: x0, dx, 0, y0, 0, dy, of the GLT's map grid) and
  ``spatial_ref`` (WKT, EPSG:4326).

The cube stays in sensor geometry ``(downtrack, crosstrack, bands)`` with -9999 at the fill pixels
(``nodata`` -9999, masked by :func:`fers.io.load_cube`); the GLT goes to :class:`Georef` for the
output maps.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fers.errors import FersInputError
from fers.io.formats import why
from fers.io.georef import Georef, check_glt, check_glt_size
from fers.io.header import Header
from fers.io.registry import Reader
from fers.io.wavelengths import to_nm
from fers.memmap import LARGE_MEMMAP_BYTES, spill

SPILL_BLOCK_BYTES = 64 * 2**20  # rows read from the NetCDF at a time when spilling

# the 3-D variable read as the cube, with the product it means (first found wins)
CUBE_VARIABLES = (("reflectance", "EMIT L2A reflectance"), ("radiance", "EMIT L1B radiance"))
BAND_GROUP = "sensor_band_parameters"
LOCATION_GROUP = "location"
GLT_SOURCE = "EMIT GLT (location group)"


def _is_netcdf3(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(3) == b"CDF"


def _open(path: Path, group=None):
    """The root or a group of a NetCDF file as an undecoded, lazy :class:`xarray.Dataset`."""
    import xarray as xr

    engine = "netcdf4" if _is_netcdf3(path) else "h5netcdf"  # classic NetCDF-3 (no groups) needs netCDF4
    return xr.open_dataset(path, engine=engine, group=group, mask_and_scale=False, decode_times=False,
                           decode_coords=False, decode_timedelta=False)


def _group(path: Path, name: str):
    """A root group's Dataset, or None when the file has no such group."""
    if _is_netcdf3(path):
        return None
    import h5netcdf

    with h5netcdf.File(path, "r") as f:
        if name not in f.groups:
            return None
    return _open(path, name)


def _check_bytes(nbytes: int, what: str, max_bytes, path) -> None:
    if max_bytes is not None and nbytes > max_bytes:
        raise FersInputError(f"{what} needs {nbytes / 2**20:.1f} MiB in memory, the limit is "
                             f"{max_bytes / 2**20:.1f} MiB", path)


def cube_variable(names) -> tuple[str, str] | None:
    """``(variable, product)`` of the cube among a file's variable ``names``, or None."""
    return next(((v, p) for v, p in CUBE_VARIABLES if v in names), None)


def read(path, max_bytes=None, mmap: bool = False) -> tuple[np.ndarray, dict]:
    """EMIT NetCDF -> ``(cube (downtrack, crosstrack, bands), meta)``.

    ``meta``: ``wavelengths``/``fwhm`` (nm) and ``bad_bands`` (``good_wavelengths`` 0) when the
    ``sensor_band_parameters`` group exists; ``nodata`` (the cube's ``_FillValue``) and
    ``nodata_source``; ``georef`` (GLT + map grid) when the ``location`` group exists and its GLT is
    valid; ``product``, ``variable``. A file without a 3-D ``reflectance`` or ``radiance`` variable,
    or one that is corrupt or truncated, is refused in one line. ``max_bytes`` is checked against the
    shapes before any data are read. ``mmap``: a cube whose float32 copy exceeds
    :data:`fers.memmap.LARGE_MEMMAP_BYTES` is spilled block by block into a temporary memory map
    (:func:`fers.memmap.spill`) instead of being decoded in memory, so the pipeline streams it."""
    path = Path(path)
    try:
        return _read(path, max_bytes, mmap)
    except FersInputError:
        raise
    except Exception as e:
        raise FersInputError(f"cannot read NetCDF (corrupt, truncated or not NetCDF): {why(e)}", path) from None


def _read(path: Path, max_bytes, mmap: bool = False) -> tuple[np.ndarray, dict]:
    notes: list = []
    with _open(path) as root:
        found = cube_variable(root.data_vars)
        if found is None:
            names = ", ".join(sorted(map(str, root.data_vars))) or "none"
            raise FersInputError(f"no 'reflectance' (EMIT L2A) or 'radiance' (EMIT L1B) variable in the NetCDF "
                                 f"root; variables: {names}", path)
        name, product = found
        var = root[name]
        if var.ndim != 3:
            raise FersInputError(f"'{name}' has {var.ndim} dimension(s) {tuple(var.shape)}; expected 3 "
                                 "(downtrack, crosstrack, bands)", path)
        if "bands" in var.dims and var.dims[-1] != "bands":
            var = var.transpose(*[d for d in var.dims if d != "bands"], "bands")
        rows, cols, bands = (int(n) for n in var.shape)
        fill = var.attrs.get("_FillValue")
        if mmap and rows * cols * bands * 4 > LARGE_MEMMAP_BYTES:
            step = max(1, SPILL_BLOCK_BYTES // (cols * bands * 4))
            cube = spill((rows, cols, bands), lambda r0, r1: var[r0:r1].values, step, f"'{name}'", path)
        else:
            _check_bytes(rows * cols * bands * max(var.dtype.itemsize, 4), f"'{name}' {(rows, cols, bands)}",
                         max_bytes, path)
            cube = np.asarray(var.values)
        attrs = dict(root.attrs)
    meta: dict = {"product": product, "variable": name}
    if fill is not None and np.isfinite(float(np.asarray(fill).ravel()[0])):
        meta["nodata"] = float(np.asarray(fill).ravel()[0])
        meta["nodata_source"] = f"EMIT {name} _FillValue"
    meta.update(_band_parameters(path, bands, notes))
    meta["georef"] = _glt_georef(path, rows, cols, attrs, max_bytes, notes)
    if notes:
        meta["metadata_notes"] = notes
    return cube, meta


def _band_parameters(path: Path, bands: int, notes: list) -> dict:
    ds = _group(path, BAND_GROUP)
    if ds is None:
        notes.append(f"no '{BAND_GROUP}' group: no wavelengths")
        return {}
    out: dict = {}
    with ds:
        def values(key):
            if key not in ds.variables:
                return None, None
            v = ds[key]
            if v.size != bands:
                notes.append(f"{BAND_GROUP}/{key} has {v.size} values for {bands} bands; left out")
                return None, None
            return np.asarray(v.values).ravel(), v.attrs.get("units")

        wl, units = values("wavelengths")
        if wl is not None:
            out["wavelengths"] = to_nm(wl, units or "nm", path)
            fwhm, f_units = values("fwhm")
            if fwhm is not None:
                out["fwhm"] = to_nm(fwhm, f_units or units or "nm", path, what="FWHM values")
        good, _ = values("good_wavelengths")
        if good is not None:
            out["bad_bands"] = good == 0
    return out


def _glt_georef(path: Path, rows: int, cols: int, attrs: dict, max_bytes, notes: list):
    """:class:`Georef` from the ``location`` group's GLT and the root ``geotransform`` /
    ``spatial_ref``, or None (no group, no GLT, or a GLT :func:`check_glt` refuses: noted)."""
    ds = _group(path, LOCATION_GROUP)
    if ds is None:
        return None
    with ds:
        if "glt_x" not in ds.variables or "glt_y" not in ds.variables:
            notes.append(f"'{LOCATION_GROUP}' group has no glt_x/glt_y: no georeference")
            return None
        gx, gy = ds["glt_x"], ds["glt_y"]
        if problem := check_glt_size(gx.shape, rows, cols):  # before decoding: a bomb is refused unread
            raise FersInputError(problem, path)
        _check_bytes(rows * cols * 4 + (gx.size + gy.size) * 8, "the cube and its GLT", max_bytes, path)
        glt_x, glt_y = np.asarray(gx.values), np.asarray(gy.values)
    if glt_x.dtype.kind not in "iu" or glt_y.dtype.kind not in "iu":
        notes.append("GLT is not integer: no georeference")
        return None
    problem = check_glt(glt_x, glt_y, rows, cols)
    if problem:
        notes.append(f"{problem}: no georeference")
        return None
    transform = None
    gt = attrs.get("geotransform")
    if gt is not None and np.size(gt) == 6:
        x0, dx, rx, y0, ry, dy = (float(v) for v in np.asarray(gt, dtype=np.float64).ravel())
        transform = (dx, rx, x0, ry, dy, y0)  # GDAL order -> rasterio/affine order
    crs = attrs.get("spatial_ref")
    crs = crs.decode() if isinstance(crs, bytes) else (str(crs) if crs is not None else None)
    return Georef(crs=crs, transform=transform, source=GLT_SOURCE, glt=(glt_x, glt_y))


def peek(path, key=None) -> Header | None:
    """The shape of the ``reflectance`` (or ``radiance``) variable from the HDF5 object header, and the
    GLT's decoded bytes as ``aux_bytes`` (NetCDF-3 files: None, left to the reader). Mappable: with
    ``mmap`` the reader spills a big cube into a temporary memory map (:func:`fers.memmap.spill`)."""
    try:
        import h5py

        with h5py.File(path, "r") as f:
            name, _ = cube_variable(list(f.keys()))
            ds = f[name]
            shape, itemsize = tuple(ds.shape), np.dtype(ds.dtype).itemsize
            glt = _glt_shapes(f)
    except Exception:
        return None
    if len(shape) != 3:
        return None
    problem = check_glt_size(glt[0], shape[0], shape[1]) if glt else None
    aux = sum(8 * int(np.prod(s)) for s in glt)  # decoded as int64 at most
    return Header(shape, itemsize, True, "netcdf", aux_bytes=aux, problem=problem)


def _glt_shapes(f) -> list[tuple]:
    """Shapes of the ``location`` group's ``glt_x`` and ``glt_y`` (empty when there is no GLT)."""
    loc = f.get(LOCATION_GROUP)
    if loc is None or "glt_x" not in loc or "glt_y" not in loc:
        return []
    return [tuple(loc["glt_x"].shape), tuple(loc["glt_y"].shape)]


def _read_opts(path, opts) -> tuple[np.ndarray, dict]:
    return read(path, max_bytes=opts.max_bytes, mmap=opts.mmap)


READER = Reader(name="emit", title="EMIT L2A/L1B .nc", extensions=(".nc",), peek=peek, read=_read_opts, mmap="spill")
