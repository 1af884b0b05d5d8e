"""One-graph FERS detector for ONNX: normalised cube -> the five anomaly maps (paper eq. 17-23).

``DetectorGraph(spe, spa)(x (K, N, H, W))`` returns ``(rx, spectral, spatial, fusion_add,
fusion_mult)``, each ``(K, H, W)`` float32. ONNX has no matrix inverse, so global RX (eq. 17) is
built from matmuls only, in float64:

1. covariance ``C`` of all pixels, scaled to unit diagonal: ``R = D^-1/2 C D^-1/2`` (better conditioned);
2. ridge ``R + eps * I`` (``eps = 1e-9``: keeps the inverse finite for rank-deficient cubes; the
   Python RX drops eigenvalues below ``B * 1e-12`` of the largest instead);
3. Newton-Schulz iterations ``X <- X (2I - R X)`` from ``X0 = I / trace(R)``; with R's spectrum in
   [eps, B] the error shrinks as ``(1 - eps / B)^(2^k)``, so ``ITERS = 50`` converges for B <= 2000;
4. ``S = sum((D^-1/2 X D^-1/2 (h - mu)) * (h - mu))`` per pixel.
"""

from __future__ import annotations

import torch
import torch.nn as nn

ITERS = 50
RIDGE = 1e-9
OUTPUTS = ("rx", "spectral", "spatial", "fusion_add", "fusion_mult")


def rx_newton_schulz(x: torch.Tensor, iters: int = ITERS, ridge: float = RIDGE) -> torch.Tensor:
    """Global RX of each cube in ``x (K, B, H, W)`` -> ``(K, H, W)`` float64, matmuls only."""
    k, b, h, w = x.shape
    p = x.reshape(k, b, h * w).to(torch.float64)
    pc = p - p.mean(dim=2, keepdim=True)
    cov = torch.matmul(pc, pc.transpose(1, 2)) / (h * w - 1)
    eye = torch.eye(b, dtype=torch.float64, device=x.device)
    inv_sd = torch.rsqrt(torch.diagonal(cov, dim1=1, dim2=2).clamp_min(1e-300))  # (K, B)
    r = cov * inv_sd[:, :, None] * inv_sd[:, None, :] + ridge * eye
    trace = (r * eye).sum(dim=(1, 2), keepdim=True)
    xk = eye / trace
    for _ in range(iters):
        xk = 2.0 * xk - torch.matmul(torch.matmul(xk, r), xk)
    zc = pc * inv_sd[:, :, None]
    return (torch.matmul(xk, zc) * zc).sum(dim=1).reshape(k, h, w)


def _minmax(s: torch.Tensor) -> torch.Tensor:
    """Per-cube min-max of ``(K, H, W)`` to [0, 1] (eq. 20-21)."""
    flat = s.reshape(s.shape[0], -1)
    lo = flat.min(dim=1).values[:, None, None]
    hi = flat.max(dim=1).values[:, None, None]
    return (s - lo) / (hi - lo).clamp_min(1e-300)


class DetectorGraph(nn.Module):
    """``x (K, N, H, W)`` normalised cube -> five ``(K, H, W)`` float32 maps (see :data:`OUTPUTS`)."""

    def __init__(self, spe: nn.Module, spa: nn.Module, iters: int = ITERS, ridge: float = RIDGE):
        super().__init__()
        self.spe, self.spa, self.iters, self.ridge = spe, spa, iters, ridge

    def forward(self, x: torch.Tensor):
        f_spe = self.spe(x)
        f_spa = self.spa(x)
        k = x.shape[0]
        cubes = torch.cat([x, x + f_spe, x + f_spa, x + f_spe + f_spa], dim=0)  # (4K, N, H, W)
        s = rx_newton_schulz(cubes, self.iters, self.ridge)
        s_rx, s_spe, s_spa, s_add = s[:k], s[k:2 * k], s[2 * k:3 * k], s[3 * k:]
        s_mult = _minmax(s_spa) * _minmax(s_spe)
        return tuple(m.to(torch.float32) for m in (s_rx, s_spe, s_spa, s_add, s_mult))
