"""Label-free reliability of an enhanced map on one scene, and the fusion that uses it.

The paper fuses the two branches with fixed weights (fusion A, eq. 20-22: the product of the min-max
normalised maps RX(H + F_spa) and RX(H + F_spe)). An enhancement trained on other sensors can move a
scene's clear outliers down (docs/results.md, "Leave-one-sensor-out"). Without labels we can still
measure how far an enhanced map keeps what plain RX (eq. 17) already sees on *this* scene, and pull
a branch that does not keep it back toward plain RX:

* ``top_overlap(r0, rb)``: the fraction of the top ``fraction`` (1 %) pixels of RX(H) that are also in
  the top ``fraction`` of RX(H + F_b);
* ``spearman(r0, rb)``: Spearman rank correlation of the two maps over all pixels.

A branch's weight ``w_b`` in [0, 1] is one of them (clipped at 0). The reliability-weighted fusion is

    m_b   = w_b * minmax(RX(H + F_b)) + (1 - w_b) * minmax(RX(H))       for b in (spa, spe)
    score = m_spa * m_spe

so ``w_b = 1`` for both branches is fusion A (eq. 22) and ``w_b = 0`` for both has the ranking of
plain RX. Maps are ``(H, W)`` float arrays; NaN pixels (no-data) are left out of every statistic and
stay NaN in the output. Nothing here depends on labels or on the training code.
"""

from __future__ import annotations

import numpy as np

TOP_FRACTION = 0.01
WEIGHTS = ("top", "rank")  # the weight definitions: top_overlap, spearman
DEFAULT_WEIGHT = "top"


def _finite(*maps) -> np.ndarray:
    ok = np.ones(np.shape(maps[0]), dtype=bool)
    for m in maps:
        ok &= np.isfinite(m)
    return ok


def _ranks(v: np.ndarray) -> np.ndarray:
    """Ranks 0..n-1 of a 1-D array (ties broken by position; float maps rarely tie)."""
    r = np.empty(v.size, dtype=np.float64)
    r[np.argsort(v, kind="stable")] = np.arange(v.size, dtype=np.float64)
    return r


def spearman(a, b) -> float:
    """Spearman rank correlation of two ``(H, W)`` maps over their common finite pixels (1.0 when
    either map is constant there and they are equal, else 0.0 for a constant map)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    ok = _finite(a, b)
    x, y = a[ok], b[ok]
    if x.size < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return 1.0 if np.array_equal(x, y) else 0.0
    rx, ry = _ranks(x), _ranks(y)
    rx -= rx.mean()
    ry -= ry.mean()
    return float(np.dot(rx, ry) / np.sqrt(np.dot(rx, rx) * np.dot(ry, ry)))


def top_overlap(ref, other, fraction: float = TOP_FRACTION) -> float:
    """Fraction of the ``k = max(1, round(fraction * n))`` highest pixels of ``ref (H, W)`` that are
    among the ``k`` highest of ``other (H, W)`` (n: common finite pixels). 1.0 = same top set."""
    a, b = np.asarray(ref, np.float64), np.asarray(other, np.float64)
    ok = _finite(a, b)
    x, y = a[ok], b[ok]
    if x.size == 0:
        return 1.0
    k = max(1, round(fraction * x.size))
    ta = np.argpartition(-x, k - 1)[:k]
    tb = np.argpartition(-y, k - 1)[:k]
    return float(np.intersect1d(ta, tb).size / k)


def branch_weight(rx_map, branch_map, weight: str = DEFAULT_WEIGHT, fraction: float = TOP_FRACTION) -> float:
    """Reliability ``w_b`` in [0, 1] of ``branch_map = RX(H + F_b)`` against ``rx_map = RX(H)`` (both ``(H, W)``)."""
    if weight == "top":
        return top_overlap(rx_map, branch_map, fraction)
    if weight == "rank":
        return max(0.0, spearman(rx_map, branch_map))
    raise ValueError(f"unknown reliability weight {weight!r}; one of {', '.join(WEIGHTS)}")


def _minmax(s: np.ndarray) -> np.ndarray:
    ok = np.isfinite(s)
    if not ok.any():
        return np.full_like(s, np.nan)
    lo, hi = float(s[ok].min()), float(s[ok].max())
    return (s - lo) / (hi - lo) if hi > lo else np.where(ok, 0.0, np.nan)


def pulled(rx_map, branch_map, w: float) -> np.ndarray:
    """``w * minmax(branch_map) + (1 - w) * minmax(rx_map)``: ``(H, W)`` float64 in [0, 1]."""
    r0, rb = np.asarray(rx_map, np.float64), np.asarray(branch_map, np.float64)
    return w * _minmax(rb) + (1.0 - w) * _minmax(r0)


def weights(rx_map, *branch_maps, weight: str = DEFAULT_WEIGHT) -> list:
    """``[w_b]`` of every branch map against ``rx_map``."""
    return [branch_weight(rx_map, b, weight) for b in branch_maps]


def reliability_fusion(rx_map, *branch_maps, weight: str = DEFAULT_WEIGHT) -> np.ndarray:
    """``prod_b pulled(RX(H), RX(H + F_b), w_b)`` over the given branch maps (all ``(H, W)``): the
    reliability-weighted fusion A (see the module docstring). Returns ``(H, W)`` float64."""
    out = None
    for b, w in zip(branch_maps, weights(rx_map, *branch_maps, weight=weight)):
        m = pulled(rx_map, b, w)
        out = m if out is None else out * m
    return _minmax(np.asarray(rx_map, np.float64)) if out is None else out
