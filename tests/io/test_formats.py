"""Round trips through every cube and ground-truth format on tiny seeded cubes (tmp_path)."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import scipy.io
import tifffile
from PIL import Image

from fers.errors import FersInputError
from fers.io.cube import list_mat_keys, load_cube, load_gt

MATLAB_CLASS = {"float64": "double", "float32": "single", "uint8": "uint8", "uint16": "uint16", "int16": "int16"}


def write_mat73(path, arrays: dict) -> None:
    """A MATLAB-like v7.3 file: HDF5 with a 512-byte userblock holding the MAT header, arrays stored
    column-major (i.e. transposed in HDF5), each tagged with its MATLAB_class."""
    with h5py.File(path, "w", userblock_size=512) as f:
        for name, arr in arrays.items():
            arr = np.asarray(arr)
            cls = "logical" if arr.dtype == bool else MATLAB_CLASS[str(arr.dtype)]
            ds = f.create_dataset(name, data=arr.astype(np.uint8).T if arr.dtype == bool else arr.T)
            ds.attrs["MATLAB_class"] = np.bytes_(cls)
    text = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Thu Nov 26 12:00:00 2026 HDF5 schema 1.00 ."
    header = text.ljust(116, b" ") + b"\x00" * 8 + b"\x00\x02" + b"IM"
    with open(path, "r+b") as fh:
        fh.write(header.ljust(512, b"\x00"))


@pytest.fixture
def cube_gt(rng):
    cube = rng.integers(0, 4000, size=(7, 9, 5)).astype(np.uint16)  # H != W != B: catches transposes
    gt = np.zeros((7, 9), dtype=np.uint8)
    gt[2, 3] = gt[5, 8] = 1
    return cube, gt


def _same(scene, cube, gt=None):
    assert scene.cube.dtype == np.float32
    assert scene.cube.shape == cube.shape
    np.testing.assert_array_equal(scene.cube, cube.astype(np.float32))
    if gt is None:
        assert scene.gt is None
    else:
        assert scene.gt.dtype == bool
        np.testing.assert_array_equal(scene.gt, gt > 0)


@pytest.mark.parametrize("cube_key,gt_key", [("data", "map"), ("hsi_img", "hsi_gt"), ("paviaU_subimg", "mask")])
def test_mat_v5_round_trip_and_key_detection(tmp_path, cube_gt, cube_key, gt_key):
    cube, gt = cube_gt
    p = tmp_path / "scene.mat"
    scipy.io.savemat(p, {cube_key: cube, gt_key: gt, "note": np.array([[1.0, 2.0]])})
    s = load_cube(p)
    _same(s, cube, gt)
    assert s.info["key"] == cube_key and s.info["gt_key"] == gt_key and s.name == "scene"
    assert ("note", (1, 2), "double") in list_mat_keys(p)


def test_mat_v73_round_trip_transposes_back(tmp_path, cube_gt):
    cube, gt = cube_gt
    p = tmp_path / "scene73.mat"
    wl = np.linspace(400, 900, cube.shape[2])
    write_mat73(p, {"data": cube, "map": gt.astype(bool), "wavelength": wl})
    with open(p, "rb") as fh:
        assert fh.read(19) == b"MATLAB 7.3 MAT-file"
    keys = dict((k, (s, d)) for k, s, d in list_mat_keys(p))
    assert keys["data"] == ((7, 9, 5), "uint16") and keys["map"] == ((7, 9), "logical")
    s = load_cube(p)
    _same(s, cube, gt)
    assert s.info["format"] == "mat-v7.3"
    np.testing.assert_allclose(s.wavelengths, wl)


def test_mat_explicit_key_and_ambiguity(tmp_path, cube_gt):
    cube, gt = cube_gt
    p = tmp_path / "two.mat"
    scipy.io.savemat(p, {"raw": cube, "smooth": cube[::-1].copy(), "map": gt, "other": gt * 0})
    with pytest.raises(FersInputError, match=r"several 3-D arrays.*raw.*smooth") as e:
        load_cube(p)
    assert "two.mat" in str(e.value) and "\n" not in str(e.value)
    s = load_cube(p, key="smooth")
    _same(s, cube[::-1], gt)  # 'map' wins over 'other' by name
    s2 = load_cube(p, key="raw", gt_key="other")
    assert not s2.gt.any()
    with pytest.raises(FersInputError, match="no variable 'nope'"):
        load_cube(p, key="nope")
    with pytest.raises(FersInputError, match="3 dimensions"):
        load_cube(p, key="map")


def test_npy_round_trip_mmap_and_wavelength_sibling(tmp_path, cube_gt):
    cube, gt = cube_gt
    p = tmp_path / "c.npy"
    np.save(p, cube)
    np.save(tmp_path / "c.wavelengths.npy", np.arange(5.0) * 10)
    np.save(tmp_path / "g.npy", gt)
    _same(load_cube(p, gt_path=tmp_path / "g.npy"), cube, gt)
    m = load_cube(p, mmap=True)
    assert isinstance(m.cube, np.memmap) and m.cube.dtype == np.uint16
    np.testing.assert_array_equal(np.asarray(m.cube), cube)
    np.testing.assert_array_equal(m.wavelengths, np.arange(5.0) * 10)


def test_envi_round_trip_header_or_data_path(tmp_path, cube_gt):
    import spectral.io.envi as envi

    cube, gt = cube_gt
    hdr = tmp_path / "img.hdr"
    wl = [450.0 + 50 * i for i in range(cube.shape[2])]
    envi.save_image(str(hdr), cube, dtype=np.uint16, interleave="bil", metadata={"wavelength": wl})
    data = tmp_path / "img.img"
    assert data.is_file()
    for path in (hdr, data):
        s = load_cube(path)
        _same(s, cube)
        np.testing.assert_allclose(s.wavelengths, wl)
    m = load_cube(hdr, mmap=True)
    assert isinstance(m.cube, np.memmap)
    np.testing.assert_array_equal(np.asarray(m.cube), cube)


@pytest.mark.parametrize("layout", ["bands_first", "bands_last"])
def test_tiff_band_axis_detection_and_override(tmp_path, cube_gt, layout):
    cube, _ = cube_gt
    p = tmp_path / "c.tif"
    tifffile.imwrite(p, np.moveaxis(cube, -1, 0) if layout == "bands_first" else cube, photometric="minisblack")
    _same(load_cube(p), cube)  # smallest axis (5 bands) found either way
    _same(load_cube(p, layout=layout), cube)


def test_tiff_explicit_layout_when_bands_outnumber_pixels(tmp_path, rng):
    cube = rng.random((4, 3, 30)).astype(np.float32)  # 30 bands > H, W: smallest axis would be wrong
    p = tmp_path / "tall.tif"
    tifffile.imwrite(p, np.moveaxis(cube, -1, 0), photometric="minisblack")
    _same(load_cube(p, layout="bands_first"), cube)


def test_png_gt_channel_layouts(tmp_path):
    mask = np.zeros((7, 9), dtype=np.uint8)
    mask[1, 2] = mask[6, 0] = 255
    decoy = np.full((7, 9), 200, dtype=np.uint8)  # non-zero everywhere: must not be read as the mask
    cases = {
        "l.png": Image.fromarray(mask, "L"),
        "rgb_ch1.png": Image.fromarray(np.dstack([decoy, mask, decoy]), "RGB"),  # HAD100: channel 1
        "rgba.png": Image.fromarray(np.dstack([decoy, mask, decoy, decoy]), "RGBA"),
        "bit.png": Image.fromarray(mask > 0).convert("1"),
        "i16.png": Image.fromarray(mask.astype(np.uint16) * 100),
    }
    for name, im in cases.items():
        im.save(tmp_path / name)
        np.testing.assert_array_equal(load_gt(tmp_path / name, shape=(7, 9)), mask > 0, err_msg=name)


def test_gt_from_mat_npy_tif(tmp_path, cube_gt):
    _, gt = cube_gt
    scipy.io.savemat(tmp_path / "g.mat", {"groundtruth": gt})
    np.save(tmp_path / "g.npy", gt.astype(np.float32) * 3)
    tifffile.imwrite(tmp_path / "g.tif", gt)
    for name in ("g.mat", "g.npy", "g.tif"):
        np.testing.assert_array_equal(load_gt(tmp_path / name, shape=(7, 9)), gt > 0, err_msg=name)


def test_separate_gt_overrides_in_file_gt(tmp_path, cube_gt):
    cube, gt = cube_gt
    scipy.io.savemat(tmp_path / "s.mat", {"data": cube, "map": gt})
    other = np.zeros_like(gt)
    other[0, 0] = 1
    np.save(tmp_path / "o.npy", other)
    s = load_cube(tmp_path / "s.mat", gt_path=tmp_path / "o.npy")
    np.testing.assert_array_equal(s.gt, other > 0)
