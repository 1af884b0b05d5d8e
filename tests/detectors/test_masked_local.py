"""Issue 18 item 14: local RX and the AE leave masked (no-data) pixels out of their statistics --
local RX out of every window's mean and covariance, the AE out of its scaling and training loss. So
whatever value a masked pixel holds, the scores of the valid pixels do not change."""

from __future__ import annotations

import numpy as np
import pytest

from fers.detectors.lrx import local_rx


def _cube_and_mask(seed=0, h=14, w=13, b=4):
    rng = np.random.default_rng(seed)
    cube = rng.normal(size=(h, w, b))
    valid = np.ones((h, w), bool)
    valid[[2, 6, 6, 10], [3, 5, 6, 9]] = False
    return cube, valid


def test_local_rx_ignores_masked_pixels_in_its_windows():
    cube, valid = _cube_and_mask()
    a, b = cube.copy(), cube.copy()
    a[~valid], b[~valid] = 50.0, -80.0  # two different fills
    sa, sb = local_rx(a, 3, 7, valid=valid), local_rx(b, 3, 7, valid=valid)
    np.testing.assert_allclose(sa[valid], sb[valid], rtol=1e-9)
    assert not np.allclose(local_rx(a, 3, 7)[valid], local_rx(b, 3, 7)[valid])  # unmasked they differ
    # one pixel by hand: background = outer 7x7 minus inner 3x3 window, valid pixels only
    r, c = 6, 7
    win = np.zeros_like(valid)
    win[r - 3 : r + 4, c - 3 : c + 4] = True
    win[r - 1 : r + 2, c - 1 : c + 2] = False
    bg = a[win & valid]
    d = a[r, c] - bg.mean(axis=0)
    ref = d @ np.linalg.solve(np.cov(bg, rowvar=False), d)
    np.testing.assert_allclose(sa[r, c], ref, rtol=1e-8)


def test_ae_ignores_masked_pixels_in_training():
    pytest.importorskip("torch")
    from fers.detectors.ae import ae_scores

    cube, valid = _cube_and_mask(1, b=6)
    a, b = cube.copy(), cube.copy()
    a[~valid], b[~valid] = 40.0, -40.0
    sa = ae_scores(a, iters=5, threads=1, valid=valid)
    sb = ae_scores(b, iters=5, threads=1, valid=valid)
    np.testing.assert_allclose(sa[valid], sb[valid], rtol=1e-5, atol=1e-9)
    ua, ub = ae_scores(a, iters=5, threads=1), ae_scores(b, iters=5, threads=1)
    assert not np.allclose(ua[valid], ub[valid], rtol=1e-3)
    sc = ae_scores(a, iters=5, threads=1, valid=valid, chunk=40)  # the chunked gradient: same mask
    np.testing.assert_allclose(sc[valid], sa[valid], rtol=1e-3, atol=1e-6)
