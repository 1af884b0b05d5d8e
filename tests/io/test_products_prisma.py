"""PRISMA L2D HDF-EOS5: VNIR + SWIR cubes (rows, bands, cols) uint16 -> one (rows, cols, B) float32
reflectance cube, bands sorted by wavelength with zero slots dropped, flags -> bad bands, DN 0 in
every band masked, EPSG + upper-left pixel centre -> transform; one-line refusals."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
from rasterio.crs import CRS

from fers.errors import FersInputError
from fers.io.cube import load_cube
from fers.io.peek import peek_cube
from fers.io.products.prisma import read
from tests.io.make_products import load_refused, make_prisma, truncate


def test_prisma_l2d(tmp_path):
    p = make_prisma(tmp_path / "PRS_L2D_STD_20200524103704_20200524103708_0001.he5", n_vnir=8, n_swir=10,
                    unused_vnir=2, unused_swir=1, flag0=("Swir", 2))
    s = load_cube(p.path)
    assert s.shape == (8, 9, 6 + 9) and s.cube.dtype == np.float32
    assert np.all(np.diff(s.wavelengths) >= 0) and s.wavelengths.min() > 0  # ascending, zero slots gone
    np.testing.assert_allclose(s.wavelengths, p.wavelengths)
    np.testing.assert_allclose(s.fwhm, p.fwhm)
    np.testing.assert_allclose(s.cube, p.cube, rtol=1e-6, equal_nan=True)
    assert s.bad_bands.sum() == 1 and s.bad_bands.tolist() == p.bad_bands.tolist()
    assert s.info["masked_pixels"] == 2 and np.isnan(s.cube[6, 2]).all()
    assert s.info["product"] == "PRISMA L2D" and "65535" in s.info["scaling"]
    assert CRS.from_wkt(s.georef.crs) == CRS.from_epsg(32632)
    assert s.georef.transform == pytest.approx(p.transform)
    assert s.georef.transform[2] == 500_000.0 and s.georef.transform[5] == 5_000_000.0  # pixel corner


def test_vnir_and_swir_overlap_interleaved_by_wavelength(tmp_path):
    p = make_prisma(tmp_path / "p.he5", n_vnir=12, n_swir=12, unused_vnir=0, unused_swir=0)
    s = load_cube(p.path)
    assert s.shape[2] == 24 and np.all(np.diff(s.wavelengths) >= 0)
    assert s.wavelengths[(s.wavelengths > 940) & (s.wavelengths < 980)].size >= 2  # both detectors kept


def test_l2c_reads_without_georef(tmp_path):
    p = make_prisma(tmp_path / "PRS_L2C_STD.he5", level="L2C")
    s = load_cube(p.path)
    assert s.georef is None and s.info["product"] == "PRISMA L2C"
    np.testing.assert_allclose(s.cube, p.cube, rtol=1e-6, equal_nan=True)


def test_header_peek_and_max_bytes(tmp_path):
    p = make_prisma(tmp_path / "p.he5")
    head = peek_cube(p.path)
    assert head.hwb() == (8, 9, 15) and not head.mappable
    with pytest.raises(FersInputError, match="needs .* MiB") as e:
        read(p.path, max_bytes=8 * 9 * 15 * 4)
    assert "\n" not in str(e.value)


def test_refusals_in_one_line(tmp_path):
    load_refused("cannot read", truncate(make_prisma(tmp_path / "cut.he5").path))
    other = tmp_path / "other.he5"
    with h5py.File(other, "w") as f:
        f["x"] = np.zeros(3)
    load_refused("not a PRISMA L2 product", other)
    l1 = tmp_path / "PRS_L1_STD_OFFL.he5"
    with h5py.File(l1, "w") as f:
        f["HDFEOS/SWATHS/PRS_L1_HCO/Data Fields/VNIR_Cube"] = np.zeros((2, 3, 2), np.uint16)
    load_refused("L1", l1)
    junk = tmp_path / "junk.he5"
    junk.write_bytes(b"not an hdf5 file at all" * 10)
    load_refused("cannot read HDF5", junk)
    q = make_prisma(tmp_path / "noscale.he5")
    with h5py.File(q.path, "a") as f:
        del f.attrs["L2ScaleSwirMax"]
    load_refused("L2ScaleSwirMax", q.path)
