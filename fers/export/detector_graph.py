"""One-graph FERS detector for ONNX: normalised cube -> one anomaly map per method (paper eq. 17-23).

``DetectorGraph(spe, spa)(x (K, N, H, W))`` returns one map per method of :data:`fers.methods.GRAPH_METHODS` (the fixed recipes; the
reliability fusion is computed in Python from these maps), each ``(K, H, W)`` float32. ONNX has no matrix inverse, so global RX (eq. 17) is
built from matmuls only, in float64:

1. covariance ``C`` of all pixels, scaled to unit diagonal: ``R = D^-1/2 C D^-1/2`` (better conditioned);
2. ridge ``R + eps * I`` (``eps = 1e-9``: keeps the inverse finite for rank-deficient cubes; the
   Python RX drops eigenvalues below ``B * 1e-12`` of the largest instead);
3. Newton-Schulz iterations ``X <- X (2I - R X)`` from ``X0 = I / trace(R)``; with R's spectrum in
   [eps, B] the error shrinks as ``(1 - eps / B)^(2^k)``, so ``ITERS = 50`` converges for B <= 2000;
4. ``S = sum((D^-1/2 X D^-1/2 (h - mu)) * (h - mu))`` per pixel.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn

from fers import methods as M

ITERS = 50
RIDGE = 1e-9

OUTPUTS = M.GRAPH_METHODS  # one output per fixed-recipe method of fers.methods, in table order


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
    """``x (K, N, H, W)`` normalised cube -> one ``(K, H, W)`` float32 map per method (see :data:`OUTPUTS`)."""

    def __init__(self, spe: nn.Module, spa: nn.Module, iters: int = ITERS, ridge: float = RIDGE):
        super().__init__()
        self.spe, self.spa, self.iters, self.ridge = spe, spa, iters, ridge

    def forward(self, x: torch.Tensor):
        """The recipe of :mod:`fers.methods`: score the cubes it asks for in one batched RX, then the
        products of min-max maps."""
        feats = {"spe": self.spe(x), "spa": self.spa(x)}
        cubes = M.scored_cubes(OUTPUTS)
        k = x.shape[0]
        s = rx_newton_schulz(torch.cat([M.feature_cube(x, feats, t) for t in cubes.values()], dim=0),
                             self.iters, self.ridge)
        maps = {name: s[i * k:(i + 1) * k] for i, name in enumerate(cubes)}
        for name in OUTPUTS:
            m = M.BY_NAME[name]
            if m.terms is None:
                maps[name] = _minmax(maps[m.product[0]])
                for part in m.product[1:]:
                    maps[name] = maps[name] * _minmax(maps[part])
        return tuple(maps[m].to(torch.float32) for m in OUTPUTS)



def export_detector(ckpt: Path, out_dir: Path, opset: int, exporter: str) -> Path:
    """``fers_b{N}_detector.onnx``: cube (K, N, H, W) -> rx, spectral, spatial, fusion_add,
    fusion_mult (K, H, W) float32 ."""
    import json

    from fers.export.exporter import META_PREFIX, export_fen, fen_metadata, file_sha256
    from fers.models.checkpoint import load_fens

    spe, spa, config = load_fens(ckpt)
    n = int(config["n_bands"])
    meta = fen_metadata(config, "spe", ckpt, file_sha256(ckpt))
    meta.update({
        META_PREFIX + "branch": "detector",
        META_PREFIX + "network": "FERS detector: Spe-FEN + Spa-FEN + global RX + fusion (eq. 4-23)",
        META_PREFIX + "companion_file": "",
        META_PREFIX + "output": ", ".join(OUTPUTS) + ": (batch, height, width) float32 anomaly maps, "
        "see methods",
        META_PREFIX + "rx_inverse": json.dumps(
            f"covariance scaled to unit diagonal, ridge {RIDGE:g}, {ITERS} Newton-Schulz iterations, float64"),
    })
    return export_fen(DetectorGraph(spe, spa).eval(), out_dir / f"fers_b{n}_detector.onnx", meta, opset,
                      exporter, output_names=OUTPUTS)
