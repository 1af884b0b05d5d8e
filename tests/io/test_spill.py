"""A compressed cube too big to decode in memory is spilled to a temporary memory map (fers.memmap.spill)
and streamed: EMIT NetCDF loaded with ``mmap=True``."""

import numpy as np
import pytest

pytest.importorskip("xarray")

import fers.io.products.emit as emit  # noqa: E402
from fers.errors import FersInputError, FersResourceError  # noqa: E402
from fers.io import load_cube  # noqa: E402
from fers.memmap import spill  # noqa: E402
from tests.io.make_products import make_emit  # noqa: E402


def test_big_emit_cube_becomes_a_memory_map_and_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("FERS_CACHE", str(tmp_path / "cache"))
    prod = make_emit(tmp_path / "g.nc", rows=30, cols=12, bands=24)
    monkeypatch.setattr(emit, "LARGE_MEMMAP_BYTES", 1000)
    monkeypatch.setattr("fers.memmap.LARGE_MEMMAP_BYTES", 1000)  # load_cube keeps such a map a map
    monkeypatch.setattr(emit, "SPILL_BLOCK_BYTES", 12 * 24 * 4 * 7)  # 7 rows a block: several blocks
    scene = load_cube(prod.path, mmap=True)
    assert isinstance(scene.cube, np.memmap) and scene.cube.dtype == np.float32
    expected = np.where(np.isnan(prod.cube), -9999.0, prod.cube)  # a map keeps the fill value; detect masks it
    np.testing.assert_array_equal(np.asarray(scene.cube), expected)
    assert scene.nodata == -9999.0 and scene.info["masked_pixels"] == len(prod.fill_pixels)
    assert list((tmp_path / "cache" / "spill").iterdir()) == []  # unlinked once mapped
    small = load_cube(prod.path)  # without mmap: decoded in memory as before
    assert not isinstance(small.cube, np.memmap)


def test_spill_refuses_when_the_disk_is_too_small(tmp_path, monkeypatch):
    monkeypatch.setenv("FERS_CACHE", str(tmp_path))
    with pytest.raises(FersResourceError, match="needs .* GiB of disk"):
        spill((10**6, 1000, 300), lambda a, b: None, 1)
    with pytest.raises(FersInputError, match="rows 0:2 read as"):
        spill((4, 3, 2), lambda a, b: np.zeros((1, 3, 2)), 2)
    assert list((tmp_path / "spill").iterdir()) == []
