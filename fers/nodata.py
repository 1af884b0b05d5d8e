"""No-data pixels: which pixels of a cube are missing, and how every path leaves them out.

A pixel of a cube ``(H, W, B)`` is *no-data* (masked) when any of the bands that are used is NaN or
+-Inf, or equals the no-data value (``--nodata VALUE``, ENVI ``data ignore value``, GeoTIFF
``GDAL_NODATA``). A band that is fill in every pixel (:func:`empty_bands`) is a bad band: it is
dropped (even with ``--keep-bad-bands``) instead of masking every pixel.
The rest of FERS treats masked pixels the same way everywhere (docs/formats.md, "No-data pixels"):

* normalisation: min and max over valid pixels only;
* RX: mean and covariance over valid pixels only (:func:`fers.detectors.rx.rx` ``valid=``,
  :func:`fers.detectors.rx_stream.rx_streaming_multi` ``valid=``);
* networks: they see the bounding box of the valid pixels (a no-data border is cut away), with the
  masked pixels inside it filled by the valid pixels' per-band mean (a neutral spectrum);
* maps: masked pixels are NaN in every map and are left out of every AUC (:mod:`fers.metrics`).

:func:`scan_cube` finds them in row blocks of about :data:`SCAN_CHUNK_BYTES`, so a memory-mapped
cube is never read whole; it also gives the per-band statistics the rest needs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fers.memmap import is_mapped, release_pages

SCAN_CHUNK_BYTES = 64 * 2**20


def invalid_pixels(block: np.ndarray, nodata=None) -> np.ndarray:
    """``(..., B)`` block -> ``(...)`` bool: True where any band is NaN/Inf or equals ``nodata``."""
    bad = np.zeros(block.shape[:-1], dtype=bool)
    if block.dtype.kind in "fc":
        bad |= ~np.isfinite(block).all(axis=-1)
    if nodata is not None and not np.isnan(nodata):
        bad |= (block == float(nodata)).any(axis=-1)  # a Python float compares in the block's own precision
    return bad


@dataclass
class CubeScan:
    """What :func:`scan_cube` found: ``valid (H, W)`` bool, ``n_invalid`` masked pixels, and per-band
    ``lo``, ``hi``, ``mean`` ``(B,)`` float64 over the valid pixels (NaN when there are none)."""

    valid: np.ndarray
    n_invalid: int
    lo: np.ndarray
    hi: np.ndarray
    mean: np.ndarray

    @property
    def n_valid(self) -> int:
        return int(self.valid.size) - self.n_invalid

    @property
    def constant(self) -> bool:
        """True when two or more valid pixels all have the same spectrum (nothing can stand out)."""
        return self.n_valid >= 2 and bool(np.all(self.hi == self.lo))

    def box(self) -> tuple[slice, slice]:
        """Row and column slices of the bounding box of the valid pixels (needs ``n_valid > 0``)."""
        rows = np.flatnonzero(self.valid.any(axis=1))
        cols = np.flatnonzero(self.valid.any(axis=0))
        return slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1)


def scan_cube(cube: np.ndarray, nodata=None, chunk_bytes: int | None = None, release=None) -> CubeScan:
    """Scan ``cube (H, W, B)`` (ndarray or ``np.memmap``) in row blocks -> :class:`CubeScan`.

    ``release(cube)``, when given, is called after each block (e.g.
    :func:`fers.memmap.release_pages` to keep a memory map's pages out of the process).
    """
    h, w, b = cube.shape
    per_row = max(1, w * b * cube.dtype.itemsize)
    step = max(1, (chunk_bytes or SCAN_CHUNK_BYTES) // per_row)
    valid = np.empty((h, w), dtype=bool)
    lo = np.full(b, np.inf)
    hi = np.full(b, -np.inf)
    total = np.zeros(b, dtype=np.float64)
    n_bad = 0
    for r0 in range(0, h, step):
        blk = np.asarray(cube[r0 : r0 + step])
        bad = invalid_pixels(blk, nodata)
        valid[r0 : r0 + step] = ~bad
        k = int(np.count_nonzero(bad))
        n_bad += k
        px = blk.reshape(-1, b) if k == 0 else blk[~bad]  # (P, B) valid pixels
        if px.shape[0]:
            lo = np.minimum(lo, px.min(axis=0))
            hi = np.maximum(hi, px.max(axis=0))
            total += px.sum(axis=0, dtype=np.float64)
        if release is not None:
            release(cube)
    n_valid = h * w - n_bad
    mean = total / n_valid if n_valid else np.full(b, np.nan)
    if not n_valid:
        lo = hi = np.full(b, np.nan)
    return CubeScan(valid=valid, n_invalid=n_bad, lo=lo.astype(np.float64), hi=hi.astype(np.float64), mean=mean)


def empty_bands(cube, nodata=None, chunk_bytes: int | None = None, release=None) -> np.ndarray:
    """``(B,)`` bool: True for a band of ``cube (H, W, B)`` in which every pixel is NaN/Inf or equals
    ``nodata`` -- a band of fill, which is a bad band, not a reason to mask every pixel.

    Reads row blocks like :func:`scan_cube` and stops as soon as every band has shown one value
    (on an ordinary cube: after the first block). Integer cubes without ``nodata`` have none."""
    h, w, b = cube.shape
    cand = np.ones(b, dtype=bool)
    floating = np.dtype(cube.dtype).kind in "fc"
    has_value = nodata is not None and not np.isnan(nodata)
    if not (floating or has_value):
        return ~cand
    per_row = max(1, w * b * np.dtype(cube.dtype).itemsize)
    step = max(1, (chunk_bytes or SCAN_CHUNK_BYTES) // per_row)
    for r0 in range(0, h, step):
        idx = np.flatnonzero(cand)
        if idx.size == 0:
            break
        blk = np.asarray(cube[r0 : r0 + step])[..., idx]  # (rows, W, K) of the bands still in doubt
        fill = ~np.isfinite(blk) if floating else np.zeros(blk.shape, dtype=bool)
        if has_value:
            fill |= blk == float(nodata)
        cand[idx[~fill.all(axis=(0, 1))]] = False
        if release is not None:
            release(cube)
    return cand


def describe(nodata) -> str:
    """``"NaN/Inf"`` or ``"NaN/Inf or -9999"``: what marks a pixel as no-data, for messages."""
    if nodata is None or np.isnan(nodata):
        return "NaN/Inf"
    return f"NaN/Inf or {float(nodata):g}"


def release_for(cube):
    """:func:`fers.memmap.release_pages` for a memory map (the ``release`` of :func:`scan_cube`
    and :class:`FilledCube`), None for other arrays."""
    return release_pages if is_mapped(cube) else None


def fill_invalid(cube: np.ndarray, valid: np.ndarray, fill: np.ndarray) -> np.ndarray:
    """A float32 copy of ``cube (H, W, B)`` with the pixels where ``valid (H, W)`` is False set to
    ``fill (B,)``."""
    out = np.array(cube, dtype=np.float32)
    out[~valid] = np.asarray(fill, dtype=np.float32)
    return out


class FilledCube:
    """Read-only view of ``cube (H, W, B)`` (e.g. a ``np.memmap``) whose slices come back as float32
    with the masked pixels (``valid (H, W)`` False) replaced by ``fill (B,)``.

    For the streamed large-scene path, which reads ``cube[r0:r1]`` and ``cube[r0:r1, c0:c1]``
    blocks; nothing the size of the cube is allocated. ``release(cube)`` runs after each read.
    """

    def __init__(self, cube, valid: np.ndarray, fill: np.ndarray, release=None):
        self.cube, self.valid, self.release = cube, valid, release
        self.fill = np.asarray(fill, dtype=np.float32)
        self.shape, self.ndim, self.dtype = tuple(cube.shape), 3, np.dtype(np.float32)

    def __getitem__(self, key):
        key = key if isinstance(key, tuple) else (key,)
        if len(key) > 2 or not all(isinstance(k, slice) for k in key):
            raise IndexError("FilledCube takes row and column slices only")
        blk = np.array(self.cube[key], dtype=np.float32)
        blk[~self.valid[key]] = self.fill
        if self.release is not None:
            self.release(self.cube)
        return blk


def floor_invalid(score: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """``score (H, W)`` with masked pixels set to the lowest valid score (so min-max scaling and the
    score-level fusions see only the valid range); they become NaN once the fusions are done."""
    out = np.array(score, dtype=np.float64)
    out[~valid] = out[valid].min() if valid.any() else 0.0
    return out
