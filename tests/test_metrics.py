"""Pixel ROC-AUC, 3-D ROC areas and ROC curve points."""

from __future__ import annotations

import numpy as np
import pytest

from fers.errors import FersInputError
from fers.metrics import auc, auc_3d, pd_pf_tau, roc_curve_points


@pytest.fixture
def gt(rng):
    g = np.zeros((40, 50), dtype=bool)
    g[rng.integers(0, 40, 60), rng.integers(0, 50, 60)] = True
    return g


def test_perfect_inverted_random(gt, rng):
    perfect = gt * 2.0 + rng.random(gt.shape)  # every anomaly above every background pixel
    assert auc(perfect, gt) == 1.0
    assert auc(-perfect, gt) == 0.0
    rand = [auc(np.random.default_rng(s).random(gt.shape), gt) for s in range(5)]
    assert abs(np.mean(rand) - 0.5) < 0.05


def test_auc_3d_areas(gt, rng):
    s = rng.random(gt.shape) + gt * 0.5
    a = auc_3d(s, gt)
    assert a["auc_pd_pf"] == pytest.approx(auc(s, gt))
    # integral of P(score >= tau) over tau in [0, 1] is the mean normalised score of that class
    sn = (s - s.min()) / (s.max() - s.min())
    assert a["auc_pd_tau"] == pytest.approx(sn[gt].mean(), abs=1e-9)
    assert a["auc_pf_tau"] == pytest.approx(sn[~gt].mean(), abs=1e-9)
    assert a["auc_pd_tau"] > a["auc_pf_tau"]
    assert a["auc_odp"] == pytest.approx(a["auc_pd_pf"] + a["auc_pd_tau"] - a["auc_pf_tau"])
    perfect = auc_3d(gt.astype(float), gt)  # binary map: Pd = 1, Pf = 0 for every tau in (0, 1]
    assert perfect["auc_pd_pf"] == 1.0 and perfect["auc_pd_tau"] > 0.99 and perfect["auc_pf_tau"] < 0.01


def test_pd_pf_curves_monotone(gt, rng):
    tau, pd, pf = pd_pf_tau(rng.random(gt.shape), gt)
    assert tau[0] == 0.0 and tau[-1] == 1.0
    assert pd[0] == 1.0 and pf[0] == 1.0
    assert np.all(np.diff(pd) <= 0) and np.all(np.diff(pf) <= 0)


def test_roc_curve_points_downsampled(rng):
    g = rng.random((100, 100)) < 0.2
    s = rng.random((100, 100))
    fpr, tpr, thr = roc_curve_points(s, g, max_points=200)
    assert len(fpr) <= 200 and len(fpr) == len(tpr) == len(thr)
    assert fpr[0] == 0.0 and tpr[-1] == 1.0 and fpr[-1] == 1.0
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)
    assert abs(np.trapezoid(tpr, fpr) - auc(s, g)) < 0.01


def test_metric_input_errors(gt):
    with pytest.raises(FersInputError, match="no anomaly pixel"):
        auc(np.ones(gt.shape), np.zeros(gt.shape))
    with pytest.raises(FersInputError, match="every pixel"):
        auc(np.ones(gt.shape), np.ones(gt.shape))
    with pytest.raises(FersInputError, match="does not match"):
        auc(np.ones((3, 3)), gt)
    bad = np.ones(gt.shape)
    bad[0, 0] = np.inf
    with pytest.raises(FersInputError, match="Inf"):
        auc_3d(bad, gt)
    with pytest.raises(FersInputError, match="every pixel of the score map is NaN"):
        auc(np.full(gt.shape, np.nan), gt)


def test_nan_scores_are_left_out(gt, rng):
    s = rng.random(gt.shape)
    masked = np.zeros(gt.shape, bool)
    masked[:2] = True
    s_nan = np.where(masked, np.nan, s)
    assert auc(s_nan, gt) == pytest.approx(auc(s[~masked], gt[~masked]))
    assert auc_3d(s_nan, gt)["auc_pd_tau"] == pytest.approx(auc_3d(s[~masked], gt[~masked])["auc_pd_tau"])
    only_anomalies_masked = gt.astype(bool)
    with pytest.raises(FersInputError, match="no anomaly pixel among the pixels with data"):
        auc(np.where(only_anomalies_masked, np.nan, s), gt)


@pytest.mark.parametrize("ties", ["none", "rounded", "coarse"])
def test_auc_equals_sklearn_roc_auc_with_ties(rng, ties):
    """The NumPy AUC (average ranks) is scikit-learn's trapezoidal ROC area, ties included."""
    sk = pytest.importorskip("sklearn.metrics")
    s = rng.normal(size=(60, 70))
    s = {"none": s, "rounded": np.round(s, 1), "coarse": np.floor(s * 2)}[ties]
    g = rng.random((60, 70)) < 0.05
    g[0, 0], g[0, 1] = True, False
    assert auc(s, g) == pytest.approx(sk.roc_auc_score(g.ravel(), s.ravel()), abs=1e-12)
    assert auc_3d(s, g)["auc_pd_pf"] == pytest.approx(auc(s, g), abs=1e-15)
