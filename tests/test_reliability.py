"""The label-free reliability weight and fusion (fers/reliability.py) on seeded synthetic cubes."""

from __future__ import annotations

import numpy as np
import pytest

from fers import reliability as R
from fers.detectors.rx import rx
from fers.methods import minmax, product_of


def _scene(seed=0, h=32, w=32, b=12):
    """Gaussian background ``(h, w, b)`` with four 2x2 panels far from it, and their mask."""
    rng = np.random.default_rng(seed)
    cube = rng.normal(0.0, 1.0, size=(h, w, b))
    gt = np.zeros((h, w), bool)
    for r, c in ((4, 4), (4, 24), (24, 4), (24, 24)):
        gt[r : r + 2, c : c + 2] = True
    cube[gt] += 8.0 * np.linspace(-1, 1, b)
    return cube, gt


def test_weight_is_one_for_a_branch_equal_to_rx_and_low_for_one_that_hides_the_panels():
    cube, _ = _scene()
    r0 = rx(cube)
    rng = np.random.default_rng(1)
    # a branch whose features drown the panels: strong independent noise features
    hidden = rx(cube + rng.normal(0.0, 30.0, size=cube.shape))
    for weight in R.WEIGHTS:
        assert R.branch_weight(r0, r0, weight) == pytest.approx(1.0)
        assert R.branch_weight(r0, hidden, weight) < 0.5
    assert R.top_overlap(r0, 2.0 * r0 + 1.0) == 1.0  # rank statistics: monotone maps agree fully
    assert R.spearman(r0, -r0) == pytest.approx(-1.0)
    assert R.branch_weight(r0, -r0, "rank") == 0.0  # clipped at 0


def test_fusion_limits_are_fusion_a_and_plain_rx():
    cube, _ = _scene(2)
    rng = np.random.default_rng(3)
    r0, ra, rb = rx(cube), rx(cube + rng.normal(size=cube.shape)), rx(cube + rng.normal(size=cube.shape))
    # both branches fully reliable: fusion A (eq. 22) exactly
    assert np.allclose(R.pulled(r0, ra, 1.0) * R.pulled(r0, rb, 1.0), product_of(ra, rb))
    # both unreliable: minmax(RX)^2, the ranking of plain RX
    both0 = R.pulled(r0, ra, 0.0) * R.pulled(r0, rb, 0.0)
    assert np.allclose(both0, minmax(r0) ** 2)
    # the fusion uses the measured weights
    wa, wb = R.weights(r0, ra, rb)
    assert np.allclose(R.reliability_fusion(r0, ra, rb), R.pulled(r0, ra, wa) * R.pulled(r0, rb, wb))


def test_fusion_recovers_rx_when_a_branch_hides_the_panels():
    from sklearn.metrics import roc_auc_score

    cube, gt = _scene(4)
    rng = np.random.default_rng(5)
    r0 = rx(cube)
    good = rx(cube + 0.1 * rng.normal(size=cube.shape))
    bad = rx(cube + rng.normal(0.0, 30.0, size=cube.shape))

    def auc(m):
        return roc_auc_score(gt.ravel(), m.ravel())

    assert auc(r0) > 0.99 and auc(bad) < 0.8
    # one branch: the reliability fusion stays at plain RX's level where the branch alone falls
    assert auc(R.reliability_fusion(r0, bad)) > auc(r0) - 0.01
    # two branches: no worse than fusion A's product, and at plain RX's level
    both = auc(R.reliability_fusion(r0, good, bad))
    assert both >= auc(product_of(good, bad)) and both > auc(r0) - 0.01


def test_nan_pixels_are_left_out_and_stay_nan():
    cube, _ = _scene(6)
    r0 = rx(cube)
    r1 = r0 + 0.01 * np.random.default_rng(7).normal(size=r0.shape)
    r0n, r1n = r0.copy(), r1.copy()
    r0n[0, :5] = np.nan
    r1n[3, 3] = np.inf
    ok = np.isfinite(r0n) & np.isfinite(r1n)
    assert R.top_overlap(r0n, r1n) == pytest.approx(R.top_overlap(r0[ok], r1[ok]))
    assert R.spearman(r0n, r1n) == pytest.approx(R.spearman(r0[ok], r1[ok]))
    out = R.reliability_fusion(r0n, r1n)
    assert np.isnan(out[0, :5]).all() and np.isfinite(out[ok]).all()


def test_unknown_weight_is_refused():
    with pytest.raises(ValueError, match="unknown reliability weight"):
        R.branch_weight(np.zeros((4, 4)), np.zeros((4, 4)), "entropy")
