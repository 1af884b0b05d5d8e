"""Large scenes with the PyTorch FENs: the Spa-FEN without tiling error, the Spe-FEN in tiles.

The Spa-FEN (paper eq. 5-7) is ``SE(fuse(resize(pool_s(ResNet(Conv2RGB(H))))))`` with pools
``s in {1, 2, 4}`` and the SE weights taken from the mean of the fused map over the *whole*
image, so tiles cannot reproduce it. Its parts are cheap to stream instead:

1. ``Conv2RGB`` is per-pixel: computed on row chunks into a ``(1, 3, H, W)`` image (12 MB per
   megapixel);
2. the frozen ResNet runs once on that 3-channel image (its largest activation is 64 channels at
   1/2 resolution) and is pooled to the ``s x s`` grids exactly as in the model;
3. pass A over row chunks: bilinear rows of the grids (the model's own interpolation matrices,
   :mod:`fers.models.onnx_ops`) -> 1x1 fuse, written into ``F_spa (H, W, N)`` and summed over
   pixels -> SE weights;
4. pass B: ``F_spa`` times the SE weights, chunk by chunk.

The result equals ``spa(x)`` on the whole image up to float32 summation order. Before a large run
:func:`enhance_large` checks this on a small crop and falls back to
:func:`fers.large.tiling.enhance_tiled` (blended tiles) if the model's structure differs. The Spe-FEN is
local (receptive field of a few pixels) and runs in blended tiles, which reproduce its untiled
output everywhere (up to float32 rounding) because the tiles' guard band (``overlap // 4``)
exceeds its receptive-field radius.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from fers.detectors.rx_stream import row_chunks
from fers.large.tiling import DEFAULT_OVERLAP, DEFAULT_TILE, enhance_tiled, tiled_apply
from fers.notes import Note
from fers.progress import bar

CHECK_SIZE = 48
CHECK_RTOL = 1e-4


def supports_streaming(enhancer) -> bool:
    """True for a torch enhancer whose Spa-FEN has the structure this module streams."""
    spa = getattr(enhancer, "spa", None)
    spp = getattr(spa, "spp", None)
    se = getattr(spp, "se", None)
    return (
        getattr(enhancer, "spe", None) is not None
        and all(hasattr(spa, a) for a in ("to_rgb", "features"))
        and all(hasattr(spp, a) for a in ("pool_sizes", "fuse1", "fuse2"))
        and all(hasattr(se, a) for a in ("fc1", "fc2"))
    )


def _to_torch(x: np.ndarray):
    import torch

    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).permute(2, 0, 1)[None]


def spa_fen_streaming(
    spa,
    read_rows: Callable[[int, int], np.ndarray],
    height: int,
    width: int,
    chunk_rows: int = 32,
    out_arr: np.ndarray | None = None,
) -> np.ndarray:
    """F_spa ``(H, W, N)`` float32 of the whole image, reading ``read_rows(r0, r1) -> (r1 - r0, W, N)``."""
    import torch

    from fers.models.onnx_ops import adaptive_avg_pool2d, bilinear_matrix

    spp = spa.spp
    dev = next(spa.parameters()).device
    chunks = list(row_chunks(height, chunk_rows))
    with torch.no_grad():
        rgb = torch.empty((1, 3, height, width), dtype=torch.float32, device=dev)
        for r0, r1 in bar(chunks, desc="spatial network: RGB", unit="chunk"):
            rgb[:, :, r0:r1] = spa.to_rgb(_to_torch(read_rows(r0, r1)).to(dev))
        feats = spa.features(rgb)
        del rgb
        grids = [adaptive_avg_pool2d(feats, s) for s in spp.pool_sizes]  # (1, C, s, s)
        rh = [bilinear_matrix(g.shape[-2], height, g) for g in grids]  # (H, s)
        rw = [bilinear_matrix(g.shape[-1], width, g) for g in grids]  # (W, s)

        def fused(r0, r1):
            up = [torch.matmul(torch.matmul(a[r0:r1], g), b.transpose(0, 1)) for g, a, b in zip(grids, rh, rw)]
            return torch.relu(spp.fuse2(torch.relu(spp.fuse1(torch.cat(up, dim=1)))))

        total, out = None, None
        for r0, r1 in bar(chunks, desc="spatial network: features", unit="chunk"):  # pass A: fused map
            # (stored) and its SE statistics (eq. 7)
            f = fused(r0, r1)
            s = f.to(torch.float64).sum(dim=(2, 3), keepdim=True)
            total = s if total is None else total + s
            if out is None:
                out = out_arr if out_arr is not None else np.empty((height, width, f.shape[1]), np.float32)
            out[r0:r1] = f[0].permute(1, 2, 0).cpu().numpy()
        mean = (total / (height * width)).to(torch.float32)
        weights = torch.sigmoid(spp.se.fc2(torch.relu(spp.se.fc1(mean))))[0, :, 0, 0].cpu().numpy()
        for r0, r1 in chunks:  # pass B: channel re-weighting
            out[r0:r1] *= weights
    return out


def _spe_tiles(spe) -> Callable[[np.ndarray], tuple]:
    import torch

    def fn(x):
        with torch.no_grad():
            y = spe(_to_torch(x).to(next(spe.parameters()).device))
        return (y[0].permute(1, 2, 0).cpu().numpy(),)

    return fn


def streaming_agrees(enhancer, sample: np.ndarray) -> bool:
    """Check :func:`spa_fen_streaming` against the model itself on a small normalised crop ``(h, w, N)``."""
    ref = enhancer.enhance(np.ascontiguousarray(sample, np.float32))[1]
    got = spa_fen_streaming(enhancer.spa, lambda r0, r1: sample[r0:r1], *sample.shape[:2], chunk_rows=7)
    return bool(np.allclose(got, ref, rtol=CHECK_RTOL, atol=CHECK_RTOL * float(np.abs(ref).max() + 1e-30)))


def enhance_large(
    enhancer,
    cube: np.ndarray,
    transform: Callable[[np.ndarray], np.ndarray] | None = None,
    tile: int = DEFAULT_TILE,
    overlap: int = DEFAULT_OVERLAP,
    chunk_rows: int = 32,
    notes: list | None = None,
    progress: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """``(F_spe, F_spa)`` each ``(H, W, N)`` float32 for a large (possibly memory-mapped) cube.

    ``transform`` maps raw blocks to the normalised cube (e.g. :func:`fers.normalize.normalize_with`).
    Torch FENs: Spe-FEN in blended tiles, Spa-FEN streamed exactly. Other enhancers (ONNX):
    :func:`fers.large.tiling.enhance_tiled` for both (Spa-FEN then approximate, see there).
    """
    notes = notes if notes is not None else []
    hh, ww, n = cube.shape
    tf = transform or (lambda x: np.asarray(x, np.float32))
    if supports_streaming(enhancer):
        k = min(CHECK_SIZE, hh, ww)
        if streaming_agrees(enhancer, tf(cube[:k, :k])):
            f_spe = np.empty((hh, ww, n), np.float32)
            tiled_apply(_spe_tiles(enhancer.spe), cube, (f_spe,), tile, overlap, transform, progress)
            f_spa = spa_fen_streaming(enhancer.spa, lambda r0, r1: tf(cube[r0:r1]), hh, ww, chunk_rows)
            notes.append(Note("large.tiles", f"large scene: Spe-FEN in {tile}px tiles (overlap {overlap}), Spa-FEN "
                              "streamed (exact)", {"tile": tile, "overlap": overlap, "exact": True}))
            return f_spe, f_spa
        notes.append(Note("large.tiles", "large scene: Spa-FEN streaming self-check failed; using blended tiles "
                              "(approximate)", {"tile": tile, "overlap": overlap, "exact": False}))
    else:
        notes.append(Note("large.tiles", f"large scene: both FENs in blended {tile}px tiles (overlap {overlap}); "
                              "Spa-FEN approximate", {"tile": tile, "overlap": overlap, "exact": False}))
    return enhance_tiled(enhancer, cube, tile, overlap, transform=transform, progress=progress)
