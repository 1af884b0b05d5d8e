"""Large scenes: memory-bounded normalisation, tiled enhancement and streaming global RX.

For a cube ``(H, W, N)`` that is a ``np.memmap`` (or simply big), :func:`detect_large` computes
the same maps as :func:`fers.methods.method_maps` on ``normalize_cube(cube)`` without ever
holding the normalised cube or any ``H + F`` sum in memory:

1. :func:`minmax_streaming` finds the cube's min and max in row chunks;
2. :func:`fers.large.spa_stream.enhance_large` enhances block by block, normalising each block on the
   fly with :func:`fers.normalize.normalize_with` (same float32 arithmetic as :func:`fers.normalize.normalize_cube`):
   torch FENs give the untiled features (Spe-FEN in tiles, Spa-FEN streamed), other enhancers
   use blended tiles; ``F_spe`` and ``F_spa`` are the only full-size arrays
   (``2 * H * W * N * 4`` bytes);
3. :func:`fers.detectors.rx_stream.rx_streaming_multi` scores ``H``, ``H + F_spe``, ``H + F_spa`` and
   ``H + F_spe + F_spa`` (those :func:`fers.methods.scored_cubes` asks for) in two passes over row
   chunks, building each chunk's sums with :func:`fers.methods.feature_cube`; the score-level
   fusions are then added by :func:`fers.methods.combine` (eq. 20-22).

Peak memory is about ``F_spe`` and ``F_spa`` plus one tile or chunk of activations (e.g.
1000x1000x200 float32: 1.6 GB + activations): after each block is read, :func:`release_pages` drops
the read-only memory map's pages from the process (they stay in the OS page cache).
"""

from __future__ import annotations

import time

import numpy as np

from fers import methods as M
from fers.detectors.rx_stream import default_chunk_rows, row_chunks, rx_streaming_multi
from fers.large.spa_stream import enhance_large
from fers.large.tiling import DEFAULT_OVERLAP, DEFAULT_TILE
from fers.memmap import release_pages
from fers.nodata import floor_invalid
from fers.normalize import normalize_with
from fers.progress import bar


def minmax_streaming(cube: np.ndarray, chunk_rows: int | None = None) -> tuple[float, float]:
    """``(min, max)`` of ``cube (H, W, B)`` as float32 values, reading ``chunk_rows`` rows at a time."""
    h, w, b = cube.shape
    chunk_rows = chunk_rows or default_chunk_rows(w, b)
    lo, hi = np.inf, -np.inf
    for r0, r1 in bar(list(row_chunks(h, chunk_rows)), desc="min/max", unit="chunk"):
        blk = np.asarray(cube[r0:r1], dtype=np.float32)
        lo, hi = min(lo, float(blk.min())), max(hi, float(blk.max()))
        release_pages(cube)
    return lo, hi


def detect_large(
    cube: np.ndarray,
    enhancer=None,
    methods=M.METHODS,
    tile: int = DEFAULT_TILE,
    overlap: int = DEFAULT_OVERLAP,
    chunk_rows: int | None = None,
    progress: bool = False,
    notes: list | None = None,
    valid: np.ndarray | None = None,
) -> tuple[dict, dict]:
    """Global-RX maps of a large cube ``(H, W, N)`` (N = the enhancer's bands) -> ``(maps, seconds)``.

    ``maps``: method -> ``(H, W)`` float64 for the requested ``methods`` (see
    :data:`fers.methods.METHODS`); without an enhancer only ``rx``. ``seconds``: stage -> wall time
    (``normalize``, ``enhance``, each method's share of the streamed RX passes, and ``read_rows``: reading,
    normalising and adding the features to the rows those passes share).
    ``notes`` (a list) receives one line on how the features were computed. ``valid (H, W)`` bool
    (optional): no-data pixels are False; ``cube`` must then already hold a neutral spectrum there
    (a :class:`fers.nodata.FilledCube`). They are left out of the RX statistics and get the lowest
    valid score before the fusions (the caller turns them into NaN, see :mod:`fers.nodata`).
    """
    hh, ww, n = cube.shape
    sec: dict = {}
    t = time.perf_counter()
    lo, hi = minmax_streaming(cube, chunk_rows)
    sec["normalize"] = time.perf_counter() - t

    def norm(x):
        out = normalize_with(x, lo, hi)  # a new array: the memory map's pages can go
        release_pages(cube)
        return out

    f_spe = f_spa = None
    if enhancer is not None and any(M.BY_NAME[m].needs_model for m in methods):
        t = time.perf_counter()
        f_spe, f_spa = enhance_large(enhancer, cube, norm, tile, overlap, notes=notes, progress=progress)
        sec["enhance"] = time.perf_counter() - t
    cubes = M.scored_cubes(methods, M.available_terms(f_spe, f_spa))
    features = {"spe": f_spe, "spa": f_spa}

    def read_rows(r0, r1):
        h = norm(cube[r0:r1])
        rows = {k: (f[r0:r1] if f is not None else None) for k, f in features.items()}
        return {name: M.feature_cube(h, rows, terms) for name, terms in cubes.items()}

    maps = rx_streaming_multi(read_rows, hh, ww, n, chunk_rows, valid=valid, seconds=sec) if cubes else {}
    if valid is not None:
        maps = {k: floor_invalid(v, valid) for k, v in maps.items()}

    def timed(name, fn):
        t = time.perf_counter()
        out = fn()
        sec[name] = time.perf_counter() - t
        return out

    maps = M.combine(maps, methods, timed, valid)
    return maps, sec
