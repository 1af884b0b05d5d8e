"""Fusion of the two enhanced branches (paper eq. 18-23).

Cubes are ``(H, W, B)``; score maps ``(H, W)``.

* fusion A (``fusion_mult``): min-max(RX(H + F_spa)) * min-max(RX(H + F_spe))   (eq. 18-22)
* fusion B (``fusion_add``):  RX(H + F_spe + F_spa)                             (eq. 23)
"""

from __future__ import annotations

import numpy as np

from .rx import rx

METHODS = ("rx", "spectral", "spatial", "fusion_add", "fusion_mult")
FUSION_LABELS = {"A": "fusion_mult", "B": "fusion_add"}


def paper_default_fusion(n_bands: int) -> str:
    """The paper's recommendation (Table III): A (multiplicative) for 50 bands, B otherwise."""
    return "fusion_mult" if n_bands <= 50 else "fusion_add"


def minmax(score: np.ndarray) -> np.ndarray:
    """Min-max a score map to [0, 1] (eq. 20-21); a constant map becomes zeros."""
    s = np.asarray(score, dtype=np.float64)
    lo, hi = float(s.min()), float(s.max())
    return (s - lo) / (hi - lo) if hi > lo else np.zeros_like(s)


def fusion_mult(s_spa: np.ndarray, s_spe: np.ndarray) -> np.ndarray:
    """Fusion A: element-wise product of min-max normalised score maps (eq. 22)."""
    return minmax(s_spa) * minmax(s_spe)


def all_method_maps(h: np.ndarray, f_spe: np.ndarray | None, f_spa: np.ndarray | None) -> dict:
    """RX maps for every method available from normalised cube ``h`` and features (all ``(H, W, B)``)."""
    maps = {"rx": rx(h)}
    if f_spe is not None:
        maps["spectral"] = rx(h + f_spe)
    if f_spa is not None:
        maps["spatial"] = rx(h + f_spa)
    if f_spe is not None and f_spa is not None:
        maps["fusion_add"] = rx(h + f_spe + f_spa)
        maps["fusion_mult"] = fusion_mult(maps["spatial"], maps["spectral"])
    return maps
