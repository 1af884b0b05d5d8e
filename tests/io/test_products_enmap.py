"""EnMAP L2A: SPECTRAL_IMAGE GeoTIFF + METADATA.XML beside it -> wavelengths, FWHM, gain applied,
-32768 fill masked, UTM CRS + transform; fill-only bands marked bad; bad files refused in one line."""

from __future__ import annotations

import numpy as np
import pytest
from rasterio.crs import CRS

from fers.errors import FersInputError
from fers.io.cube import load_cube
from fers.io.products.enmap import find_metadata_xml
from tests.io.make_products import ENMAP_NAME, load_refused, make_enmap, truncate


def test_enmap_l2a_pair(tmp_path):
    p = make_enmap(tmp_path / "prod")
    s = load_cube(p.path)
    assert s.shape == (9, 11, 16) and s.cube.dtype == np.float32
    np.testing.assert_allclose(s.cube, p.cube, rtol=1e-6, equal_nan=True)
    np.testing.assert_allclose(s.wavelengths, p.wavelengths, atol=1e-3)
    np.testing.assert_allclose(s.fwhm, p.fwhm, atol=1e-3)
    assert not s.bad_bands.any()
    assert s.nodata == -32768 and s.info["masked_pixels"] == 2 and np.isnan(s.cube[4, 6]).all()
    assert s.info["product"] == "EnMAP L2A" and "GainOfBand" in s.info["scaling"]
    assert s.info["source_dtype"] == "float32"  # scaled from int16 DN
    assert CRS.from_wkt(s.georef.crs) == CRS.from_epsg(32633)
    assert s.georef.transform == p.transform
    assert 0.0 < np.nanmax(s.cube) < 1.0  # reflectance, not DN


def test_fill_only_bands_are_bad_not_masking_everything(tmp_path):
    p = make_enmap(tmp_path / "prod", fill_band_idx=(5, 6))
    s = load_cube(p.path)
    assert np.flatnonzero(s.bad_bands).tolist() == [5, 6]
    assert s.info["masked_pixels"] == 2 and s.info["fill_bands"] == [6, 7]
    np.testing.assert_allclose(s.cube, p.cube, rtol=1e-6, equal_nan=True)


def test_memmap_request_still_scales(tmp_path):
    p = make_enmap(tmp_path / "prod")
    s = load_cube(p.path, mmap=True)
    np.testing.assert_allclose(np.asarray(s.cube, dtype=np.float32), p.cube, rtol=1e-6, equal_nan=True)


def test_metadata_found_by_name_or_as_the_only_xml(tmp_path):
    p = make_enmap(tmp_path / "a")
    assert find_metadata_xml(p.path).name == f"{ENMAP_NAME}-METADATA.XML"
    other = tmp_path / "a" / "scene.tif"
    p.path.rename(other)
    assert find_metadata_xml(other).name == f"{ENMAP_NAME}-METADATA.XML"  # the single *METADATA.XML
    np.testing.assert_allclose(load_cube(other).wavelengths, p.wavelengths, atol=1e-3)
    (tmp_path / "a" / "OTHER-METADATA.XML").write_text("<x/>")
    assert find_metadata_xml(other) is None  # two candidates: neither is taken
    assert load_cube(other).wavelengths is None


def test_band_count_mismatch_is_noted_not_used(tmp_path):
    p = make_enmap(tmp_path / "a", bands=16)
    q = make_enmap(tmp_path / "b", bands=12)
    q.path.with_name(f"{ENMAP_NAME}-METADATA.XML").write_bytes(
        p.path.with_name(f"{ENMAP_NAME}-METADATA.XML").read_bytes())
    s = load_cube(q.path)
    assert s.wavelengths is None and "16 bands, the image has 12" in s.info["metadata_notes"][0]
    assert s.info["source_dtype"] == "int16"  # no gain applied without a matching table


def test_corrupt_xml_and_truncated_image_refused(tmp_path):
    p = make_enmap(tmp_path / "a")
    xml = p.path.with_name(f"{ENMAP_NAME}-METADATA.XML")
    xml.write_text(xml.read_text()[:300])
    with pytest.raises(FersInputError, match="not well-formed XML") as e:
        load_cube(p.path)
    assert "\n" not in str(e.value)
    load_refused("cannot read TIFF", truncate(make_enmap(tmp_path / "b").path))


def test_header_peek_says_scaled_enmap_is_not_memory_mapped(tmp_path):
    from fers.io.peek import peek_cube

    p = make_enmap(tmp_path / "a")
    head = peek_cube(p.path)
    assert head.shape == (16, 9, 11) and head.itemsize == 2 and not head.mappable
