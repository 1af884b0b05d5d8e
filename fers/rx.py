"""Global RX detector (paper eq. 17), in NumPy and in batched PyTorch.

S_RX(i) = (h_i - mu)^T Sigma^{-1} (h_i - mu), with mu and Sigma the mean and covariance of all pixels.

Numerical safety: Sigma is inverted through its eigen-decomposition in float64. Eigenvalues at or
below ``tol = max(eig) * B * 1e-12`` (rank-deficient directions: constant or duplicated bands, fewer
pixels than bands) are dropped, exactly as a pseudo-inverse would, so the scores are always finite.
A constant cube scores 0 everywhere. Statistics are accumulated in float64; the per-pixel scoring
matmul runs in float32 for speed when the input is float32.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

EIG_REL_TOL = 1e-12


@dataclass
class RXStats:
    """Background statistics: ``mean (B,)`` and whitening matrix ``W (B, B)`` with W W^T = Sigma^+."""

    mean: np.ndarray
    whitener: np.ndarray


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


def rx_stats(pixels: np.ndarray) -> RXStats:
    """Mean and whitener from pixels ``(P, B)`` (sample covariance, divisor P - 1 as ``np.cov``)."""
    x = np.asarray(pixels, dtype=np.float64)
    mean = x.mean(axis=0)
    xc = x - mean
    cov = xc.T @ xc / max(x.shape[0] - 1, 1)
    return RXStats(mean=mean, whitener=whitener_from_cov(cov))


def rx_score_pixels(pixels: np.ndarray, stats: RXStats) -> np.ndarray:
    """Mahalanobis distance of pixels ``(P, B)`` under ``stats`` -> ``(P,)`` float64."""
    dtype = np.float32 if pixels.dtype == np.float32 else np.float64
    xc = np.asarray(pixels, dtype=dtype) - stats.mean.astype(dtype)
    y = xc @ stats.whitener.astype(dtype)
    return np.einsum("ij,ij->i", y, y).astype(np.float64)


def rx(cube: np.ndarray) -> np.ndarray:
    """Global RX of a cube ``(H, W, B)`` -> score map ``(H, W)`` float64."""
    cube = np.asarray(cube)
    if cube.ndim != 3:
        raise ValueError(f"rx expects (H, W, B), got shape {cube.shape}")
    h, w, b = cube.shape
    pix = cube.reshape(h * w, b)
    return rx_score_pixels(pix, rx_stats(pix)).reshape(h, w)


def rx_torch(x):
    """Batched global RX in PyTorch: ``(N, B, H, W)`` -> ``(N, H, W)`` scores (input dtype).

    Covariance and its eigen-decomposition are computed in float64 (on the input's device), with the
    same eigenvalue cut-off as :func:`whitener_from_cov`.
    """
    import torch

    n, b, h, w = x.shape
    p = x.reshape(n, b, h * w).to(torch.float64)
    mean = p.mean(dim=2, keepdim=True)
    pc = p - mean
    cov = pc @ pc.transpose(1, 2) / max(h * w - 1, 1)
    evals, evecs = torch.linalg.eigh((cov + cov.transpose(1, 2)) * 0.5)
    tol = evals.max(dim=1, keepdim=True).values.clamp_min(0) * b * EIG_REL_TOL
    inv_sqrt = torch.where(evals > tol, evals.clamp_min(1e-300).rsqrt(), torch.zeros_like(evals))
    wmat = evecs * inv_sqrt[:, None, :]
    y = wmat.transpose(1, 2).to(x.dtype) @ pc.to(x.dtype)  # (N, B, HW)
    return (y * y).sum(dim=1).reshape(n, h, w)
