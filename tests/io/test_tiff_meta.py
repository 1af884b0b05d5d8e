"""GeoTIFF metadata through GDAL (rasterio): CRS + transform, wavelengths / FWHM / bad bands from
per-band items (as GDAL writes them converting ENVI), the IMAGERY domain, or band descriptions.
The data themselves still come from tifffile (band-axis rules unchanged)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import rasterio
import tifffile
from affine import Affine
from rasterio.crs import CRS
from rasterio.shutil import copy as gdal_copy

from fers.errors import FersInputError
from fers.io.cube import load_cube
from fers.io.tiff import tiff_gdal_meta
from tests.io.make_products import make_aviris_ng, smooth_cube

WL = np.array([450.5, 550.0, 650.25, 860.0, 1650.0])
TRANSFORM = Affine(10.0, 0.0, 699_960.0, 0.0, -10.0, 5_900_040.0)


def write_geotiff(path, cube, band_tags=None, imagery=None, descriptions=None, crs="EPSG:32632",
                  transform=TRANSFORM, nodata=None, ds_tags=None):
    """``cube (H, W, B)`` -> a band-interleaved GeoTIFF with per-band metadata."""
    h, w, b = cube.shape
    kw = {} if crs is None else {"crs": crs, "transform": transform}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        with rasterio.open(path, "w", driver="GTiff", width=w, height=h, count=b, dtype=cube.dtype,
                           nodata=nodata, interleave="band", **kw) as ds:
            ds.write(np.moveaxis(cube, 2, 0))
            for i in range(b):
                if band_tags:
                    ds.update_tags(i + 1, **band_tags[i])
                if imagery:
                    ds.update_tags(i + 1, ns="IMAGERY", **imagery[i])
                if descriptions:
                    ds.set_band_description(i + 1, descriptions[i])
            if ds_tags:
                ds.update_tags(**ds_tags)
    return path


@pytest.fixture
def cube():
    return smooth_cube(6, 7, WL, seed=3)


def test_band_items_wavelength_fwhm_bbl_and_georef(tmp_path, cube):
    tags = [{"wavelength": f"{v / 1000:.6f}", "wavelength_units": "Micrometers", "fwhm": "0.01",
             "bbl": "0" if i == 3 else "1"} for i, v in enumerate(WL)]
    s = load_cube(write_geotiff(tmp_path / "a.tif", cube, band_tags=tags))
    np.testing.assert_allclose(s.cube, cube)
    np.testing.assert_allclose(s.wavelengths, WL, rtol=1e-9)
    np.testing.assert_allclose(s.fwhm, 10.0)
    assert s.bad_bands.tolist() == [False, False, False, True, False]
    assert CRS.from_wkt(s.georef.crs) == CRS.from_epsg(32632)
    assert s.georef.transform == tuple(TRANSFORM)[:6] and s.georef.on_cube_grid


def test_dataset_level_units_and_nanometres(tmp_path, cube):
    tags = [{"wavelength": str(v)} for v in WL]
    s = load_cube(write_geotiff(tmp_path / "b.tif", cube, band_tags=tags, ds_tags={"wavelength_units": "nm"}))
    np.testing.assert_allclose(s.wavelengths, WL)


def test_imagery_domain(tmp_path, cube):
    imagery = [{"CENTRAL_WAVELENGTH_UM": f"{v / 1000:.5f}", "FWHM_UM": "0.0085"} for v in WL]
    s = load_cube(write_geotiff(tmp_path / "c.tif", cube, imagery=imagery))
    np.testing.assert_allclose(s.wavelengths, WL, atol=1e-6)
    np.testing.assert_allclose(s.fwhm, 8.5)


def test_band_descriptions(tmp_path, cube):
    desc = [f"Band {i + 1} ({v} nm)" for i, v in enumerate(WL)]
    s = load_cube(write_geotiff(tmp_path / "d.tif", cube, descriptions=desc))
    np.testing.assert_allclose(s.wavelengths, WL)
    desc = [f"{v / 1000} Micrometers" for v in WL]
    np.testing.assert_allclose(load_cube(write_geotiff(tmp_path / "e.tif", cube, descriptions=desc)).wavelengths, WL)


def test_wavelengths_only_when_every_band_has_one(tmp_path, cube):
    tags = [{"wavelength": str(v), "wavelength_units": "nm"} for v in WL[:-1]] + [{}]
    desc = [f"Band {i + 1} ({v} nm)" for i, v in enumerate(WL[:-1])] + ["Band 5"]
    s = load_cube(write_geotiff(tmp_path / "f.tif", cube, band_tags=tags, descriptions=desc))
    assert s.wavelengths is None and s.fwhm is None and s.bad_bands is None
    assert s.georef is not None


def test_gdal_translated_envi_keeps_wavelengths_fwhm_and_georef(tmp_path):
    p = make_aviris_ng(tmp_path / "ang", units="Micrometers", interleave="bsq")
    tif = tmp_path / "ang.tif"
    gdal_copy(str(p.path.with_suffix("")), str(tif), driver="GTiff")
    s = load_cube(tif)
    np.testing.assert_allclose(s.wavelengths, p.wavelengths, rtol=1e-7)
    np.testing.assert_allclose(s.fwhm, p.fwhm, atol=0.5)  # GDAL writes FWHM_UM to 3 decimals of a um
    assert CRS.from_wkt(s.georef.crs) == CRS.from_epsg(32611)
    np.testing.assert_allclose(s.georef.transform, p.transform)
    assert s.nodata == -9999 and s.info["masked_pixels"] == 2


def test_plain_tiff_has_no_georef_and_keeps_band_axis_rules(tmp_path, cube):
    tifffile.imwrite(tmp_path / "plain.tif", np.moveaxis(cube, 2, 0))  # pages: bands first, no GDAL metadata
    s = load_cube(tmp_path / "plain.tif")
    assert s.shape == cube.shape and s.georef is None and s.wavelengths is None
    np.testing.assert_allclose(s.cube, cube)
    s = load_cube(write_geotiff(tmp_path / "nocrs.tif", cube, crs=None))
    assert s.georef is None and "bands_first" in s.info["layout"]


def test_gdal_sees_another_grid_so_nothing_is_taken(tmp_path, cube):
    path = write_geotiff(tmp_path / "g.tif", cube, band_tags=[{"wavelength": str(v)} for v in WL])
    assert tiff_gdal_meta(path, (6, 7, 4)) == {}
    assert tiff_gdal_meta(path, (7, 6, 5)) == {}
    assert tiff_gdal_meta(tmp_path / "missing.tif", (6, 7, 5)) == {}


def test_truncated_geotiff_refused_in_one_line(tmp_path, cube):
    path = write_geotiff(tmp_path / "cut.tif", cube)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(FersInputError, match="cannot read TIFF") as e:
        load_cube(path)
    assert "\n" not in str(e.value)
