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
from tests.conftest import load_verified_scene

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
    np.save(tmp_path / "c.wavelengths.npy", (np.arange(5.0) + 40) * 10)
    np.save(tmp_path / "g.npy", gt)
    _same(load_cube(p, gt_path=tmp_path / "g.npy"), cube, gt)
    m = load_cube(p, mmap=True)
    assert isinstance(m.cube, np.memmap) and m.cube.dtype == np.uint16
    np.testing.assert_array_equal(np.asarray(m.cube), cube)
    np.testing.assert_array_equal(m.wavelengths, (np.arange(5.0) + 40) * 10)


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


# --- TIFF band axis: recorded in the file, else --layout, else the shape rule (docs/formats.md) ---

@pytest.mark.parametrize("metadata", [{}, None])  # tifffile's shaped series ("QYX") or a plain page stack ("IYX")
def test_tiff_square_scene_with_more_bands_than_pixels(tmp_path, rng, metadata):
    """Issue 11 item 1: a 100x100x205 cube was read as (100, 205, 100) bands last and as
    (205, 100, 100) bands first."""
    cube = rng.integers(0, 255, size=(100, 100, 205)).astype(np.uint8)
    kw = {} if metadata == {} else {"metadata": None}
    for name, arr in (("last.tif", cube), ("first.tif", np.moveaxis(cube, -1, 0))):
        tifffile.imwrite(tmp_path / name, arr, photometric="minisblack", **kw)
        s = load_cube(tmp_path / name)
        _same(s, cube)
        assert "not recorded in the file" in s.info["layout"]


@pytest.mark.parametrize("write,axes", [
    (dict(photometric="minisblack", planarconfig="contig"), "YXS"),  # GeoTIFF-style samples per pixel
    (dict(photometric="minisblack", planarconfig="separate"), "SYX"),  # one plane per band
    (dict(imagej=True, metadata={"axes": "CYX"}), "CYX"),
    (dict(ome=True, photometric="minisblack", metadata={"axes": "CYX"}), "CYX"),
    (dict(photometric="minisblack", metadata={"axes": "YXC"}), "YXC"),
])
def test_tiff_band_axis_recorded_in_the_file_wins_over_the_shape(tmp_path, rng, write, axes):
    cube = rng.random((4, 3, 30)).astype(np.float32)  # 30 bands > H, W: the smallest axis would be wrong
    arr = np.moveaxis(cube, -1, 0) if axes[0] in "SC" else cube
    p = tmp_path / ("c.ome.tif" if write.get("ome") else "c.tif")
    tifffile.imwrite(p, arr, **write)
    s = load_cube(p)
    _same(s, cube)
    assert s.info["layout"].endswith(f"(recorded in the file: axes {axes})")
    right = "bands_first" if axes[0] in "SC" else "bands_last"
    _same(load_cube(p, layout=right), cube)
    wrong = "bands_last" if right == "bands_first" else "bands_first"
    with pytest.raises(FersInputError, match=f"layout='{wrong}' contradicts the file"):
        load_cube(p, layout=wrong)


def test_tiff_ambiguous_shape_is_refused_without_layout(tmp_path, rng):
    cube = rng.random((6, 9, 6)).astype(np.float32)  # first and last axes equal: either could be bands
    p = tmp_path / "amb.tif"
    tifffile.imwrite(p, cube, photometric="minisblack")
    with pytest.raises(FersInputError, match=r"amb.tif: cannot tell the band axis of shape \(6, 9, 6\).*--layout"):
        load_cube(p)
    _same(load_cube(p, layout="bands_last"), cube)
    assert load_cube(p, layout="bands_first").shape == (9, 6, 6)
    np.save(tmp_path / "c.npy", cube)
    with pytest.raises(FersInputError, match="only applies to TIFF"):
        load_cube(tmp_path / "c.npy", layout="bands_first")
    with pytest.raises(FersInputError, match="layout must be"):
        load_cube(p, layout="bsq")


def test_geotiff_nodata_tag_masks_pixels(tmp_path, rng):
    cube = rng.integers(0, 4000, size=(7, 9, 5)).astype(np.int16)
    cube[0, :] = -9999
    p = tmp_path / "geo.tif"
    gdal_nodata = (42113, "s", 0, "-9999", True)  # the GeoTIFF no-data tag, as GDAL writes it
    tifffile.imwrite(p, cube, photometric="minisblack", planarconfig="contig", extratags=[gdal_nodata])
    s = load_cube(p)
    assert s.nodata == -9999 and s.info["nodata_source"] == "GeoTIFF GDAL_NODATA tag" and s.info["masked_pixels"] == 9
    assert np.isnan(s.cube[0]).all() and np.isfinite(s.cube[1:]).all()
    assert load_cube(p, nodata=0).info["masked_pixels"] == 0  # the caller's value overrides the file's


# --- ENVI: the header is checked against the data file ---

def _smooth_cube(rng, h=12, w=10, b=40):
    """(h, w, b) uint16 spectra that are smooth from band to band, as real ones are."""
    t = np.linspace(0, 3, b)
    base = 2000 + 800 * np.sin(t)[None, None] + rng.normal(0, 200, size=(h, w, 1)) * np.cos(t)[None, None]
    return (base + rng.normal(0, 5, size=(h, w, b))).astype(np.uint16)


def _set_header(hdr, **fields):
    import spectral.io.envi as envi

    h = envi.read_envi_header(str(hdr))
    for k, v in fields.items():
        k = k.replace("_", " ")
        if v is None:
            h.pop(k, None)
        else:
            h[k] = v
    envi.write_envi_header(str(hdr), h)


def test_envi_header_size_must_match_the_data_file(tmp_path, rng):
    """Issue 11 item 2: a BIP header saying 200 bands over 205-band data was read silently."""
    import spectral.io.envi as envi

    cube = rng.integers(0, 4000, size=(6, 5, 205)).astype(np.uint16)
    hdr = tmp_path / "e.hdr"
    envi.save_image(str(hdr), cube, interleave="bip")
    _set_header(hdr, bands="200")
    with pytest.raises(FersInputError, match=r"e.img: ENVI data file has 12300 bytes but the header describes 12000 "
                                             r"\(6 lines x 5 samples x 200 bands x 2 bytes \+ 0 offset\)"):
        load_cube(hdr)
    _set_header(hdr, bands="205", lines="5")  # fewer lines than stored
    with pytest.raises(FersInputError, match="header describes"):
        load_cube(hdr)
    _set_header(hdr, lines="6", data_type="3")  # int32: the file is too short for it
    with pytest.raises(FersInputError, match="truncated"):
        load_cube(hdr)
    _set_header(hdr, data_type="12", header_offset="8")
    with pytest.raises(FersInputError, match="truncated"):
        load_cube(hdr)
    _set_header(hdr, header_offset="0")
    _same(load_cube(hdr), cube)


@pytest.mark.parametrize("field,value,match", [
    ("data_type", "7", "'data type = 7' is not a known numeric type"),
    ("data_type", "6", "complex"),
    ("data_type", None, "no 'data type' field"),
    ("byte_order", None, "'byte order' is 'missing'"),
    ("byte_order", "2", "'byte order' is '2'"),
    ("interleave", "bsp", "'interleave' is 'bsp'"),
    ("samples", "ten", "'samples = ten' is not a whole number"),
])
def test_envi_header_fields_are_checked(tmp_path, rng, field, value, match):
    import spectral.io.envi as envi

    hdr = tmp_path / "e.hdr"
    envi.save_image(str(hdr), rng.integers(0, 9, size=(4, 3, 5)).astype(np.uint16))
    _set_header(hdr, **{field: value})
    with pytest.raises(FersInputError, match=match) as e:
        load_cube(hdr)
    assert str(e.value).startswith(str(hdr)) and "\n" not in str(e.value)


def test_envi_byte_order_is_reported_and_a_wrong_one_refused(tmp_path, rng):
    import spectral.io.envi as envi

    cube = _smooth_cube(rng)
    for order, name in ((0, "little-endian"), (1, "big-endian")):
        hdr = tmp_path / f"o{order}.hdr"
        envi.save_image(str(hdr), cube, byteorder=order, interleave="bsq")
        s = load_cube(hdr)
        _same(s, cube)
        assert s.info["byte_order"] == f"{name} (byte order = {order})" and s.info["data_type"] == "uint16"
        _set_header(hdr, byte_order=str(1 - order))  # the header now lies about the byte order
        with pytest.raises(FersInputError, match=rf"o{order}.img: the header's 'byte order = {1 - order}' .* looks "
                                                 rf"wrong: read that way the spectra are \d+x rougher .* as {name}"):
            load_cube(hdr)
    noise = tmp_path / "noise.hdr"  # spectra with no band-to-band structure: nothing to judge, accepted
    envi.save_image(str(noise), rng.integers(0, 60000, size=(8, 8, 20)).astype(np.uint16), byteorder=0)
    _set_header(noise, byte_order="1")
    assert load_cube(noise).info["byte_order"] == "big-endian (byte order = 1)"


def test_envi_data_ignore_value_masks_pixels(tmp_path, rng):
    import spectral.io.envi as envi

    cube = _smooth_cube(rng).astype(np.int16)
    cube[3, 4] = -1
    hdr = tmp_path / "n.hdr"
    envi.save_image(str(hdr), cube, metadata={"data ignore value": -1})
    s = load_cube(hdr)
    assert s.nodata == -1 and s.info["nodata_source"] == "ENVI header 'data ignore value'"
    assert s.info["masked_pixels"] == 1 and np.isnan(s.cube[3, 4]).all()
    m = load_cube(hdr, mmap=True)  # small: read into memory so the app's detect() sees the NaN
    assert not isinstance(m.cube, np.memmap) and np.isnan(m.cube[3, 4]).all()


@pytest.mark.parametrize("dtype", [np.uint16, np.float32])
def test_envi_wrong_byte_order_refused_on_a_real_scene(tmp_path, dtype):
    """abu-airport-1 as ENVI: read with the right byte order it is the scene; with the header's byte order
    flipped (AUC ~0.45 in issue 11) it is refused."""
    import spectral.io.envi as envi

    cube = load_verified_scene("abu/abu-airport-1.mat").cube.astype(dtype)
    hdr = tmp_path / "a1.hdr"
    envi.save_image(str(hdr), cube, byteorder=0, interleave="bil")
    _same(load_cube(hdr), cube)
    _set_header(hdr, byte_order="1")
    with pytest.raises(FersInputError, match="'byte order = 1' .* looks wrong"):
        load_cube(hdr)


@pytest.mark.parametrize("userblock", [0, 512, 2048])
def test_hdf5_mat_recognised_from_its_signature(tmp_path, userblock):
    """v7.3 detection reads the HDF5 signature at 0, 512, 1024, ... (as h5py.is_hdf5), without h5py."""
    from fers.io.mat import is_hdf5_mat

    path = tmp_path / "a.mat"
    with h5py.File(path, "w", **({"userblock_size": userblock} if userblock else {})) as f:
        f["x"] = np.zeros(3)
    assert is_hdf5_mat(path) and h5py.is_hdf5(str(path))
    scipy.io.savemat(tmp_path / "v5.mat", {"x": np.zeros(3)})
    (tmp_path / "short.mat").write_bytes(b"\x89HDF")
    assert not is_hdf5_mat(tmp_path / "v5.mat") and not is_hdf5_mat(tmp_path / "short.mat")
    assert not is_hdf5_mat(tmp_path / "missing.mat")
