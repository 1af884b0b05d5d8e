"""AE baseline (paper Sec. IV-B): seeded determinism, RNG hygiene, and it finds an obvious anomaly."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from fers.detectors.ae import AE_ITERS, ae_scores, build_ae  # noqa: E402


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """One torch thread: deterministic and much faster on a shared 2-core machine."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _cube():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(3, 16)).astype(np.float32)
    w = rng.dirichlet(np.ones(3), size=(24, 24)).astype(np.float32)
    cube = w @ base + 0.01 * rng.normal(size=(24, 24, 16)).astype(np.float32)
    cube[7, 11] = 3.0 * np.sin(np.arange(16))  # a spectrum unlike the background mixtures
    return cube


def test_same_seed_same_map_other_seed_other_map():
    cube = _cube()
    a = ae_scores(cube, seed=3)
    b = ae_scores(cube, seed=3)
    c = ae_scores(cube, seed=4)
    assert a.shape == (24, 24) and a.dtype == np.float64
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_global_rng_untouched_and_anomaly_found():
    cube = _cube()
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    s = ae_scores(cube, seed=0)
    assert torch.equal(torch.rand(3), expected)
    assert np.unravel_index(np.argmax(s), s.shape) == (7, 11)


def test_threads_argument_is_local_and_result_unchanged():
    cube = _cube()
    ref = ae_scores(cube, seed=2, iters=3)
    torch.set_num_threads(1)
    got = ae_scores(cube, seed=2, iters=3, threads=2)
    assert torch.get_num_threads() == 1
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-7)


def test_architecture_is_three_1x1_convs_each_side():
    convs = [m for m in build_ae(16) if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 6 and all(m.kernel_size == (1, 1) for m in convs)
    assert convs[0].in_channels == 16 and convs[-1].out_channels == 16 and AE_ITERS > 0


def test_constant_cube_and_bad_rank():
    s = ae_scores(np.ones((8, 8, 4), np.float32), iters=2)
    assert np.all(np.isfinite(s))
    with pytest.raises(ValueError):
        ae_scores(np.ones((8, 8), np.float32))


def test_pixel_chunks_give_the_full_batch_result():
    """Large scenes train on pixel chunks whose gradients are summed (bounded memory): the same maps as
    one full batch, up to float summation order."""
    cube = _cube()  # 576 pixels
    whole = ae_scores(cube, seed=5, iters=4)
    chunked = ae_scores(cube, seed=5, iters=4, chunk=100)  # 6 chunks, the last one short
    np.testing.assert_allclose(chunked, whole, rtol=1e-4, atol=1e-7)
    assert not np.array_equal(whole, ae_scores(cube, seed=5, iters=5))  # the test can tell runs apart
