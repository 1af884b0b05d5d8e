"""Streaming global RX, streaming normalisation and the memory-bounded large-scene path."""

import numpy as np
import pytest

from fers.detectors.rx import rx
from fers.detectors.rx_stream import RXAccumulator, rx_streaming
from fers.large.scene import detect_large, minmax_streaming, release_pages
from fers.methods import method_maps
from fers.normalize import normalize_cube, normalize_with


def _cube(rng, shape, offset=1000.0):
    b = shape[2]
    mix = rng.normal(size=(b, b))
    x = rng.normal(size=shape) @ mix + offset * np.linspace(1.0, 2.0, b)  # correlated, large mean
    return x.astype(np.float32)


@pytest.mark.parametrize("chunk_rows", [1, 5, 64])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_streaming_equals_in_memory(chunk_rows, dtype):
    rng = np.random.default_rng(0)
    cube = _cube(rng, (37, 23, 12)).astype(dtype)
    ref = rx(cube)
    np.testing.assert_allclose(rx_streaming(cube, chunk_rows=chunk_rows), ref, rtol=1e-6, atol=1e-6 * ref.max())


def test_rank_deficient_cube_matches_too():
    rng = np.random.default_rng(7)
    cube = _cube(rng, (20, 15, 6))
    cube[..., 4] = cube[..., 1]  # duplicated band -> eigenvalue cut-off path
    ref = rx(cube)
    got = rx_streaming(cube, chunk_rows=6)
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5 * ref.max())


def test_accumulator_matches_numpy_cov():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(500, 7)) * 3 + 1e4
    acc = RXAccumulator(7)
    for i in range(0, 500, 37):
        acc.add(x[i : i + 37])
    mean, cov = acc.mean_cov()
    np.testing.assert_allclose(mean, x.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(cov, np.cov(x, rowvar=False), rtol=1e-9)


def test_memmapped_npy_streams(tmp_path):
    from fers.io.cube import load_cube

    rng = np.random.default_rng(2)
    path = tmp_path / "scene.npy"
    cube = np.round(_cube(rng, (30, 20, 8), offset=500.0)).astype(np.int16)
    mm = np.lib.format.open_memmap(path, mode="w+", dtype=np.int16, shape=cube.shape)
    for r in range(0, 30, 7):  # written chunk by chunk, as the large-cube benchmark does
        mm[r : r + 7] = cube[r : r + 7]
    mm.flush()
    del mm
    scene = load_cube(path, mmap=True)
    assert isinstance(scene.cube, np.memmap)
    ref = rx(cube)  # same stored dtype in memory
    np.testing.assert_allclose(rx_streaming(scene.cube, chunk_rows=4), ref, rtol=1e-6, atol=1e-6 * ref.max())
    lo, hi = minmax_streaming(scene.cube, chunk_rows=3)
    assert (lo, hi) == (float(cube.min()), float(cube.max()))
    np.testing.assert_array_equal(normalize_with(scene.cube[:], lo, hi), normalize_cube(cube))


class _StandIn:
    """Numpy stand-in enhancer: a per-pixel map (like Spe-FEN) and an image-mean term (like Spa-FEN)."""

    def __init__(self, n):
        self.n_bands = n
        self.m = np.random.default_rng(9).normal(size=(n, n)).astype(np.float32) / n

    def enhance(self, h):
        spe = np.tanh(h @ self.m).astype(np.float32)
        spa = (np.abs(h - h.mean(axis=(0, 1))) * 0.5).astype(np.float32)
        return spe, spa


def test_detect_large_equals_in_memory_maps():
    rng = np.random.default_rng(3)
    cube = _cube(rng, (40, 33, 10))
    enh = _StandIn(10)
    maps, sec = detect_large(cube, enh, tile=64, overlap=16, chunk_rows=7)  # one tile: exact
    h = normalize_cube(cube)
    ref = method_maps(h, *enh.enhance(h))
    assert set(maps) == set(ref) and "enhance" in sec
    for m in ref:
        np.testing.assert_allclose(maps[m], ref[m], rtol=1e-6, atol=1e-6 * ref[m].max(), err_msg=m)
    only_rx, _ = detect_large(cube, None, chunk_rows=5)
    assert list(only_rx) == ["rx"]
    np.testing.assert_allclose(only_rx["rx"], ref["rx"], rtol=1e-6, atol=1e-6 * ref["rx"].max())


def test_detect_large_on_a_memmap_releases_pages_safely(tmp_path):
    rng = np.random.default_rng(4)
    cube = _cube(rng, (30, 26, 8))
    np.save(tmp_path / "c.npy", cube)
    mm = np.load(tmp_path / "c.npy", mmap_mode="r")
    enh = _StandIn(8)
    maps, _ = detect_large(mm, enh, tile=16, overlap=8, chunk_rows=4)  # several tiles, pages dropped often
    release_pages(mm)
    np.testing.assert_array_equal(np.asarray(mm), cube)  # data intact after dropping the pages
    h = normalize_cube(cube)
    ref = method_maps(h, *enh.enhance(h))  # the stand-in is per-pixel/global-mean: tiles ~ untiled
    np.testing.assert_allclose(maps["rx"], ref["rx"], rtol=1e-6, atol=1e-6 * ref["rx"].max())
    # float32 row chunks vs one pass: summation order moves a few scores by up to ~1e-4 relative (7.5e-5 seen)
    np.testing.assert_allclose(maps["spectral"], ref["spectral"], rtol=2e-4, atol=1e-5 * ref["spectral"].max())
