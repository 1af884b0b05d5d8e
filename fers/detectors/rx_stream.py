"""Global RX (paper eq. 17) in two streaming passes over blocks of rows.

For cubes that do not fit in memory (e.g. a ``np.memmap`` of a ``(H, W, B)`` ``.npy``):

* pass 1 reads ``chunk_rows`` rows at a time and accumulates, in float64, the pixel count, the sum
  and the sum of outer products of ``x - K`` (``K``: mean of the first chunk, a shift that keeps
  the sums well conditioned); the mean and the sample covariance (divisor P - 1, as ``np.cov`` and
  :func:`fers.detectors.rx.rx`) follow from them;
* pass 2 reads the rows again and scores them with the arithmetic of the in-memory
  :func:`fers.detectors.rx.rx`, by calling the same functions: :func:`fers.detectors.rx.rx_whitening` (Cholesky inverse,
  or the eigenvalue cut-off of :func:`fers.detectors.rx.whitener_from_cov` when rank-deficient), float64
  centring, and :func:`fers.detectors.rx.rx_score_centered` (a float32 scoring product unless the input is float64).

So the maps equal :func:`fers.detectors.rx.rx`'s to float rounding (~1e-7 relative, tested at 1e-6) while
only one chunk (plus the ``(B, B)`` statistics) is in memory at a time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

import numpy as np

from fers.detectors.rx import rx_score_centered, rx_whitening
from fers.progress import bar

CHUNK_BYTES = 64 * 2**20  # default chunk: about 64 MiB of float64 rows


def default_chunk_rows(width: int, bands: int, budget_bytes: int = CHUNK_BYTES) -> int:
    """Rows per chunk so that one float64 chunk ``(rows, W, B)`` takes about ``budget_bytes``."""
    return max(1, int(budget_bytes // max(1, width * bands * 8)))


def row_chunks(height: int, chunk_rows: int) -> Iterable[tuple[int, int]]:
    """``(r0, r1)`` row ranges of at most ``chunk_rows`` rows covering ``[0, height)``."""
    for r0 in range(0, height, chunk_rows):
        yield r0, min(height, r0 + chunk_rows)


class RXAccumulator:
    """Running float64 mean/covariance of pixels ``(P, B)`` fed in chunks (pass 1)."""

    def __init__(self, bands: int):
        self.bands = int(bands)
        self.count = 0
        self.shift: np.ndarray | None = None
        self.s1 = np.zeros(self.bands, dtype=np.float64)
        self.s2 = np.zeros((self.bands, self.bands), dtype=np.float64)

    def add(self, pixels: np.ndarray) -> None:
        """Add pixels ``(P, B)`` (any real dtype)."""
        x = np.asarray(pixels, dtype=np.float64).reshape(-1, self.bands)
        if x.shape[0] == 0:
            return
        if self.shift is None:
            self.shift = x.mean(axis=0)
        xc = x - self.shift
        self.count += x.shape[0]
        self.s1 += xc.sum(axis=0)
        self.s2 += xc.T @ xc

    def mean_cov(self) -> tuple[np.ndarray, np.ndarray]:
        """``(mean (B,), covariance (B, B))``, covariance with divisor ``P - 1``."""
        if self.count == 0:
            raise ValueError("RXAccumulator: no pixels were added")
        d = self.s1 / self.count
        cov = (self.s2 - self.count * np.outer(d, d)) / max(self.count - 1, 1)
        return self.shift + d, cov

    def whitening(self) -> tuple[np.ndarray, np.ndarray, bool]:
        """``(mean, M, lower)`` as used by :func:`fers.detectors.rx.rx`: ``M^T M`` is the (pseudo-)inverse covariance."""
        mean, cov = self.mean_cov()
        m, lower = rx_whitening(cov)
        return mean, m, lower


def score_rows(pixels: np.ndarray, mean: np.ndarray, m: np.ndarray, lower: bool) -> np.ndarray:
    """RX scores ``(P,)`` float64 of pixels ``(P, B)`` with the scoring arithmetic of :func:`fers.detectors.rx.rx`."""
    xc = np.subtract(pixels, mean, dtype=np.float64)
    dtype = np.float64 if pixels.dtype == np.float64 else np.float32
    return rx_score_centered(xc, m, lower, dtype)


def _scorer(acc: RXAccumulator):
    mean, m, lower = acc.whitening()
    return lambda pix: score_rows(pix, mean, m, lower)


def rx_streaming_multi(
    read_rows: Callable[[int, int], dict],
    height: int,
    width: int,
    bands: int,
    chunk_rows: int | None = None,
    valid: np.ndarray | None = None,
    seconds: dict | None = None,
) -> dict:
    """Global RX of several cubes at once, each read in row chunks.

    ``read_rows(r0, r1)`` returns ``{name: array (r1 - r0, W, B)}`` (the same names on every call);
    it is called twice per chunk (once per pass), so it may compute its cubes on the fly (e.g. a
    normalised chunk plus enhanced features). ``valid (H, W)`` bool (optional): only these pixels
    enter the mean and covariance (every pixel is scored). Returns ``{name: score map (H, W) float64}``.
    ``seconds`` (optional dict): receives each name's RX time (statistics, inverse, scores) under
    that name, and the time of ``read_rows`` under ``"read_rows"``.
    """
    if chunk_rows is None:
        chunk_rows = default_chunk_rows(width, bands)
    sec = {} if seconds is None else seconds
    clock = time.perf_counter

    def timed_read(r0, r1):
        t = clock()
        out = read_rows(r0, r1)
        sec["read_rows"] = sec.get("read_rows", 0.0) + clock() - t
        return out

    def add_time(name, t):
        sec[name] = sec.get(name, 0.0) + clock() - t

    acc: dict[str, RXAccumulator] = {}
    chunks = list(row_chunks(height, int(chunk_rows)))
    for r0, r1 in bar(chunks, desc="RX statistics", unit="chunk"):
        keep = None if valid is None else valid[r0:r1].ravel()
        for name, rows in timed_read(r0, r1).items():
            t = clock()
            pix = np.asarray(rows).reshape(-1, bands)
            acc.setdefault(name, RXAccumulator(bands)).add(pix if keep is None else pix[keep])
            add_time(name, t)
    scorers = {}
    for name, a in acc.items():
        t = clock()
        scorers[name] = _scorer(a)
        add_time(name, t)
    out = {name: np.empty((height, width), dtype=np.float64) for name in scorers}
    for r0, r1 in bar(chunks, desc="RX scores", unit="chunk"):
        for name, rows in timed_read(r0, r1).items():
            t = clock()
            pix = np.asarray(rows).reshape(-1, bands)
            out[name][r0:r1] = scorers[name](pix).reshape(r1 - r0, width)
            add_time(name, t)
    return out


def rx_streaming(cube: np.ndarray, chunk_rows: int | None = None) -> np.ndarray:
    """Global RX of ``cube (H, W, B)`` (ndarray or ``np.memmap``) in two passes -> ``(H, W)`` float64.

    Equals :func:`fers.detectors.rx.rx` (to rounding) while holding only ``chunk_rows`` rows in memory.
    """
    if cube.ndim != 3:
        raise ValueError(f"rx_streaming expects (H, W, B), got shape {cube.shape}")
    h, w, b = cube.shape
    return rx_streaming_multi(lambda r0, r1: {"rx": cube[r0:r1]}, h, w, b, chunk_rows)["rx"]
