"""Headers read without decoding (fers.io.peek): shapes, bytes per value, whether the reader memory-maps."""

import numpy as np
import pytest
import scipy.io

from fers.errors import FersInputError
from fers.io.npy import read_npy
from fers.io.peek import peek_cube, peek_gt


def test_npy_header_and_pickled_npy(tmp_path):
    np.save(tmp_path / "c.npy", np.zeros((7, 5, 3), np.int16))
    h = peek_cube(tmp_path / "c.npy")
    assert (h.shape, h.itemsize, h.mappable, h.values, h.hwb()) == ((7, 5, 3), 2, True, 105, (7, 5, 3))
    p = tmp_path / "obj.npy"
    np.save(p, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(FersInputError) as peeked:
        peek_cube(p)
    with pytest.raises(FersInputError) as read:
        read_npy(p)  # the reader's own message (without mmap): the app and the CLI say the same
    assert str(peeked.value) == str(read.value)
    (tmp_path / "junk.npy").write_bytes(b"\x93NUMPY garbage")
    assert peek_cube(tmp_path / "junk.npy") is None  # left to the reader, which says what is wrong


def test_tiff_header_without_decoding(tmp_path):
    tifffile = pytest.importorskip("tifffile")
    tifffile.imwrite(tmp_path / "plain.tif", np.zeros((8, 40, 30), np.float32))  # bands first
    h = peek_cube(tmp_path / "plain.tif")
    assert h.shape == (8, 40, 30) and h.itemsize == 4 and h.mappable and h.hwb() == (40, 30, 8)
    tile = np.zeros((256, 256, 4), np.uint16)
    tifffile.imwrite(tmp_path / "zip.tif", (tile for _ in range(64)), shape=(2048, 2048, 4), dtype=np.uint16,
                     tile=(256, 256), compression="zlib", planarconfig="contig")
    h = peek_cube(tmp_path / "zip.tif")
    assert h.shape == (2048, 2048, 4) and not h.mappable and h.nbytes == 2048 * 2048 * 4 * 2


def test_envi_and_mat_headers(tmp_path):
    spectral = pytest.importorskip("spectral")
    spectral.envi.save_image(str(tmp_path / "e.hdr"), np.zeros((6, 9, 4), np.uint16), dtype=np.uint16,
                             ext=".img", interleave="bil", force=True)
    for p in (tmp_path / "e.hdr", tmp_path / "e.img"):
        h = peek_cube(p)
        assert (h.shape, h.itemsize, h.mappable) == ((6, 9, 4), 2, True)
    scipy.io.savemat(tmp_path / "m.mat", {"data": np.zeros((5, 4, 3)), "map": np.eye(5, 4)})
    h = peek_cube(tmp_path / "m.mat")
    assert (h.shape, h.itemsize, h.mappable) == ((5, 4, 3), 8, False)
    assert peek_gt(tmp_path / "m.mat").shape == (5, 4)


def test_image_gt_header(tmp_path):
    from PIL import Image

    Image.fromarray(np.zeros((12, 17, 3), np.uint8)).save(tmp_path / "gt.png")
    assert peek_gt(tmp_path / "gt.png").shape == (12, 17, 3)
    assert peek_cube(tmp_path / "missing.npy") is None
