"""Run the feature enhancement networks tile by tile on large scenes, blending the overlaps.

A cube ``(H, W, N)`` is covered by square tiles of side ``tile`` (what the networks see at once,
which bounds their activation memory); neighbouring tiles overlap by at least ``overlap`` pixels
(the last tile of a row/column is shifted back to end at the border, so every tile has the full
size whenever the image is at least ``tile`` wide). Each tile's features are weighted by a
separable ramp and the weighted sum is divided by the summed weights:

* pixels within ``guard = overlap // 4`` of a tile edge that lies inside the image get weight 0
  (they are always covered by the neighbouring tile with full weight), so a network whose
  receptive-field radius is at most ``guard`` (the local Spe-FEN) gives the untiled result up to
  float32 rounding;
* across the remaining ``overlap - 2 * guard`` pixels the weight ramps linearly from 0 to 1 (and
  the neighbour's from 1 to 0), so a network with global context (the Spa-FEN's adaptive pooling
  over the whole input, paper eq. 6) changes smoothly from one tile to the next instead of
  showing seams. Such a network cannot reproduce its untiled output exactly: its pooled context is
  the tile's, not the image's (random-init FENs, 80x80 cube in 2x2 tiles of 48 px: relative L2
  difference 0.61, see ``tests/test_tiling.py``). For the torch FENs :mod:`fers.large.spa_stream`
  therefore streams the Spa-FEN exactly and uses tiles only for the Spe-FEN.

An image no larger than ``tile`` is processed as a single tile (identical to untiled).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from fers.progress import bar

DEFAULT_TILE = 256
DEFAULT_OVERLAP = 64


def tile_starts(n: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of tiles of size ``tile`` covering ``[0, n)`` with at least ``overlap`` shared pixels."""
    if n <= tile:
        return [0]
    stride = tile - overlap
    if stride <= 0:
        raise ValueError(f"overlap ({overlap}) must be smaller than tile ({tile})")
    starts = list(range(0, n - tile, stride))
    starts.append(n - tile)
    return starts


def ramp_weights(n: int, start: int, size: int, overlap: int) -> np.ndarray:
    """Blend weights ``(size,)`` of a tile ``[start, start + size)`` in an axis of length ``n``."""
    d = np.arange(size, dtype=np.float64)
    w = np.ones(size)
    guard = overlap // 4
    span = overlap - 2 * guard
    if span <= 0:
        return w
    if start > 0:  # low edge inside the image
        w = np.minimum(w, np.clip((d + 0.5 - guard) / span, 0.0, 1.0))
    if start + size < n:  # high edge inside the image
        w = np.minimum(w, np.clip((size - 1 - d + 0.5 - guard) / span, 0.0, 1.0))
    return w


def tiled_apply(
    fn: Callable[[np.ndarray], tuple],
    h: np.ndarray,
    outs: tuple[np.ndarray, ...],
    tile: int = DEFAULT_TILE,
    overlap: int = DEFAULT_OVERLAP,
    transform: Callable[[np.ndarray], np.ndarray] | None = None,
    progress: bool = False,
) -> tuple[np.ndarray, ...]:
    """Blend ``fn(tile (t, t, N)) -> tuple of (t, t, N_k)`` over ``h (H, W, N)`` into ``outs`` (zeroed first)."""
    if h.ndim != 3:
        raise ValueError(f"tiling expects (H, W, N), got shape {h.shape}")
    hh, ww, _ = h.shape
    tile = int(tile)
    if tile < 8:
        raise ValueError(f"tile must be >= 8 pixels, got {tile}")
    overlap = int(min(max(overlap, 0), tile - 1))
    rows, cols = tile_starts(hh, tile, overlap), tile_starts(ww, tile, overlap)
    for o in outs:
        o[...] = 0.0
    wsum = np.zeros((hh, ww), np.float32)
    jobs = [(r, c) for r in rows for c in cols]
    jobs = bar(jobs, total=len(jobs), desc="tiles", unit="tile", on=progress or None)
    th, tw = min(tile, hh), min(tile, ww)
    for r, c in jobs:
        x = np.asarray(h[r : r + th, c : c + tw], dtype=np.float32)
        if transform is not None:
            x = transform(x)
        res = fn(np.ascontiguousarray(x, dtype=np.float32))
        wt = np.outer(ramp_weights(hh, r, th, overlap), ramp_weights(ww, c, tw, overlap)).astype(np.float32)
        for o, f in zip(outs, res):
            o[r : r + th, c : c + tw] += np.asarray(f, np.float32) * wt[:, :, None]
        wsum[r : r + th, c : c + tw] += wt
    inv = (1.0 / wsum)[:, :, None]
    for r0 in range(0, hh, 64):  # in row blocks, so memmapped outputs are not copied whole
        for o in outs:
            o[r0 : r0 + 64] *= inv[r0 : r0 + 64]
    return outs


def enhance_tiled(
    enhancer,
    h: np.ndarray,
    tile: int = DEFAULT_TILE,
    overlap: int = DEFAULT_OVERLAP,
    transform: Callable[[np.ndarray], np.ndarray] | None = None,
    out: tuple[np.ndarray, np.ndarray] | None = None,
    progress: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Tiled ``enhancer.enhance`` over ``h (H, W, N)`` -> ``(f_spe, f_spa)``, each ``(H, W, N)`` float32.

    ``h`` may be a ``np.memmap``: only one tile is read at a time. ``transform`` is applied to each
    tile before enhancing (e.g. the global min-max normalisation of a raw memmap, see
    :mod:`fers.large.scene`). ``out``: optional preallocated ``(f_spe, f_spa)`` arrays (e.g. memmaps).
    Works with any enhancer (torch or ONNX); for the torch FENs :mod:`fers.large.spa_stream` computes
    the Spa-FEN without tiling error.
    """
    if h.ndim != 3:
        raise ValueError(f"enhance_tiled expects (H, W, N), got shape {h.shape}")
    hh, ww, n = h.shape
    if out is None:
        out = (np.zeros((hh, ww, n), np.float32), np.zeros((hh, ww, n), np.float32))
    return tiled_apply(enhancer.enhance, h, tuple(out), tile, overlap, transform, progress)
