"""Global RX detector (paper eq. 17), in NumPy.

S_RX(i) = (h_i - mu)^T Sigma^{-1} (h_i - mu), with mu and Sigma the mean and covariance of all pixels.

Numerical safety: statistics are accumulated in float64 and Sigma's eigenvalues decide the inverse.
Eigenvalues at or below ``tol = max(eig) * B * 1e-12`` (rank-deficient directions: constant or
duplicated bands, fewer pixels than bands) are dropped, exactly as a pseudo-inverse would, so the
scores are always finite; a constant cube scores 0 everywhere. When no eigenvalue is dropped
(Sigma numerically full rank) the whitener is the triangular ``L^{-1}`` of the Cholesky factor
``Sigma = L L^T`` (same quadratic form, half the scoring work); otherwise it is ``V diag(w^-1/2)``.

Speed (:func:`rx`): one float64 centred copy of the pixels, a symmetric rank-k update for Sigma,
and, unless the input is float64, the per-pixel scoring product in float32 (BLAS ``strmm``).
BLAS threads (``threadpoolctl``): scene-sized problems (``P * B^2 < SINGLE_THREAD_WORK``, e.g.
100 x 100 x 200) run every step on one BLAS thread, the covariance product included: OpenBLAS's
threads spin while they wait, and on a shared or busy CPU that made one RX 4x slower (measured in
docs/results.md, "Global RX speed"); larger problems keep the library's threads for the products.
A float32 covariance product would halve its cost but moves ABU AUCs by up to 5e-3 (covariances
there have condition numbers of 1e8-1e9), so it stays float64.
"""

from __future__ import annotations

from contextlib import nullcontext
from itertools import pairwise

import numpy as np
from scipy.linalg import blas, lapack

from fers.detectors.registry import Detector, register

EIG_REL_TOL = 1e-12
SINGLE_THREAD_WORK = 2e9  # P * B^2 below which BLAS runs single-threaded


def _blas_controller():
    from fers.threads import _blas_controller

    return _blas_controller()


def blas_threads_for(pixels: int, bands: int):
    """Context manager: one BLAS thread for a problem of ``pixels`` x ``bands`` below
    ``SINGLE_THREAD_WORK``, the library's default otherwise."""
    if pixels * bands * bands >= SINGLE_THREAD_WORK:
        return nullcontext()
    return _blas_controller().limit(limits=1, user_api="blas")


def whitener_from_cov(cov: np.ndarray) -> np.ndarray:
    """``(B, B)`` covariance -> ``(B, B)`` matrix W such that ``W @ W.T`` is its pseudo-inverse."""
    cov = np.asarray(cov, dtype=np.float64)
    w, v = np.linalg.eigh((cov + cov.T) * 0.5)
    wmax = float(w.max()) if w.size else 0.0
    tol = max(wmax, 0.0) * cov.shape[0] * EIG_REL_TOL
    keep = w > tol
    inv_sqrt = np.zeros_like(w)
    inv_sqrt[keep] = 1.0 / np.sqrt(w[keep])
    return v * inv_sqrt[None, :]


def rx_whitening(cov: np.ndarray) -> tuple[np.ndarray, bool]:
    """``(M, lower)`` with ``M^T M = Sigma^+`` for a ``(B, B)`` covariance; ``lower`` when M is the
    lower-triangular Cholesky inverse (full-rank case), else ``M = diag(w^-1/2) V^T`` (eigen cut-off)."""
    cov = np.asarray(cov, dtype=np.float64)
    w = np.linalg.eigvalsh((cov + cov.T) * 0.5)
    tol = max(float(w.max()), 0.0) * cov.shape[0] * EIG_REL_TOL if w.size else 0.0
    if w.size and float(w.min()) > tol:
        chol, info = lapack.dpotrf(cov, lower=1, clean=1)
        if info == 0:
            inv, info = lapack.dtrtri(chol, lower=1)
            if info == 0 and np.isfinite(inv).all():
                return inv, True
    return whitener_from_cov(cov).T, False


def rx_score_centered(xc: np.ndarray, m: np.ndarray, lower: bool, dtype=np.float64) -> np.ndarray:
    """RX scores ``(P,)`` float64 ``||M (x - mu)||^2`` of centred float64 pixels ``xc (P, B)``.

    ``(m, lower)`` come from :func:`rx_whitening`. ``dtype`` is the scoring product's precision:
    float64 (``xc`` is then overwritten in place) or float32 (BLAS ``strmm``; relative error ~1e-5).
    """
    if np.dtype(dtype) == np.float64:
        xt, m, mm = xc.T, np.asfortranarray(m), (blas.dtrmm, blas.dgemm)
    else:
        xt, m, mm = xc.astype(np.float32).T, np.asfortranarray(m, dtype=np.float32), (blas.strmm, blas.sgemm)
    # y^T = M @ xc^T, computed on the F-ordered (B, P) view of the C-ordered (P, B) pixels
    yt = mm[0](1.0, m, xt, side=0, lower=1, overwrite_b=1) if lower else mm[1](1.0, m, xt)
    return np.einsum("ij,ij->j", yt, yt).astype(np.float64)


ROW_BLOCKS = 4  # pixel blocks of a scene-sized RX's element-wise and scoring steps
MIN_BLOCK_ROWS = 2048  # pixels per block below which one block (no threads) is used


def _row_bounds(p: int) -> list[tuple[int, int]]:
    """``[(start, stop), ...]``: :data:`ROW_BLOCKS` contiguous pixel ranges of ``p`` pixels (one when small)."""
    k = ROW_BLOCKS if p >= ROW_BLOCKS * MIN_BLOCK_ROWS else 1
    edges = np.linspace(0, p, k + 1).round().astype(int)
    return [(int(a), int(b)) for a, b in pairwise(edges)]


def _map_blocks(fn, bounds) -> None:
    """``fn(a, b)`` for every ``(a, b)`` in ``bounds``, on up to :func:`fers.threads.compute_threads`
    Python threads (NumPy and BLAS release the GIL; BLAS itself is held to one thread by the caller)."""
    from fers.threads import compute_threads

    threads = min(compute_threads(), len(bounds))
    if threads <= 1:
        for a, b in bounds:
            fn(a, b)
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(threads, thread_name_prefix="fers-rx") as ex:
        list(ex.map(lambda ab: fn(*ab), bounds))


def rx(cube: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """Global RX of a cube ``(H, W, B)`` -> score map ``(H, W)`` float64.

    ``valid (H, W)`` bool (optional): the mean and covariance come from these pixels only (the
    others, e.g. no-data pixels filled with a neutral spectrum, are still scored; see
    :mod:`fers.nodata`). Float64 input is scored in float64; any other dtype (float32, integers)
    gets a float32 scoring product on float64 statistics (relative score error ~1e-5).

    Scene-sized cubes (below ``SINGLE_THREAD_WORK``) centre their pixels, and score them when the
    whitener is triangular (full-rank covariance), in :data:`ROW_BLOCKS` blocks on Python threads
    (:func:`fers.threads.compute_threads`; BLAS on one thread each). Both steps are per pixel, the
    mean and the covariance product stay single whole-cube calls, and the triangular product gives
    each pixel the same arithmetic in a block as in one piece (a full GEMM does not: OpenBLAS picks
    kernels by size, so the eigen whitener scores in one piece); the map thus has the same bits on
    any number of threads as in one piece.
    """
    cube = np.asarray(cube)
    if cube.ndim != 3:
        raise ValueError(f"rx expects (H, W, B), got shape {cube.shape}")
    h, w, b = cube.shape
    pix = cube.reshape(h * w, b)
    keep = None if valid is None or np.asarray(valid).all() else np.asarray(valid, dtype=bool).ravel()
    bounds = _row_bounds(h * w) if h * w * b * b < SINGLE_THREAD_WORK else [(0, h * w)]
    dtype = np.float64 if cube.dtype == np.float64 else np.float32
    with blas_threads_for(h * w, b):  # scene-sized: every BLAS call on one thread
        mean = (pix if keep is None else pix[keep]).mean(axis=0, dtype=np.float64)
        xc = np.empty((h * w, b), dtype=np.float64)  # (P, B) centred, our own buffer
        _map_blocks(lambda a, z: np.subtract(pix[a:z], mean, out=xc[a:z], dtype=np.float64), bounds)
        xv = xc if keep is None else xc[keep]
        cov = xv.T @ xv  # symmetric product (BLAS syrk), float64: a float32 one moves ABU AUCs by up to 5e-3
        del xv
        cov /= max((h * w if keep is None else int(keep.sum())) - 1, 1)
        with blas_threads_for(0, b):  # B x B eigen/Cholesky: threads only add overhead
            m, lower = rx_whitening(cov)
        if len(bounds) == 1 or not lower:  # a full (eigen) whitener: OpenBLAS's GEMM rounds by block size
            return rx_score_centered(xc, m, lower, dtype).reshape(h, w)
        out = np.empty(h * w, dtype=np.float64)

        def score(a, z):
            out[a:z] = rx_score_centered(xc[a:z], m, lower, dtype)

        _map_blocks(score, bounds)
        return out.reshape(h, w)


def _scorer(valid=None):
    return lambda cube: rx(cube, valid)


def _work(pixels: int, n: int, height: int) -> int:
    """Peak bytes of :func:`rx` on ``pixels x n`` beside its input: the float64 centred copy and the
    float32 scoring product."""
    return 12 * pixels * n


def _state(n: int) -> int:
    """The ``n x n`` float64 covariance, its factor and inverse."""
    return 3 * n * n * 8


register(Detector("rx", "global RX (eq. 17)", _scorer, _work, _state, streamable=True, reference=True))
