"""Local (dual-window) RX: agreement with SPy's ``spectral.rx(X, window=...)``, border modes, ridge."""

import numpy as np
import pytest

from fers.detectors.lrx import local_rx, window_ranges


def _brute(x, inner, outer, border, ridge):
    """Per-pixel reference: explicit window masks, np.cov, ridge only where n - 1 < B."""
    h, w, b = x.shape
    ro, co = window_ranges(h, outer, border), window_ranges(w, outer, border)
    ri, ci = window_ranges(h, inner, border), window_ranges(w, inner, border)
    out = np.zeros((h, w))
    for i in range(h):
        for j in range(w):
            m = np.zeros((h, w), bool)
            m[ro[0][i]:ro[1][i], co[0][j]:co[1][j]] = True
            m[ri[0][i]:ri[1][i], ci[0][j]:ci[1][j]] = False
            p = x[m]
            cov = np.cov(p, rowvar=False)
            if len(p) - 1 < b:
                cov = cov + ridge * np.trace(cov) / b * np.eye(b)
            d = x[i, j] - p.mean(axis=0)
            out[i, j] = d @ np.linalg.solve(cov, d)
    return out


@pytest.mark.parametrize("shape,win", [((20, 20, 6), (3, 7)), ((17, 23, 5), (1, 9))])
def test_matches_spectral_rx(shape, win):
    spectral = pytest.importorskip("spectral")
    rng = np.random.default_rng(3)
    x = (rng.normal(size=shape) + np.linspace(0.0, 5.0, shape[2])).astype(np.float32)
    x[5, 7] += 4.0  # an anomaly
    ours = local_rx(x, *win)
    ref = spectral.rx(x, window=win)  # float32 output
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=0)
    assert np.unravel_index(np.argmax(ours), ours.shape) == (5, 7)


@pytest.mark.parametrize("border", ["shift", "clip"])
def test_matches_brute_force_including_small_windows(border):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(11, 9, 6)) * np.arange(1, 7)
    for win in [(1, 5), (3, 7), (1, 3)]:  # (1, 3): 8 background pixels for 6 bands -> ridge at borders
        np.testing.assert_allclose(local_rx(x, *win, border=border), _brute(x, *win, border, 1e-3), rtol=1e-9)


def test_column_strips_and_windows_larger_than_image():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(13, 10, 4))
    np.testing.assert_allclose(local_rx(x, 3, 7, max_bytes=1), local_rx(x, 3, 7), rtol=1e-12)
    big = local_rx(x, 3, 31)  # outer window bigger than the image: whole axis
    np.testing.assert_allclose(big, _brute(x, 3, 31, "shift", 1e-3), rtol=1e-9)


def test_degenerate_input_stays_finite():
    rng = np.random.default_rng(6)
    x = rng.normal(size=(10, 10, 5))
    x[..., 2] = 7.0  # a constant band: every window covariance is singular
    s = local_rx(x, 1, 5)
    assert np.all(np.isfinite(s)) and s.max() > 0
    assert np.all(local_rx(np.ones((8, 8, 3)), 1, 5) == 0)


@pytest.mark.parametrize("win", [(4, 9), (3, 3), (5, 3), (0, 5)])
def test_bad_windows_raise(win):
    with pytest.raises(ValueError):
        local_rx(np.zeros((10, 10, 3)), *win)


def test_fallback_for_failed_factorisations_gives_the_same_scores(monkeypatch):
    """Windows whose Cholesky fails go through the explicit-covariance path; it must agree (ridge included)."""
    import fers.detectors.lrx as lrx

    rng = np.random.default_rng(7)
    x = rng.normal(size=(12, 10, 6)) * np.arange(1, 7) + 50.0
    ref = {win: local_rx(x, *win) for win in [(1, 3), (3, 7)]}  # (1, 3): 8 pixels for 6 bands -> ridge
    real, calls = lrx._potrf, [0]

    def flaky(a, **kw):
        calls[0] += 1
        if calls[0] % 3 == 0:
            return a, 1  # report "not positive definite" for every third pixel
        return real(a, **kw)

    monkeypatch.setattr(lrx, "_potrf", flaky)
    for win, r in ref.items():
        np.testing.assert_allclose(local_rx(x, *win), r, rtol=1e-8)
    assert calls[0] >= 2 * x.shape[0] * x.shape[1]


def test_progress_counts_the_cube_rows_and_threads_agree(monkeypatch):
    """The bar's total is H rows however many column strips and row blocks there are, and it ends at H;
    scores on 1 and 3 threads agree to rounding (each row block restarts its running sums)."""
    import contextlib

    import fers.detectors.lrx as lrx

    seen = []

    class Bar:
        def __init__(self, total=None, **kw):
            self.total, self.n = total, 0.0
            seen.append(self)

        def update(self, k=1):
            self.n += k

    monkeypatch.setattr(lrx, "bar", lambda **kw: contextlib.nullcontext(Bar(**kw)))
    cube = np.random.default_rng(3).normal(size=(13, 17, 4))
    monkeypatch.setenv("FERS_THREADS", "1")
    one = local_rx(cube, 1, 5, max_bytes=20_000)  # several column strips
    monkeypatch.setenv("FERS_THREADS", "3")
    three = local_rx(cube, 1, 5, max_bytes=20_000)
    np.testing.assert_allclose(three, one, rtol=1e-10)
    assert [b.total for b in seen] == [13, 13] and all(b.n == pytest.approx(13) for b in seen)


@pytest.mark.parametrize("threads", ["1", "2"])
def test_matches_spectral_rx_to_1e6_on_float64(monkeypatch, threads):
    """On a float64 cube (SPy then computes in float64 and rounds its output to float32) the scores
    agree to 1e-6 relative, on one thread and on two row blocks, with column strips."""
    spectral = pytest.importorskip("spectral")
    monkeypatch.setenv("FERS_THREADS", threads)
    rng = np.random.default_rng(11)
    x = rng.normal(size=(18, 21, 7)) + np.linspace(0.0, 3.0, 7)
    x[..., 4] += 0.7 * x[..., 1]  # correlated bands
    ours = local_rx(x, 3, 9, max_bytes=40_000)
    ref = np.asarray(spectral.rx(x, window=(3, 9)), dtype=np.float64)
    np.testing.assert_allclose(ours, ref, rtol=1e-6, atol=0)
