"""EMIT L2A reflectance NetCDF4: cube in sensor geometry (downtrack, crosstrack, bands), wavelengths,
good_wavelengths -> bad bands, -9999 fill masked, GLT georeference (EPSG:4326, geotransform in
rasterio order); files without GLT, L1B radiance, and one-line refusals."""

from __future__ import annotations

import netCDF4
import numpy as np
import pytest
from rasterio.crs import CRS

from fers.errors import FersInputError
from fers.io.cube import load_cube
from fers.io.formats import CUBE_EXTS, CUBE_FILE_EXTS
from fers.io.peek import peek_cube
from fers.io.products.emit import read
from tests.io.make_products import load_refused, make_emit, truncate


def test_emit_l2a_reflectance(tmp_path):
    p = make_emit(tmp_path / "EMIT_L2A_RFL_001_20230316T045133_2307503_005.nc", bad_band_idx=(5, 6, 20))
    s = load_cube(p.path)
    assert s.shape == (10, 8, 24)
    np.testing.assert_allclose(s.cube, p.cube, rtol=1e-6, equal_nan=True)
    np.testing.assert_allclose(s.wavelengths, p.wavelengths, rtol=1e-6)
    np.testing.assert_allclose(s.fwhm, p.fwhm, rtol=1e-6)
    assert np.flatnonzero(s.bad_bands).tolist() == [5, 6, 20]
    assert s.nodata == -9999 and s.info["masked_pixels"] == 2
    assert s.info["nodata_source"] == "EMIT reflectance _FillValue" and s.info["product"] == "EMIT L2A reflectance"
    g = s.georef
    assert g.glt is not None and not g.on_cube_grid and "GLT" in g.source
    np.testing.assert_array_equal(g.glt[0], p.glt[0])
    np.testing.assert_array_equal(g.glt[1], p.glt[1])
    assert CRS.from_wkt(g.crs) == CRS.from_epsg(4326)
    assert g.transform == pytest.approx(p.transform)
    assert ".nc" in CUBE_FILE_EXTS and ".nc" in CUBE_EXTS


def test_without_location_group_no_georef(tmp_path):
    p = make_emit(tmp_path / "noglt.nc", with_glt=False)
    s = load_cube(p.path)
    assert s.georef is None and s.wavelengths is not None and s.info["masked_pixels"] == 2


def test_glt_pointing_outside_the_cube_is_noted(tmp_path):
    p = make_emit(tmp_path / "bad_glt.nc")
    with netCDF4.Dataset(p.path, "a") as nc:
        nc["location/glt_x"][1, 1] = 99
    s = load_cube(p.path)
    assert s.georef is None and "beyond" in " ".join(s.info["metadata_notes"])


def test_l1b_radiance_accepted(tmp_path):
    p = make_emit(tmp_path / "EMIT_L1B_RAD.nc", variable="radiance")
    s = load_cube(p.path)
    assert s.info["product"] == "EMIT L1B radiance" and s.info["nodata_source"] == "EMIT radiance _FillValue"
    np.testing.assert_allclose(s.cube, p.cube, rtol=1e-6, equal_nan=True)


def test_nc_without_a_cube_refused(tmp_path):
    path = tmp_path / "other.nc"
    with netCDF4.Dataset(path, "w") as nc:
        nc.createDimension("x", 3)
        nc.createVariable("temperature", "f4", ("x",))[:] = [1, 2, 3]
    load_refused("no 'reflectance' .*variables: temperature", path)
    path = tmp_path / "flat.nc"
    with netCDF4.Dataset(path, "w") as nc:
        nc.createDimension("x", 3)
        nc.createDimension("y", 4)
        nc.createVariable("reflectance", "f4", ("x", "y"))[:] = np.ones((3, 4))
    load_refused("2 dimension", path)


def test_truncated_and_garbage_refused_in_one_line(tmp_path):
    load_refused("cannot read NetCDF", truncate(make_emit(tmp_path / "cut.nc").path))
    junk = tmp_path / "junk.nc"
    junk.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00garbage" * 20)
    load_refused("cannot read NetCDF", junk)


def test_max_bytes_and_header_peek(tmp_path):
    p = make_emit(tmp_path / "e.nc")
    load_refused("too large|needs .* MiB", p.path, max_bytes=1000)
    head = peek_cube(p.path)
    assert head.shape == (10, 8, 24) and head.itemsize == 4 and head.hwb() == (10, 8, 24)
    with pytest.raises(FersInputError, match="needs"):
        read(p.path, max_bytes=10 * 8 * 24 * 4 - 1)


def test_netcdf3_file_with_reflectance_is_read(tmp_path):
    path = tmp_path / "classic.nc"
    cube = np.arange(4 * 5 * 3, dtype=np.float32).reshape(4, 5, 3) + 1
    with netCDF4.Dataset(path, "w", format="NETCDF3_CLASSIC") as nc:
        for name, n in zip(("downtrack", "crosstrack", "bands"), cube.shape):
            nc.createDimension(name, n)
        nc.createVariable("reflectance", "f4", ("downtrack", "crosstrack", "bands"), fill_value=-9999.0)[:] = cube
    s = load_cube(path)
    np.testing.assert_allclose(s.cube, cube)
    assert s.wavelengths is None and s.georef is None and peek_cube(path) is None


def test_glt_bomb_refused_from_the_header(tmp_path):
    """A 90 kB granule whose location group declares a 16000 x 16000 GLT (4 GB as int64): the header
    check and the reader both refuse it before any GLT value is decoded; the command line exits 2 at once."""
    import resource
    import subprocess
    import sys

    from fers.pipeline import check_file_request

    path = make_emit(tmp_path / "EMIT_L2A_RFL_bomb.nc", rows=20, cols=16, bands=40, glt_shape=(16000, 16000)).path
    assert path.stat().st_size < 200_000
    head = peek_cube(path)
    assert head.aux_bytes == 2 * 8 * 16000 * 16000 and "16000x16000" in head.problem
    with pytest.raises(FersInputError, match=r"RFL_bomb\.nc: GLT map grid 16000x16000 .*at most 16x"):
        check_file_request(path, mmap=True)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(FersInputError, match="GLT map grid 16000x16000"):
        load_cube(path, mmap=True)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200 * 1024  # KiB: nothing decoded
    cli = subprocess.run([sys.executable, "-m", "fers", "detect", str(path), "--out", str(tmp_path / "m.tif")],
                         capture_output=True, text=True, timeout=120)
    assert cli.returncode == 2 and cli.stderr.startswith("fers: error: ") and len(cli.stderr.splitlines()) == 1
    assert not (tmp_path / "m.tif").exists()


def test_glt_of_a_real_swath_size_is_read(tmp_path):
    """A GLT a few times the cube (a rotated swath) is within the 16x rule and read."""
    p = make_emit(tmp_path / "EMIT_L2A_RFL_wide.nc", rows=10, cols=8, glt_shape=(30, 40))
    scene = load_cube(p.path)
    assert scene.georef is not None and scene.georef.glt[0].shape == (30, 40)
