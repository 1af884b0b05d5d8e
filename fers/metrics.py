"""Detection metrics for score maps ``(H, W)`` against a ground truth ``(H, W)`` bool.

NaN scores mark no-data pixels (:mod:`fers.nodata`): they are left out of every metric.

* :func:`auc` — pixel ROC-AUC, AUC(Pd, Pf): the Mann-Whitney statistic with tied scores given their
  average rank, which is exactly the trapezoidal ROC area of :func:`sklearn.metrics.roc_auc_score`
  (NumPy only: scikit-learn's import alone costs seconds on a cold CLI).
* :func:`auc_3d` — the 3-D ROC areas (Chang's 3D-ROC analysis; the paper itself reports AUC(Pd, Pf)): scores are
  min-max normalised to tau in [0, 1]; Pd(tau) = share of anomaly pixels with s >= tau,
  Pf(tau) = share of background pixels with s >= tau; AUC(Pd, tau) and AUC(Pf, tau) by the
  trapezoidal rule over every distinct threshold (exact for these step curves), AUC(Pd, Pf) as
  :func:`auc`.
* :func:`roc_curve_points` — a downsampled ROC curve for plots (imports scikit-learn when called).
"""

from __future__ import annotations

import numpy as np

from fers.errors import FersInputError


def _check(scores, gt, name=None) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(scores, dtype=np.float64)
    g = np.asarray(gt)
    if s.shape != g.shape:
        raise FersInputError(f"score map shape {s.shape} does not match ground truth shape {g.shape}", name)
    s = s.ravel()
    g = g.ravel() > 0
    where = ""
    scored = ~np.isnan(s)  # NaN marks a no-data pixel (fers.nodata): left out
    if not scored.all():
        if not scored.any():
            raise FersInputError("every pixel of the score map is NaN (no-data); an AUC cannot be computed", name)
        s, g, where = s[scored], g[scored], " among the pixels with data"
    n_pos = int(g.sum())
    if n_pos == 0:
        raise FersInputError(f"ground truth has no anomaly pixel{where}; an AUC cannot be computed", name)
    if n_pos == g.size:
        raise FersInputError(f"ground truth marks every pixel{where} as anomaly; an AUC cannot be computed", name)
    if not np.isfinite(s).all():
        raise FersInputError("score map contains Inf", name)
    return s, g


def _rank_auc(s: np.ndarray, g: np.ndarray) -> float:
    """ROC-AUC of checked scores ``s (P,)`` float64 and labels ``g (P,)`` bool (both classes present):
    ``(sum of the anomalies' ranks - n+ (n+ + 1) / 2) / (n+ n-)``, ties at their average rank."""
    order = np.argsort(s, kind="stable")
    ss = s[order]
    # tie groups of the sorted scores: group k spans [start[k], stop[k]), average 1-based rank (start+stop+1)/2
    edge = np.flatnonzero(np.diff(ss)) + 1
    start = np.concatenate(([0], edge))
    stop = np.concatenate((edge, [ss.size]))
    pos_per_group = np.add.reduceat(g[order].astype(np.int64), start)
    n_pos = int(pos_per_group.sum())
    n_neg = s.size - n_pos
    rank_sum = float(np.dot(pos_per_group, (start + stop + 1).astype(np.float64))) * 0.5
    return (rank_sum - n_pos * (n_pos + 1) * 0.5) / (float(n_pos) * n_neg)


def auc(scores, gt, name=None) -> float:
    """Pixel ROC-AUC of ``scores (H, W)`` against ``gt (H, W)`` (anomaly = ``gt > 0``)."""
    s, g = _check(scores, gt, name)
    return _rank_auc(s, g)


def roc_curve_points(scores, gt, max_points: int = 500, name=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(fpr, tpr, thresholds)`` of the ROC curve, at most ``max_points`` points (ends kept)."""
    from sklearn.metrics import roc_curve

    s, g = _check(scores, gt, name)
    fpr, tpr, thr = roc_curve(g, s, drop_intermediate=True)
    if len(fpr) > max_points:
        idx = np.unique(np.round(np.linspace(0, len(fpr) - 1, max_points)).astype(int))
        fpr, tpr, thr = fpr[idx], tpr[idx], thr[idx]
    return fpr, tpr, thr


def _normalised(scores, gt, name):
    s, g = _check(scores, gt, name)
    lo, hi = s.min(), s.max()
    s = (s - lo) / (hi - lo) if hi > lo else np.zeros_like(s)
    return s, g, np.unique(np.concatenate([[0.0, 1.0], s]))


def _share_at_least(sorted_scores, tau, strict=False) -> np.ndarray:
    """Share of ``sorted_scores`` that are ``>= tau`` (``> tau`` when strict)."""
    side = "right" if strict else "left"
    return 1.0 - np.searchsorted(sorted_scores, tau, side=side) / sorted_scores.size


def pd_pf_tau(scores, gt, name=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(tau, Pd(tau), Pf(tau))`` over tau = 0, every distinct normalised score, 1 (ascending)."""
    s, g, tau = _normalised(scores, gt, name)
    return tau, _share_at_least(np.sort(s[g]), tau), _share_at_least(np.sort(s[~g]), tau)


def _area_over_tau(sorted_scores, tau) -> float:
    """Exact trapezoid area under the step curve P(s >= tau) on [0, 1]: every knot is visited twice,
    at its value (>=) and just after it (>), so the jumps have zero width."""
    t2 = np.repeat(tau, 2)
    p2 = np.column_stack([_share_at_least(sorted_scores, tau), _share_at_least(sorted_scores, tau, True)]).ravel()
    return float(np.trapezoid(p2, t2))


def auc_3d(scores, gt, name=None) -> dict:
    """3-D ROC areas of ``scores (H, W)``: ``auc_pd_pf``, ``auc_pd_tau``, ``auc_pf_tau`` and the usual
    combinations ``auc_td`` (pd_pf + pd_tau), ``auc_bs`` (pd_pf - pf_tau), ``auc_snpr`` (pd_tau / pf_tau),
    ``auc_tdbs`` (pd_tau - pf_tau), ``auc_odp`` (pd_pf + pd_tau - pf_tau)."""
    s, g, tau = _normalised(scores, gt, name)
    a_pd_pf = _rank_auc(s, g)
    a_pd_tau = _area_over_tau(np.sort(s[g]), tau)
    a_pf_tau = _area_over_tau(np.sort(s[~g]), tau)
    return {
        "auc_pd_pf": a_pd_pf,
        "auc_pd_tau": a_pd_tau,
        "auc_pf_tau": a_pf_tau,
        "auc_td": a_pd_pf + a_pd_tau,
        "auc_bs": a_pd_pf - a_pf_tau,
        "auc_snpr": a_pd_tau / a_pf_tau if a_pf_tau > 0 else None,
        "auc_tdbs": a_pd_tau - a_pf_tau,
        "auc_odp": a_pd_pf + a_pd_tau - a_pf_tau,
    }
