"""Cube normalisation, as in the paper's reference pipeline.

``minmax_pm1_x0.1``: per-cube min-max scaling to [-1, 1], then multiplied by 0.1, so that the
normalised cube H lies in [-0.1, 0.1]. The enhanced features are added to this H (eq. 18, 19, 23).
The name of the scheme and its constants are stored in every checkpoint and ONNX file.
"""

from __future__ import annotations

import numpy as np

NORMALIZATION = {
    "name": "minmax_pm1_x0.1",
    "formula": "x_n = scale * (2 * (x - min(x)) / (max(x) - min(x)) - 1), min/max over the whole cube",
    "scale": 0.1,
}


def normalize_cube(cube: np.ndarray, scale: float = NORMALIZATION["scale"]) -> np.ndarray:
    """Min-max a cube (any shape, e.g. ``(H, W, B)``) to ``[-scale, scale]`` as float32.

    A constant cube maps to zeros instead of dividing by zero.
    """
    x = np.asarray(cube, dtype=np.float32)
    return normalize_with(x, float(np.min(x)), float(np.max(x)), scale)


def normalize_with(x: np.ndarray, lo: float, hi: float, scale: float = NORMALIZATION["scale"]) -> np.ndarray:
    """The same scaling with given ``lo``/``hi`` (e.g. a whole cube's, applied block by block) -> float32.

    ``lo == hi`` maps to zeros.
    """
    x = np.asarray(x, dtype=np.float32)
    if hi - lo <= 0:
        return np.zeros_like(x)
    out = (x - np.float32(lo)) * np.float32(2.0 / (hi - lo)) - np.float32(1.0)
    return (out * np.float32(scale)).astype(np.float32, copy=False)
