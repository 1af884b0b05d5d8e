"""Every kind of bad input gives a one-line FersInputError naming the file (never a traceback)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.io
from PIL import Image

import fers.nodata as nodata
from fers.errors import FersInputError
from fers.io.cube import load_cube, load_gt, validate_cube
from tests.io.test_formats import write_mat73


def _raises(match, fn, *args, **kw) -> str:
    with pytest.raises(FersInputError, match=match) as e:
        fn(*args, **kw)
    msg = str(e.value)
    assert "\n" not in msg
    return msg


def _cut_in_half(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.fixture
def cube(rng):
    return rng.random((6, 5, 4)).astype(np.float32)


def test_truncated_npy(tmp_path, cube):
    p = tmp_path / "t.npy"
    np.save(p, cube)
    _cut_in_half(p)
    assert "t.npy" in _raises("corrupt or truncated", load_cube, p)
    _raises("corrupt or truncated", load_cube, p, mmap=True)


@pytest.mark.parametrize("compress", [False, True])
def test_truncated_mat_v5(tmp_path, cube, compress):
    p = tmp_path / "t.mat"
    scipy.io.savemat(p, {"data": cube, "map": np.ones((6, 5))}, do_compression=compress)
    _cut_in_half(p)
    assert "t.mat" in _raises(r"corrupt|truncated", load_cube, p)


def test_truncated_mat_v73(tmp_path, cube):
    p = tmp_path / "t73.mat"
    write_mat73(p, {"data": cube})
    _cut_in_half(p)
    assert "t73.mat" in _raises(r"corrupt|truncated|cannot read", load_cube, p)


def test_garbage_and_unknown_extension(tmp_path):
    p = tmp_path / "junk.mat"
    p.write_bytes(b"this is not a MATLAB file at all" * 10)
    _raises("cannot read MATLAB", load_cube, p)
    q = tmp_path / "junk.npy"
    q.write_text("hello")
    _raises("cannot read .npy", load_cube, q)
    r = tmp_path / "cube.xyz"
    r.write_bytes(b"x")
    assert "cube.xyz" in _raises("unknown cube file type '.xyz'", load_cube, r)
    _raises("file not found", load_cube, tmp_path / "missing.npy")
    _raises("folder", load_cube, tmp_path)


def test_pickled_npy_refused(tmp_path):
    p = tmp_path / "obj.npy"
    np.save(p, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    _raises("pickled", load_cube, p)


def test_no_3d_array_and_wrong_rank(tmp_path, cube):
    p = tmp_path / "flat.mat"
    scipy.io.savemat(p, {"img": cube[..., 0], "other": np.arange(3.0)})
    _raises(r"no 3-D array .*img", load_cube, p)
    for shape in [(6, 5), (2, 3, 4, 5)]:
        q = tmp_path / f"rank{len(shape)}.npy"
        np.save(q, np.zeros(shape, np.float32))
        _raises(f"has {len(shape)} dimension", load_cube, q)


def test_nan_inf_pixels_are_no_data_and_too_few_bands(tmp_path, cube):
    for bad in (np.nan, np.inf, -np.inf):  # one bad value masks its pixel; the file is no longer refused
        c = cube.copy()
        c[4, 3, 2] = bad
        p = tmp_path / "bad.npy"
        np.save(p, c)
        s = load_cube(p)
        assert s.info["masked_pixels"] == 1 and np.isnan(s.cube[4, 3]).all() and np.isfinite(s.cube[:4]).all()
        m = load_cube(p, mmap=True)  # a memory map is left as stored; detect() masks it again
        assert isinstance(m.cube, np.memmap) and m.info["masked_pixels"] == 1
    np.save(tmp_path / "all_nan.npy", np.full((3, 2, 4), np.nan, np.float32))
    assert "all_nan.npy" in _raises(r"every pixel is no-data \(NaN/Inf\)", load_cube, tmp_path / "all_nan.npy")
    one = tmp_path / "one.npy"
    np.save(one, cube[..., :1])
    _raises(r"1 band\(s\); at least 2", load_cube, one)
    _raises("non-numeric", validate_cube, np.zeros((2, 2, 2), dtype=complex))


def test_no_data_found_in_later_chunk_of_memmap(tmp_path, monkeypatch, rng):
    c = rng.random((40, 8, 3))
    c[37, 1, 2] = np.nan
    p = tmp_path / "big.npy"
    np.save(p, c)
    monkeypatch.setattr(nodata, "SCAN_CHUNK_BYTES", 8 * 8 * 3 * 4)  # 4 rows per chunk
    s = load_cube(p, mmap=True)
    assert s.info["masked_pixels"] == 1
    assert not nodata.scan_cube(s.cube).valid[37, 1]


def test_gt_problems(tmp_path, cube):
    np.save(tmp_path / "c.npy", cube)
    Image.fromarray(np.zeros((5, 6), np.uint8)).save(tmp_path / "wrong.png")
    _raises(r"shape \(5, 6\) does not match .* \(6, 5\)", load_cube, tmp_path / "c.npy",
            gt_path=tmp_path / "wrong.png")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    _raises("cannot read image", load_gt, tmp_path / "broken.png")
    (tmp_path / "g.txt").write_text("1 0")
    _raises("unknown ground-truth file type", load_gt, tmp_path / "g.txt")
    _raises("not found", load_gt, tmp_path / "none.png")


def test_max_bytes_guard(tmp_path, cube):
    p = tmp_path / "c.npy"
    np.save(p, cube)
    _raises("file too large", load_cube, p, max_bytes=100)
    z = tmp_path / "z.mat"  # compresses to almost nothing but needs 8 MB in memory
    scipy.io.savemat(z, {"data": np.zeros((100, 100, 200))}, do_compression=True)
    assert z.stat().st_size < 100_000
    _raises("needs .* MiB in memory", load_cube, z, max_bytes=1_000_000)
    assert load_cube(p, max_bytes=10**6).cube.shape == (6, 5, 4)


def test_truncated_envi_data(tmp_path, cube):
    import spectral.io.envi as envi

    envi.save_image(str(tmp_path / "e.hdr"), cube)
    _cut_in_half(tmp_path / "e.img")
    _raises("truncated", load_cube, tmp_path / "e.hdr")
    (tmp_path / "e.img").unlink()
    _raises("no data file", load_cube, tmp_path / "e.hdr")


def test_float64_values_beyond_float32_range(tmp_path, cube):
    c = cube.astype(np.float64)
    c[1, 1, 1] = 1e300
    np.save(tmp_path / "huge.npy", c)
    _raises(r"converted to float32\) has 1 values beyond float32's range", load_cube, tmp_path / "huge.npy")


def test_key_only_for_mat(tmp_path, cube):
    np.save(tmp_path / "c.npy", cube)
    _raises("only applies to .mat", load_cube, tmp_path / "c.npy", key="data")
