"""Validation by synthetic sub-pixel targets implanted into held-out background patches.

For checkpoint selection only (never the benchmark scenes). Each validation patch ``(B, S, S)``
gets a few 1-3 px targets whose spectra come from *other* validation scenes (so neither the model
nor the patch has seen them), linearly mixed with abundance a ~ U(0.1, 0.5):
``h <- (1 - a) h + a t``. The score is the mean per-patch ROC AUC of RX on the enhanced cube.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from fers.fusion import fusion_mult
from fers.rx import rx_torch


def implant_targets(x: np.ndarray, scenes: list, targets=(3, 6), size_max=3, abundance=(0.1, 0.5), seed=1234):
    """``x (P, B, S, S)`` -> ``(x_implanted (P, B, S, S) float32, masks (P, S, S) bool)``."""
    rng = np.random.default_rng(seed)
    x = x.copy()
    p, b, s, _ = x.shape
    scenes = np.asarray(scenes)
    masks = np.zeros((p, s, s), dtype=bool)
    for i in range(p):
        donors = np.flatnonzero(scenes != scenes[i])
        if donors.size == 0:
            donors = np.array([j for j in range(p) if j != i] or [i])
        for _ in range(int(rng.integers(targets[0], targets[1] + 1))):
            th, tw = (int(v) for v in rng.integers(1, size_max + 1, size=2))
            r, c = (int(v) for v in rng.integers(2, s - 2 - size_max, size=2))
            d = int(rng.choice(donors))
            spec = x[d, :, int(rng.integers(0, s)), int(rng.integers(0, s))].copy()
            a = float(rng.uniform(*abundance))
            x[i, :, r : r + th, c : c + tw] = (1 - a) * x[i, :, r : r + th, c : c + tw] + a * spec[:, None, None]
            masks[i, r : r + th, c : c + tw] = True
    return x.astype(np.float32), masks


def _rx_scores(cubes: torch.Tensor) -> np.ndarray:
    """RX maps ``(P, S, S)`` float64 of ``cubes (P, B, S, S)``."""
    return rx_torch(cubes.detach().double()).cpu().numpy()


def _mean_auc_of(scores: np.ndarray, masks: np.ndarray) -> float:
    return float(np.mean([roc_auc_score(m.ravel(), sc.ravel()) for sc, m in zip(scores, masks)]))


def mean_auc(cubes: torch.Tensor, masks: np.ndarray) -> float:
    """Mean over patches of the RX AUC of ``cubes (P, B, S, S)`` against ``masks (P, S, S)``."""
    return _mean_auc_of(_rx_scores(cubes), masks)


@torch.no_grad()
def method_aucs(h: torch.Tensor, masks: np.ndarray, f_spe=None, f_spa=None) -> dict:
    """Mean AUCs of rx / spectral / spatial / fusion_add / fusion_mult (eq. 17-23) on a val set."""
    out = {"rx": mean_auc(h, masks)}
    s_spe = _rx_scores(h + f_spe) if f_spe is not None else None
    s_spa = _rx_scores(h + f_spa) if f_spa is not None else None
    if s_spe is not None:
        out["spectral"] = _mean_auc_of(s_spe, masks)
    if s_spa is not None:
        out["spatial"] = _mean_auc_of(s_spa, masks)
    if s_spe is not None and s_spa is not None:
        out["fusion_add"] = mean_auc(h + f_spe + f_spa, masks)
        out["fusion_mult"] = _mean_auc_of([fusion_mult(a, b) for a, b in zip(s_spa, s_spe)], masks)
    return out


def batched(fn, x: torch.Tensor, batch: int = 32) -> torch.Tensor:
    """Apply ``fn`` over ``x`` in chunks under no_grad."""
    with torch.no_grad():
        return torch.cat([fn(x[i : i + batch]) for i in range(0, x.shape[0], batch)])
