"""Beyond the paper: threshold masks, pixel spectra and the Fig. 9 PCA view.

Shapes: score maps and GT ``(H, W)``; cubes ``(H, W, B)``; the preview image is the cube upscaled by an
integer factor, so a click at image pixel ``(x, y)`` is cube pixel ``(y // k, x // k)``.
"""

from __future__ import annotations

import numpy as np

import fers.ui.plots as plots
from fers.errors import FersInputError
from fers.methods import minmax


def threshold_mask(score: np.ndarray, threshold: float) -> np.ndarray:
    """Detection mask ``(H, W)`` bool: min-max normalised score (eq. 20-21) ``>= threshold`` in [0, 1],
    the min and max taken over the pixels with data; a no-data (NaN) pixel is never detected."""
    score = np.asarray(score, dtype=np.float64)
    finite = np.isfinite(score)
    if finite.all():
        return minmax(score) >= float(threshold)
    mask = np.zeros(score.shape, dtype=bool)
    if finite.any():
        mask[finite] = minmax(score[finite]) >= float(threshold)
    return mask


def rule_threshold(score: np.ndarray, rule: str) -> float:
    """The slider value (a threshold on the min-max map, eq. 20-21) of a mask rule such as ``"p99.9"``
    (the downloads' rule: the top 0.1 % of the valid scores), rounded down to the slider's 0.001 step
    so the mask keeps every pixel the rule flags."""
    from fers.io.maps_out import parse_threshold

    score = np.asarray(score, dtype=np.float64)
    valid = score[np.isfinite(score)]
    lo, hi = (float(valid.min()), float(valid.max())) if valid.size else (0.0, 0.0)
    if hi <= lo:
        return 0.0
    t = (parse_threshold(rule).value(valid) - lo) / (hi - lo)
    return float(np.clip(np.floor(t * 1000) / 1000, 0.0, 1.0))


def mask_summary(mask: np.ndarray, gt) -> str:
    """One line: detected pixels, and with GT the detection rate and false-alarm rate at this threshold."""
    n = int(mask.sum())
    text = f"{n} of {mask.size} pixels detected ({100.0 * n / mask.size:.2f} %)"
    if gt is not None and np.any(gt):
        gt = np.asarray(gt, dtype=bool)
        tp = int(np.count_nonzero(mask & gt))
        fp = int(np.count_nonzero(mask & ~gt))
        pd = tp / max(1, int(gt.sum()))
        pf = fp / max(1, int((~gt).sum()))
        text += f"; detection rate {pd:.3f} ({tp}/{int(gt.sum())} anomaly px), false-alarm rate {pf:.4f} ({fp} px)"
    return text


def mask_image(score: np.ndarray, threshold: float, gt, title: str) -> tuple[np.ndarray, str]:
    """``(RGB image of the mask, summary line)``."""
    mask = threshold_mask(score, threshold)
    fig = plots.mask_figure(mask, f"{title} >= {threshold:.3f} (min-max)", gt)
    return plots.fig_to_rgb(fig), mask_summary(mask, gt)


def preview_upscale(h: int, w: int, target: int = 400) -> int:
    """Integer nearest-neighbour factor so the longer side of the preview is about ``target`` pixels."""
    return max(1, int(target // max(h, w)))


def pixel_from_click(index, upscale: int, shape) -> tuple[int, int]:
    """``(row, col)`` of the cube pixel under a click ``index = [x, y]`` on the upscaled preview."""
    if index is None or len(index) < 2:
        raise FersInputError("click a pixel of the false-colour preview")
    x, y = int(index[0]), int(index[1])
    r, c = y // max(1, upscale), x // max(1, upscale)
    if not (0 <= r < shape[0] and 0 <= c < shape[1]):
        raise FersInputError(f"clicked outside the image ({x}, {y})")
    return r, c


def spectrum_plot(cube: np.ndarray, row: int, col: int, wavelengths=None, gt=None, dropped=None):
    """Figure of pixel ``(row, col)``'s ``(B,)`` spectrum against the scene mean +- std (over the pixels
    with data); ``dropped (B,)`` bool: bands left out of the detection as bad, shaded."""
    pixels = np.asarray(cube, dtype=np.float64).reshape(-1, cube.shape[-1])
    valid = np.isfinite(pixels).all(axis=1)
    pixels = pixels[valid] if valid.any() else pixels
    mean, std = pixels.mean(axis=0), pixels.std(axis=0)
    spectrum = np.asarray(cube[row, col], dtype=np.float64)
    tag = ""
    if not np.isfinite(spectrum).all():
        tag = " (no data)"
    elif gt is not None:
        tag = " (anomaly in GT)" if bool(gt[row, col]) else " (background in GT)"
    title = f"pixel row {row}, col {col}{tag}"
    return plots.spectrum_figure(spectrum, mean, std, title, wavelengths, dropped)


def pca_figure(h: np.ndarray, f_spe, f_spa, gt, max_background: int = 3000):
    """Fig. 9 view: PCA of H vs H + F_spe + F_spa, from the normalised ``(H, W, N)`` cube and the
    features that :func:`fers.detect` computed (``DetectResult.cube_used`` / ``.f_spe`` / ``.f_spa``)."""
    if f_spe is None:
        raise FersInputError("the PCA view needs the enhanced features: run with a model band count "
                             "(not 'all bands') on a scene that is not streamed")
    h = np.asarray(h, dtype=np.float32)
    n = h.shape[-1]
    before = h.reshape(-1, n)
    after = (h + f_spe + (0 if f_spa is None else f_spa)).reshape(-1, n)
    is_anom = np.zeros(before.shape[0], dtype=bool) if gt is None else np.asarray(gt, dtype=bool).ravel()
    return plots.pca_scatter_figure(before, after, is_anom, max_background=max_background)
