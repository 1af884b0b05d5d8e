"""Small files laid out like real imaging-spectrometer products, for the reader tests.

Every generator writes one product and returns a :class:`Product`: the file to hand to
:func:`fers.io.load_cube` and what a reader should find in it. The cube values are smooth spectra
(so ENVI's byte-order plausibility check sees real-looking data); ``Product.cube (H, W, B)``
float32 is what ``load_cube`` returns: bands in ascending wavelength, NaN at the fill pixels.

* :func:`make_aviris_ng` -- AVIRIS-NG / AVIRIS-3 L2 reflectance: ENVI float32 (BIL by default) with
  ``wavelength``, ``fwhm``, ``bbl``, ``map info`` (UTM, with rotation) and ``data ignore value``;
* :func:`make_enmap` -- EnMAP L2A: int16 ``...-SPECTRAL_IMAGE.TIF`` (UTM GeoTIFF, no-data -32768)
  plus ``...-METADATA.XML`` with the ``specific/bandCharacterisation`` table;
* :func:`make_emit` -- EMIT L2A reflectance NetCDF4 with ``sensor_band_parameters`` and
  ``location`` (GLT) groups and ``geotransform`` / ``spatial_ref`` attributes;
* :func:`make_prisma` -- PRISMA L2D HDF-EOS5 with ``VNIR_Cube`` / ``SWIR_Cube`` ``(rows, bands,
  cols)`` uint16, descending VNIR wavelengths with unused zero slots, L2 scale attributes, EPSG and
  upper-left pixel centre.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass
class Product:
    """A generated product. ``path``: the file to load. ``cube (H, W, B)`` float32 as
    :func:`fers.io.load_cube` should return it (NaN at ``fill_pixels``); ``wavelengths``, ``fwhm``
    ``(B,)`` in nm; ``bad_bands (B,)`` bool; ``nodata``: the file's fill value (None: NaN);
    ``epsg`` and ``transform`` (rasterio order) of the map grid (for EMIT: the GLT's grid);
    ``glt``: EMIT ``(glt_x, glt_y)`` ``(Ho, Wo)`` int32 or None."""

    path: Path
    cube: np.ndarray
    wavelengths: np.ndarray
    fwhm: np.ndarray
    bad_bands: np.ndarray
    fill_pixels: tuple
    nodata: float | None
    epsg: int | None
    transform: tuple | None
    glt: tuple | None = None


def smooth_cube(rows: int, cols: int, wavelengths_nm, seed: int = 0) -> np.ndarray:
    """Reflectance-like ``(rows, cols, B)`` float32 in about 0.05-0.6: a few smooth spectral shapes
    mixed per pixel, plus a little noise."""
    rng = np.random.default_rng(seed)
    x = (np.asarray(wavelengths_nm, dtype=np.float64) - 350.0) / 2200.0
    shapes = np.stack([0.1 + 0.3 * x, 0.3 + 0.2 * np.sin(3 * x), 0.2 + 0.35 * x**2])  # (3, B)
    mix = rng.dirichlet(np.ones(3), size=(rows, cols))  # (H, W, 3)
    cube = mix @ shapes + rng.normal(0, 0.002, size=(rows, cols, x.size))
    return cube.astype(np.float32)


def _with_nan(cube: np.ndarray, fill_pixels) -> np.ndarray:
    out = cube.astype(np.float32).copy()
    for r, c in fill_pixels:
        out[r, c, :] = np.nan
    return out


# ---------------------------------------------------------------- AVIRIS-NG / AVIRIS-3 (ENVI)

ENVI_INTERLEAVE_AXES = {"bsq": (2, 0, 1), "bil": (0, 2, 1), "bip": (0, 1, 2)}


def make_aviris_ng(path_stem, rows: int = 12, cols: int = 10, bands: int = 20, *, interleave: str = "bil",
                   units: str = "Nanometers", bad_band_idx=(3,), fill_pixels=((0, 0), (5, 7)),
                   rotation: float = 0.0, easting: float = 563_700.0, northing: float = 4_105_500.0,
                   pixel: float = 5.0, zone: int = 11, data_ext: str = "", seed: int = 0) -> Product:
    """AVIRIS-NG L2 reflectance: data file ``{path_stem}{data_ext}`` (no extension by default, as
    the JPL products) and header ``{path_stem}.hdr``. Float32 little-endian, ``interleave`` (``bil``
    like the real files), header with ``wavelength`` in ``units`` (``Nanometers`` or
    ``Micrometers``), ``fwhm``, ``bbl`` (0 at ``bad_band_idx``), ``data ignore value = -9999`` (all
    bands -9999 at ``fill_pixels``) and ``map info = {UTM, 1, 1, easting, northing, pixel, pixel,
    zone, North, WGS-84, units=Meters, rotation=...}``. ``Product.path`` is the header;
    ``Product.transform`` is what GDAL makes of the map info:
    ``(p cos r, p sin r, easting, p sin r, -p cos r, northing)``."""
    stem = Path(path_stem)
    data = stem.with_name(stem.name + data_ext)
    hdr = stem.with_name(stem.name + ".hdr")
    wl = np.linspace(377.0, 2500.0, bands)
    fwhm = np.full(bands, 5.5) + np.linspace(0, 0.5, bands)
    cube = smooth_cube(rows, cols, wl, seed)
    stored = cube.copy()
    for r, c in fill_pixels:
        stored[r, c, :] = -9999.0
    stored.astype("<f4").transpose(ENVI_INTERLEAVE_AXES[interleave]).tofile(data)
    bbl = np.ones(bands, dtype=int)
    bbl[list(bad_band_idx)] = 0
    factor = {"nanometers": 1.0, "micrometers": 1e-3}[units.lower()]

    def listing(values, fmt):
        return "{ " + " , ".join(fmt.format(v) for v in values) + " }"

    hdr.write_text("\n".join([
        "ENVI",
        "description = {AVIRIS-NG L2 surface reflectance (synthetic test scene)}",
        f"samples = {cols}", f"lines = {rows}", f"bands = {bands}", "header offset = 0",
        "file type = ENVI Standard", "data type = 4", f"interleave = {interleave}", "byte order = 0",
        f"map info = {{ UTM , 1.000 , 1.000 , {easting:.3f} , {northing:.3f} , {pixel:.10e} , {pixel:.10e} , "
        f"{zone} , North , WGS-84 , units=Meters , rotation={rotation:.8f} }}",
        f"wavelength units = {units}",
        "data ignore value = -9999",
        f"wavelength = {listing(wl * factor, '{:.8f}')}",
        f"fwhm = {listing(fwhm * factor, '{:.8f}')}",
        f"bbl = {listing(bbl, '{:d}')}",
        "",
    ]))
    r = math.radians(rotation)
    transform = (pixel * math.cos(r), pixel * math.sin(r), easting, pixel * math.sin(r), -pixel * math.cos(r), northing)
    return Product(hdr, _with_nan(cube, fill_pixels), wl, fwhm, bbl == 0, tuple(fill_pixels), -9999.0,
                   32600 + zone, transform)


# ---------------------------------------------------------------- EnMAP L2A (GeoTIFF + XML)

ENMAP_NAME = "ENMAP01-____L2A-DT0000001867_20220724T104526Z_008_V010302_20230628T165614Z"
ENMAP_NODATA = -32768


def enmap_metadata_xml(name: str, wavelengths, fwhm, gain: float, offset: float = 0.0) -> str:
    """A METADATA.XML with the structure of EnMAP L2A products (``level_X`` root; ``metadata``,
    ``base``, ``specific``, ``product`` sections), holding the per-band table the readers need."""
    root = ET.Element("level_X", {"xmlns:xsi": "http://www.w3.org/2001/XMLSchema-instance",
                                  "xsi:noNamespaceSchemaLocation": "L2A_product.xsd"})
    meta = ET.SubElement(root, "metadata")
    ET.SubElement(ET.SubElement(meta, "schema"), "processingLevel").text = "L2A"
    ET.SubElement(meta, "name").text = name
    base = ET.SubElement(root, "base")
    ET.SubElement(base, "format").text = "GeoTIFF"
    specific = ET.SubElement(root, "specific")
    n = len(wavelengths)
    vnir = [i + 1 for i in range(n) if wavelengths[i] < 1000]
    swir = [i for i in range(1, n + 1) if i not in vnir]
    for part, ids in (("vnirProductQuality", vnir), ("swirProductQuality", swir)):
        ET.SubElement(ET.SubElement(specific, part), "expectedChannelsList").text = ",".join(map(str, ids))
    table = ET.SubElement(specific, "bandCharacterisation")
    for i, (w, f) in enumerate(zip(wavelengths, fwhm), start=1):
        band = ET.SubElement(table, "bandID", {"number": str(i)})
        ET.SubElement(band, "wavelengthCenterOfBand").text = f"{w:.3f}"
        ET.SubElement(band, "FWHMOfBand").text = f"{f:.3f}"
        ET.SubElement(band, "GainOfBand").text = f"{gain:g}"
        ET.SubElement(band, "OffsetOfBand").text = f"{offset:g}"
    product = ET.SubElement(root, "product")
    ET.SubElement(ET.SubElement(product, "image"), "merge").text = f"{name}-SPECTRAL_IMAGE.TIF"
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")


def make_enmap(folder, rows: int = 9, cols: int = 11, bands: int = 16, *, fill_pixels=((0, 0), (4, 6)),
               fill_band_idx=(), epsg: int = 32633, origin=(367_000.0, 5_812_000.0), pixel: float = 30.0,
               gain: float = 1e-4, name: str = ENMAP_NAME, seed: int = 0) -> Product:
    """EnMAP L2A pair in ``folder``: ``{name}-SPECTRAL_IMAGE.TIF`` (band-sequential int16,
    reflectance / ``gain``, UTM ``epsg``, north-up ``pixel`` grid at ``origin``, nodata -32768 at
    ``fill_pixels`` and in every pixel of the bands ``fill_band_idx``) and ``{name}-METADATA.XML``.
    ``Product.cube`` is ``DN x gain`` (the fill bands read as 0, marked bad)."""
    import rasterio
    from affine import Affine

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    wl = np.linspace(418.4, 2445.5, bands)
    fwhm = np.linspace(6.5, 11.0, bands)
    dn = np.round(smooth_cube(rows, cols, wl, seed) / gain).astype(np.int16)
    for r, c in fill_pixels:
        dn[r, c, :] = ENMAP_NODATA
    dn[:, :, list(fill_band_idx)] = ENMAP_NODATA
    transform = Affine(pixel, 0.0, origin[0], 0.0, -pixel, origin[1])
    tif = folder / f"{name}-SPECTRAL_IMAGE.TIF"
    with rasterio.open(tif, "w", driver="GTiff", width=cols, height=rows, count=bands, dtype="int16",
                       crs=f"EPSG:{epsg}", transform=transform, nodata=ENMAP_NODATA, interleave="band") as ds:
        ds.write(np.moveaxis(dn, 2, 0))
    (folder / f"{name}-METADATA.XML").write_text(enmap_metadata_xml(name, wl, fwhm, gain))
    expected = (dn.astype(np.float32) * np.float32(gain))
    expected[:, :, list(fill_band_idx)] = 0
    bad = np.zeros(bands, dtype=bool)
    bad[list(fill_band_idx)] = True
    return Product(tif, _with_nan(expected, fill_pixels), wl, fwhm, bad, tuple(fill_pixels), float(ENMAP_NODATA),
                   epsg, tuple(transform)[:6])


# ---------------------------------------------------------------- EMIT L2A (NetCDF4)

EMIT_FILL = -9999.0
EMIT_GEOTRANSFORM = (-117.85, 0.000542232520256, 0.0, 36.42, 0.0, -0.000542232520256)  # GDAL order


def emit_glt(rows: int, cols: int) -> tuple[np.ndarray, np.ndarray]:
    """A GLT ``(glt_x, glt_y)`` ``(rows + 2, cols + 3)`` int32 for a ``rows x cols`` swath: a no-data
    border (0), the swath flipped north-south inside it (1-based column and row numbers)."""
    glt_x = np.zeros((rows + 2, cols + 3), dtype=np.int32)
    glt_y = np.zeros_like(glt_x)
    r, c = np.mgrid[0:rows, 0:cols]
    glt_x[1:rows + 1, 1:cols + 1] = c + 1
    glt_y[1:rows + 1, 1:cols + 1] = rows - r
    return glt_x, glt_y


def make_emit(path, rows: int = 10, cols: int = 8, bands: int = 24, fill_pixels=((0, 0), (3, 5)),
              bad_band_idx=(5, 6), with_glt: bool = True, *, variable: str = "reflectance",
              seed: int = 0, glt_shape: tuple | None = None) -> Product:
    """EMIT L2A reflectance NetCDF4 at ``path`` (netCDF4, the DAAC layout): root
    ``reflectance (downtrack, crosstrack, bands)`` float32 ``_FillValue`` -9999 (all bands at
    ``fill_pixels``); group ``sensor_band_parameters`` (``wavelengths``, ``fwhm`` in nm,
    ``good_wavelengths`` 0 at ``bad_band_idx``); with ``with_glt`` group ``location`` (``glt_x``,
    ``glt_y (ortho_y, ortho_x)``, ``lat``, ``lon``, ``elev``); global ``geotransform`` and
    ``spatial_ref`` (EPSG:4326 WKT). ``variable="radiance"`` writes an L1B-like file instead.
    ``glt_shape``: declare a GLT map grid of this ``(Ho, Wo)`` instead (compressed, only the real GLT
    written into its corner): a few kB on disk that decode to ``8 * Ho * Wo`` bytes -- a GLT bomb."""
    import netCDF4
    from rasterio.crs import CRS

    path = Path(path)
    wl = np.linspace(381.0, 2493.0, bands)
    fwhm = np.linspace(8.4, 8.9, bands)
    cube = smooth_cube(rows, cols, wl, seed)
    stored = cube.copy()
    for r, c in fill_pixels:
        stored[r, c, :] = EMIT_FILL
    good = np.ones(bands, dtype=np.int32)
    good[list(bad_band_idx)] = 0
    glt = emit_glt(rows, cols) if with_glt else None
    with netCDF4.Dataset(path, "w", format="NETCDF4") as nc:
        nc.ncei_template_version = "NCEI_NetCDF_Swath_Template_v2.0"
        nc.title = "EMIT L2A Estimated Surface Reflectance 60 m V001 (synthetic test granule)"
        nc.Conventions = "CF-1.63"
        nc.instrument, nc.platform = "EMIT", "ISS"
        nc.time_coverage_start, nc.time_coverage_end = "2023-03-16T04:51:33+0000", "2023-03-16T04:51:45+0000"
        nc.spatialResolution = EMIT_GEOTRANSFORM[1]
        nc.spatial_ref = CRS.from_epsg(4326).to_wkt()
        nc.geotransform = np.array(EMIT_GEOTRANSFORM, dtype=np.float64)
        nc.createDimension("downtrack", rows)
        nc.createDimension("crosstrack", cols)
        nc.createDimension("bands", bands)
        var = nc.createVariable(variable, "f4", ("downtrack", "crosstrack", "bands"), fill_value=EMIT_FILL)
        var.long_name = "Surface Reflectance" if variable == "reflectance" else "Radiance"
        var.units = "unitless" if variable == "reflectance" else "uW/cm^2/SR/nm"
        var[:] = stored
        sbp = nc.createGroup("sensor_band_parameters")
        for key, values, dtype, units in (("wavelengths", wl, "f4", "nm"), ("fwhm", fwhm, "f4", "nm"),
                                          ("good_wavelengths", good, "i4", "unitless")):
            v = sbp.createVariable(key, dtype, ("bands",), fill_value=EMIT_FILL)
            v.units = units
            v[:] = values
        if with_glt:
            ho, wo = glt_shape or glt[0].shape
            nc.createDimension("ortho_y", ho)
            nc.createDimension("ortho_x", wo)
            loc = nc.createGroup("location")
            for key, values, long_name in (("glt_x", glt[0], "GLT Sample Lookup"),
                                           ("glt_y", glt[1], "GLT Line Lookup")):
                packed = dict(zlib=True, chunksizes=(min(ho, 1024), min(wo, 1024))) if glt_shape else {}
                v = loc.createVariable(key, "i4", ("ortho_y", "ortho_x"), fill_value=EMIT_FILL, **packed)
                v.long_name, v.units = long_name, "pixel location"
                v[:values.shape[0], :values.shape[1]] = values
            r, c = np.mgrid[0:rows, 0:cols]
            for key, values in (("lat", 36.4 - 0.0005 * r), ("lon", -117.8 + 0.0005 * c), ("elev", 1000.0 + 0 * r)):
                v = loc.createVariable(key, "f8", ("downtrack", "crosstrack"), fill_value=EMIT_FILL)
                v[:] = values
    x0, dx, rx, y0, ry, dy = EMIT_GEOTRANSFORM
    return Product(path, _with_nan(cube, fill_pixels), wl, fwhm, good == 0, tuple(fill_pixels), EMIT_FILL, 4326,
                   (dx, rx, x0, ry, dy, y0), glt)


# ---------------------------------------------------------------- PRISMA L2D (HDF-EOS5)

PRISMA_SCALE = {"Vnir": (0.0, 1.2), "Swir": (0.0, 0.9)}  # L2Scale*Min, L2Scale*Max


def make_prisma(path, rows: int = 8, cols: int = 9, n_vnir: int = 8, n_swir: int = 10, *,
                unused_vnir: int = 2, unused_swir: int = 1, fill_pixels=((0, 0), (6, 2)), flag0=("Swir", 0),
                epsg: int = 32632, ul_centre=(500_015.0, 4_999_985.0), level: str = "L2D", seed: int = 0) -> Product:
    """PRISMA L2 ``.he5`` at ``path``: ``HDFEOS/SWATHS/PRS_{level}_HCO/Data Fields/VNIR_Cube`` and
    ``SWIR_Cube`` ``(rows, bands, cols)`` uint16 DN, band slots in descending wavelength with the last
    ``unused_vnir`` / ``unused_swir`` slots at wavelength 0 (their data 0), ``List_Cw_*``,
    ``List_Fwhm_*``, ``List_Cw_*_Flags`` (0 for slot ``flag0[1]`` of ``flag0[0]``), ``L2Scale*Min/Max``,
    ``Epsg_Code``, ``Product_{UL,UR,LL,LR}corner_easting/northing`` (pixel centres, 30 m) and an
    HDF-EOS ``StructMetadata.0``. DN 0 in every band at ``fill_pixels``. ``Product.cube`` holds VNIR
    and SWIR bands sorted by wavelength, reflectance ``min + DN x (max - min) / 65535``."""
    import h5py

    path = Path(path)
    rng = np.random.default_rng(seed)
    vnir_wl = np.r_[np.linspace(975.0, 402.0, n_vnir - unused_vnir), np.zeros(unused_vnir)]
    swir_wl = np.r_[np.linspace(2497.0, 942.0, n_swir - unused_swir), np.zeros(unused_swir)]
    parts = {"Vnir": vnir_wl, "Swir": swir_wl}
    fields = f"HDFEOS/SWATHS/PRS_{level}_HCO/Data Fields"
    all_wl, all_fwhm, all_bad, all_refl = [], [], [], []
    with h5py.File(path, "w") as f:
        f.create_dataset("HDFEOS INFORMATION/StructMetadata.0", data=np.bytes_(
            f"GROUP=SwathStructure\n\tGROUP=SWATH_1\n\t\tSwathName=\"PRS_{level}_HCO\"\n\tEND_GROUP=SWATH_1\n"
            "END_GROUP=SwathStructure\nEND\n"))
        f.attrs["Product_ID"] = np.bytes_(f"PRS_{level}_STD")
        f.attrs["Processing_Level"] = np.bytes_(level[1:])
        f.attrs["Epsg_Code"] = np.int32(epsg)
        e0, n0 = ul_centre
        corners = {"UL": (0, 0), "UR": (cols - 1, 0), "LL": (0, rows - 1), "LR": (cols - 1, rows - 1)}
        for corner, (de, dn_) in corners.items():
            f.attrs[f"Product_{corner}corner_easting"] = np.float64(e0 + 30.0 * de)
            f.attrs[f"Product_{corner}corner_northing"] = np.float64(n0 - 30.0 * dn_)
        for key, wl in parts.items():
            lo, hi = PRISMA_SCALE[key]
            used = wl > 0
            fwhm = np.where(used, 9.0 + wl / 500.0, 0.0)
            flags = used.astype(np.uint8)
            if flag0 and flag0[0] == key:
                flags[flag0[1]] = 0
            refl = smooth_cube(rows, cols, np.where(used, wl, 1000.0), seed + int(key == "Swir"))
            dn = np.clip(np.round((refl - lo) / (hi - lo) * 65535), 1, 65535).astype(np.uint16)
            dn[:, :, ~used] = 0
            for r, c in fill_pixels:
                dn[r, c, :] = 0
            f.create_dataset(f"{fields}/{key.upper()}_Cube", data=np.transpose(dn, (0, 2, 1)))  # (rows, bands, cols)
            f.attrs[f"List_Cw_{key}"] = wl.astype(np.float32)
            f.attrs[f"List_Fwhm_{key}"] = fwhm.astype(np.float32)
            f.attrs[f"List_Cw_{key}_Flags"] = flags
            f.attrs[f"L2Scale{key}Min"] = np.float32(lo)
            f.attrs[f"L2Scale{key}Max"] = np.float32(hi)
            value = (dn.astype(np.float32) * np.float32((np.float32(hi) - np.float32(lo)) / 65535.0)
                     + np.float32(lo))
            for i in np.flatnonzero(used):
                all_wl.append(float(np.float32(wl[i])))
                all_fwhm.append(float(np.float32(fwhm[i])))
                all_bad.append(flags[i] == 0)
                all_refl.append(value[:, :, i])
        geo = f"HDFEOS/SWATHS/PRS_{level}_HCO/Geolocation Fields"
        f.create_dataset(f"{geo}/Latitude", data=rng.uniform(45.0, 45.1, (rows, cols)).astype(np.float32))
        f.create_dataset(f"{geo}/Longitude", data=rng.uniform(9.0, 9.1, (rows, cols)).astype(np.float32))
    order = np.argsort(np.array(all_wl), kind="stable")
    cube = np.stack(all_refl, axis=2)[:, :, order]
    e0, n0 = ul_centre
    transform = (30.0, 0.0, e0 - 15.0, 0.0, -30.0, n0 + 15.0) if level == "L2D" else None
    return Product(path, _with_nan(cube, fill_pixels), np.array(all_wl)[order], np.array(all_fwhm)[order],
                   np.array(all_bad)[order], tuple(fill_pixels), None, epsg if level == "L2D" else None, transform)


def load_refused(match, path, **kw) -> str:
    """:func:`fers.io.load_cube` on a broken product refuses it in one line naming the file; returns the line."""
    import pytest

    from fers.errors import FersInputError
    from fers.io import load_cube

    with pytest.raises(FersInputError, match=match) as e:
        load_cube(path, **kw)
    msg = str(e.value)
    assert "\n" not in msg and path.name in msg
    return msg


def truncate(path) -> Path:
    """Cut a file to half its size, as an interrupted download leaves it; returns the path."""
    path = Path(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path
