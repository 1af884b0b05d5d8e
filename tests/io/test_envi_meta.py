"""ENVI header metadata (AVIRIS-NG / AVIRIS-3 L2 layout): wavelengths in nm, FWHM, bbl bad bands,
the fill value, and the georeference GDAL reads from ``map info`` (rotation included)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from rasterio.crs import CRS

from fers.errors import FersInputError
from fers.io.cube import load_cube
from fers.io.envi import envi_spectral_meta
from tests.io.make_products import make_aviris_ng


def _same_transform(a, b):
    return np.allclose(np.array(a, dtype=float), np.array(b, dtype=float), rtol=0, atol=1e-6)


@pytest.mark.parametrize("interleave", ["bil", "bsq", "bip"])
def test_aviris_ng_reflectance(tmp_path, interleave):
    p = make_aviris_ng(tmp_path / "ang20190621t171547_rfl_v2v2_img", interleave=interleave, bad_band_idx=(3, 17))
    s = load_cube(p.path)
    assert s.shape == p.cube.shape == (12, 10, 20)
    np.testing.assert_allclose(s.cube, p.cube, rtol=1e-6, equal_nan=True)
    np.testing.assert_allclose(s.wavelengths, p.wavelengths, rtol=1e-9)
    np.testing.assert_allclose(s.fwhm, p.fwhm, rtol=1e-9)
    assert s.bad_bands.dtype == bool and np.flatnonzero(s.bad_bands).tolist() == [3, 17]
    assert s.nodata == -9999 and s.info["masked_pixels"] == len(p.fill_pixels)
    assert np.isnan(s.cube[0, 0]).all() and np.isnan(s.cube[5, 7]).all()
    assert CRS.from_wkt(s.georef.crs) == CRS.from_epsg(32611)
    assert _same_transform(s.georef.transform, p.transform) and s.georef.on_cube_grid
    assert "map info" in s.georef.source


def test_micrometre_wavelengths_and_fwhm_become_nm(tmp_path):
    p = make_aviris_ng(tmp_path / "ang_um", units="Micrometers", interleave="bsq")
    s = load_cube(p.path)
    np.testing.assert_allclose(s.wavelengths, p.wavelengths, rtol=1e-7)
    np.testing.assert_allclose(s.fwhm, p.fwhm, rtol=1e-6)
    assert 370 < s.wavelengths.min() < s.wavelengths.max() < 2600


def test_rotated_map_info(tmp_path):
    p = make_aviris_ng(tmp_path / "ang_rot", rotation=28.0, pixel=5.4)
    s = load_cube(p.path)
    a, b, c, d, e, f = s.georef.transform
    assert _same_transform(s.georef.transform, p.transform)
    assert math.isclose(math.hypot(a, d), 5.4) and b != 0 and d != 0  # a real rotation, the pixel size kept
    assert CRS.from_wkt(s.georef.crs) == CRS.from_epsg(32611)


def test_data_file_with_extension_and_memmap(tmp_path):
    p = make_aviris_ng(tmp_path / "scene", data_ext=".img")
    s = load_cube(p.path.with_suffix(".img"), mmap=True)  # opened through the data file
    assert s.georef is not None and s.bad_bands is not None and s.wavelengths.size == 20


def test_no_map_info_no_georef(tmp_path):
    p = make_aviris_ng(tmp_path / "nomap")
    text = p.path.read_text().splitlines()
    p.path.write_text("\n".join(line for line in text if not line.startswith("map info")) + "\n")
    s = load_cube(p.path)
    assert s.georef is None and s.wavelengths is not None


def test_arbitrary_map_info_has_no_crs_so_no_georef(tmp_path):
    p = make_aviris_ng(tmp_path / "arb")
    text = p.path.read_text()
    start = text.index("map info")
    end = text.index("}", start) + 1
    p.path.write_text(text[:start] + "map info = { Arbitrary , 1 , 1 , 0 , 0 , 1 , 1 , 0 , North }" + text[end:])
    assert load_cube(p.path).georef is None


def test_gdal_failure_leaves_georef_out(tmp_path, monkeypatch):
    import rasterio

    def broken(*a, **k):
        raise rasterio.errors.RasterioIOError("simulated GDAL failure")

    monkeypatch.setattr(rasterio, "open", broken)
    p = make_aviris_ng(tmp_path / "nogdal")
    s = load_cube(p.path)
    assert s.georef is None and s.wavelengths is not None and s.info["masked_pixels"] == 2


def test_unusable_fields_are_noted_not_fatal(tmp_path):
    meta = envi_spectral_meta({"wavelength": ["400", "500"], "bbl": ["1", "0", "1"]}, 3)
    assert "wavelengths" not in meta and meta["bad_bands"].tolist() == [False, True, False]
    assert "2 values for 3 bands" in meta["metadata_notes"][0]
    meta = envi_spectral_meta({"wavelength": ["1", "2", "3"], "wavelength units": "Index"}, 3)
    assert "wavelengths" not in meta and "Index" in meta["metadata_notes"][0]
    meta = envi_spectral_meta({"wavelength": ["400", "x", "600"]}, 3)
    assert "wavelengths" not in meta and "not a list of numbers" in meta["metadata_notes"][0]
    meta = envi_spectral_meta({"wavelength": ["4000", "3000", "2000"], "wavelength units": "Wavenumber"}, 3)
    assert "wavelengths" not in meta and "Wavenumber" in meta["metadata_notes"][0]
    meta = envi_spectral_meta({"wavelength": ["0.4", "0.5", "0.6"], "fwhm": ["0.01", "0.01", "0.01"]}, 3)
    np.testing.assert_allclose(meta["wavelengths"], [400, 500, 600])  # no unit, below 30: micrometres
    np.testing.assert_allclose(meta["fwhm"], [10, 10, 10])


def test_truncated_aviris_ng_refused_in_one_line(tmp_path):
    p = make_aviris_ng(tmp_path / "cut")
    data = p.path.with_suffix("")
    data.write_bytes(data.read_bytes()[:1000])
    with pytest.raises(FersInputError, match="truncated") as e:
        load_cube(p.path)
    assert "\n" not in str(e.value)
