"""Matplotlib figures for the app and reports (no pyplot state: every function builds its own Figure).

Shapes: cubes ``(H, W, B)`` bands last, score maps and ground truth ``(H, W)``, pixel sets ``(P, B)``.
NaN marks a no-data pixel (:mod:`fers.nodata`): left out of every colour scale, black in the preview,
transparent in the maps.

* :func:`false_colour` -- an ``(H, W, 3)`` uint8 preview from three bands (percentile stretch).
* :func:`score_map_figure` / :func:`score_maps_figure` -- one map or maps side by side, each with its own
  colour scale (minimum to 99.5th percentile) and the ground-truth outline.
* :func:`roc_figure` -- ROC curves of all methods in one plot.
* :func:`pca_scatter_figure` -- the paper's Fig. 9 idea: background vs anomaly pixels on the first three
  principal components, before (H) and after enhancement (H + F_spe + F_spa).
* :func:`spectrum_figure` -- one pixel's spectrum against the scene mean (+- 1 std), over wavelength (nm)
  when known, with the bands dropped as bad shaded grey.
* :func:`mask_figure` -- a thresholded detection mask with the ground-truth outline.
"""

from __future__ import annotations

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from fers.methods import BY_NAME

_MAP_CMAP = "inferno"
_GT_COLOUR = "#00e5ff"


def fig_to_rgb(fig: Figure) -> np.ndarray:
    """Render a Figure to an ``(h, w, 3)`` uint8 array."""
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def rgb_band_indices(n_bands: int, wavelengths=None) -> tuple[int, int, int]:
    """Band indices for R, G, B: nearest to 650/550/450 nm.

    Without wavelengths the range is guessed from the band count: >= 150 bands as a 400-2500 nm
    (AVIRIS-like) sensor, fewer as a 400-1000 nm (VNIR) sensor, evenly spaced.
    """
    if wavelengths is not None and len(wavelengths) == n_bands:
        wl = np.asarray(wavelengths, dtype=np.float64)
        if wl.max() < 10:  # micrometres
            wl = wl * 1000.0
    else:
        wl = np.linspace(400.0, 2500.0 if n_bands >= 150 else 1000.0, n_bands)
    return tuple(int(np.argmin(np.abs(wl - t))) for t in (650.0, 550.0, 450.0))


def false_colour(cube: np.ndarray, wavelengths=None, bands=None, upscale: int = 1) -> np.ndarray:
    """``(H, W, B)`` cube -> ``(H*upscale, W*upscale, 3)`` uint8 false-colour image (2-98 % stretch per
    channel over the pixels with data; no-data pixels are black).

    ``upscale`` repeats pixels (nearest neighbour) so pixel ``(r, c)`` of the cube covers an
    ``upscale`` x ``upscale`` block of the image -- click positions map back by integer division.
    """
    idx = bands if bands is not None else rgb_band_indices(cube.shape[-1], wavelengths)
    rgb = np.asarray(cube[..., list(idx)], dtype=np.float64)
    out = np.empty(rgb.shape, dtype=np.uint8)
    for c in range(3):
        ch = rgb[..., c]
        finite = np.isfinite(ch)
        lo, hi = np.percentile(ch[finite], [2, 98]) if finite.any() else (0.0, 1.0)
        if hi <= lo:
            hi = lo + 1.0
        scaled = np.clip((np.where(finite, ch, lo) - lo) / (hi - lo), 0, 1)
        out[..., c] = np.round(scaled * 255).astype(np.uint8)
    if upscale > 1:
        out = np.repeat(np.repeat(out, upscale, axis=0), upscale, axis=1)
    return out


def _draw_gt(ax, gt) -> None:
    if gt is not None and np.any(gt) and not np.all(gt):
        ax.contour(np.asarray(gt, dtype=float), levels=[0.5], colors=_GT_COLOUR, linewidths=0.8)


def _draw_map(fig: Figure, ax, score: np.ndarray, title: str, gt=None, auc=None, clip: float = 99.5) -> None:
    """Own colour scale per map, from the minimum to the ``clip`` percentile (RX scores are heavy-tailed);
    NaN (no-data) pixels are left out of the scale and drawn transparent."""
    score = np.asarray(score, dtype=np.float64)
    valid = score[np.isfinite(score)]
    if valid.size == 0:
        valid = np.zeros(1)
    lo, hi = float(valid.min()), float(np.percentile(valid, clip))
    im = ax.imshow(score, cmap=_MAP_CMAP, interpolation="nearest", vmin=lo, vmax=hi if hi > lo else None)
    _draw_gt(ax, gt)
    ax.set_title(title if auc is None else f"{title}\nAUC {auc:.4f}", fontsize=11)
    ax.set_xticks([])
    ax.set_yticks([])
    cb = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.03, extend="max" if hi < valid.max() else "neither")
    cb.ax.tick_params(labelsize=8)


def score_map_figure(score: np.ndarray, title: str, gt=None, auc=None, size=(3.6, 3.4)) -> Figure:
    """One ``(H, W)`` score map with its own colour bar and the GT outline (cyan) when given."""
    fig = Figure(figsize=size, dpi=100, layout="constrained")
    _draw_map(fig, fig.add_subplot(1, 1, 1), score, title, gt, auc)
    return fig


def score_maps_figure(maps: dict, gt=None, aucs: dict | None = None) -> Figure:
    """All maps in ``maps`` (name -> ``(H, W)``) side by side, one colour scale each."""
    names = list(maps)
    fig = Figure(figsize=(3.4 * max(1, len(names)), 3.4), dpi=100, layout="constrained")
    for i, name in enumerate(names):
        ax = fig.add_subplot(1, len(names), i + 1)
        auc = None if aucs is None else aucs.get(name)
        _draw_map(fig, ax, maps[name], BY_NAME[name].title if name in BY_NAME else name, gt, auc)
    return fig


def placeholder_figure(title: str, message: str, size=(3.6, 3.4)) -> Figure:
    """An empty panel that says why there is no map (e.g. no weights for this band count)."""
    fig = Figure(figsize=size, dpi=100, layout="constrained")
    ax = fig.add_subplot(1, 1, 1)
    ax.set_title(title, fontsize=11)
    ax.text(0.5, 0.5, message, ha="center", va="center", wrap=True, fontsize=10, color="#555555")
    ax.set_xticks([])
    ax.set_yticks([])
    return fig


def roc_figure(curves: dict) -> Figure:
    """ROC curves: ``curves`` maps a label to ``(fpr, tpr, auc)``; false-alarm axis is logarithmic. The
    legend sits below the axes, so it hides no part of any curve."""
    fig = Figure(figsize=(5.2, 5.4), dpi=100, layout="constrained")
    ax = fig.add_subplot(1, 1, 1)
    for label, (fpr, tpr, auc) in curves.items():
        fpr = np.asarray(fpr, dtype=np.float64)
        ax.plot(np.maximum(fpr, 1e-5), tpr, lw=1.4, label=f"{label} (AUC {auc:.4f})")
    ax.set_xscale("log")
    ax.set_xlim(1e-4, 1.0)
    ax.set_ylim(0.0, 1.01)
    ax.set_xlabel("false alarm rate (log)")
    ax.set_ylabel("detection rate")
    ax.grid(True, which="both", alpha=0.3)
    if curves:
        fig.legend(loc="outside lower center", ncols=1, fontsize=7, frameon=False)
    ax.set_title("ROC curves", fontsize=10)
    return fig


def _pca3(pixels: np.ndarray) -> np.ndarray:
    """Project ``(P, B)`` pixels onto their first three principal components -> ``(P, 3)``."""
    x = np.asarray(pixels, dtype=np.float64)
    x = x - x.mean(axis=0)
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    k = min(3, vt.shape[0])
    out = np.zeros((x.shape[0], 3))
    out[:, :k] = x @ vt[:k].T
    return out


def pca_scatter_figure(before: np.ndarray, after: np.ndarray, is_anomaly: np.ndarray,
                       max_background: int = 3000, seed: int = 0) -> Figure:
    """Fig. 9 idea: ``before``/``after`` are ``(P, B)`` pixels, ``is_anomaly`` ``(P,)`` bool.

    Each panel fits its own PCA on all its pixels; background (blue) is subsampled to ``max_background``
    points for drawing, anomalies (red) are all drawn.
    """
    is_anomaly = np.asarray(is_anomaly, dtype=bool)
    rng = np.random.default_rng(seed)
    bg = np.flatnonzero(~is_anomaly)
    if bg.size > max_background:
        bg = np.sort(rng.choice(bg, max_background, replace=False))
    an = np.flatnonzero(is_anomaly)
    fig = Figure(figsize=(9.0, 4.3), dpi=100, layout="constrained")
    for i, (data, title) in enumerate(((before, "before: H"), (after, "after: H + F_spe + F_spa"))):
        ax = fig.add_subplot(1, 2, i + 1, projection="3d")
        z = _pca3(data)
        ax.scatter(z[bg, 0], z[bg, 1], z[bg, 2], s=2, c="tab:blue", alpha=0.35, label="background")
        if an.size:
            ax.scatter(z[an, 0], z[an, 1], z[an, 2], s=6, c="tab:red", alpha=0.9, label="anomaly")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("PC1", fontsize=8)
        ax.set_ylabel("PC2", fontsize=8)
        ax.set_zlabel("PC3", fontsize=8)
        ax.tick_params(labelsize=6)
        ax.set_box_aspect(None, zoom=0.88)  # keep the axis labels inside the panel
        ax.legend(loc="upper left", fontsize=7)
    return fig


def _band_edges(x: np.ndarray) -> np.ndarray:
    """``(B + 1,)`` edges around band centres ``x (B,)``: half-way between neighbours."""
    if x.size == 1:
        return np.array([x[0] - 0.5, x[0] + 0.5])
    mid = (x[1:] + x[:-1]) / 2
    return np.concatenate([[x[0] - (mid[0] - x[0])], mid, [x[-1] + (x[-1] - mid[-1])]])


def _shade_dropped(ax, x: np.ndarray, dropped) -> None:
    """Grey spans over each run of ``dropped (B,)`` bands (bad or water-vapour bands left out of the
    detection), one legend entry for all."""
    if dropped is None or len(dropped) != x.size or not np.any(dropped):
        return
    order = np.argsort(x, kind="stable")
    xs, ds = x[order], np.asarray(dropped, dtype=bool)[order]
    edges = _band_edges(xs)
    label = f"dropped as bad / water vapour ({int(ds.sum())})"
    i = 0
    while i < ds.size:
        if ds[i]:
            j = i
            while j + 1 < ds.size and ds[j + 1]:
                j += 1
            ax.axvspan(edges[i], edges[j + 1], facecolor="0.92", edgecolor="0.55", hatch="///", lw=0, zorder=0,
                       label=label)
            label = None
            i = j + 1
        else:
            i += 1


def spectrum_figure(spectrum: np.ndarray, mean: np.ndarray, std: np.ndarray, title: str,
                    wavelengths=None, dropped=None) -> Figure:
    """A pixel's ``(B,)`` spectrum against the scene mean +- 1 std, over band index or wavelength (nm);
    ``dropped (B,)`` bool: bands left out of the detection as bad, shaded grey."""
    b = len(spectrum)
    use_wl = wavelengths is not None and len(wavelengths) == b
    x = np.asarray(wavelengths, dtype=float) if use_wl else np.arange(b, dtype=float)
    fig = Figure(figsize=(5.2, 3.4), dpi=100, layout="constrained")
    ax = fig.add_subplot(1, 1, 1)
    _shade_dropped(ax, x, dropped)
    ax.fill_between(x, mean - std, mean + std, color="0.8", label="scene mean +- 1 std")
    ax.plot(x, mean, color="0.3", lw=1.2, label="scene mean")
    ax.plot(x, spectrum, color="tab:red", lw=1.4, label="selected pixel")
    ax.set_xlabel("wavelength (nm)" if use_wl else "band index")
    ax.set_ylabel("value (as loaded)")
    ax.set_title(title, fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def mask_figure(mask: np.ndarray, title: str, gt=None, size=(3.6, 3.4)) -> Figure:
    """A boolean ``(H, W)`` detection mask (white = detected) with the GT outline when given."""
    fig = Figure(figsize=size, dpi=100, layout="constrained")
    ax = fig.add_subplot(1, 1, 1)
    ax.imshow(np.asarray(mask, dtype=float), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    _draw_gt(ax, gt)
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    return fig
