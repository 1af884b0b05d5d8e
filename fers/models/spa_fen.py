"""Spatial Feature Enhancement Network (Spa-FEN, paper Fig. 5, eq. 5-8).

Conv2RGB spectral compression (eq. 5) -> frozen ResNet stem + layer1..3 (256 channels at 1/16
resolution; paper: ResNet-34, shipped: ResNet-18) -> LightSPP: average pools at {1, 2, 4},
bilinear resize to the *input* H x W, concat, 1x1 fuse (eq. 6) -> SE block (eq. 7).
``(N, B, H, W) -> F_spa (N, B, H, W)`` for any H, W >= 8.

Pooling and resizing go through :mod:`fers.models.onnx_ops` so the network exports to ONNX with
dynamic H and W.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn as nn

from fers.models import onnx_ops
from fers.models.backbones import FrozenAwareModule, build_resnet, freeze, layer_channels
from fers.models.blocks import ChannelAttention


@dataclass
class SpaFENConfig:
    """Architecture of the Spa-FEN (stored in checkpoints)."""

    n_bands: int
    backbone: str = "resnet18"  # paper: resnet34; resnet18 won on our validation set (random init)
    backbone_init: str = "none"
    rgb_hidden: int = 256
    pool_sizes: list = field(default_factory=lambda: [1, 2, 4])
    se_reduction: int = 8


class Conv2RGB(nn.Module):
    """Spectral compression ``H_3c = sigmoid(W2 * relu(W1 * H))`` (eq. 5): ``(N,B,H,W) -> (N,3,H,W)``."""

    def __init__(self, n_bands: int, hidden: int = 256):
        super().__init__()
        self.conv1 = nn.Conv2d(n_bands, hidden, kernel_size=1)
        self.conv2 = nn.Conv2d(hidden, 3, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.conv2(torch.relu(self.conv1(x))))


class LightSPP(nn.Module):
    """Multi-scale pooling + fuse + SE (eq. 6-7): ``(N, C, h, w)`` -> ``(N, out, H, W)`` of ``like``."""

    def __init__(self, c_in: int, c_out: int, pool_sizes=(1, 2, 4), se_reduction: int = 8):
        super().__init__()
        self.pool_sizes = tuple(int(s) for s in pool_sizes)
        mid = max(c_in // 2, 16)
        self.fuse1 = nn.Conv2d(c_in * len(self.pool_sizes), mid, kernel_size=1, bias=False)
        self.fuse2 = nn.Conv2d(mid, c_out, kernel_size=1, bias=False)
        self.se = ChannelAttention(c_out, se_reduction)

    def forward(self, f: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        pooled = [onnx_ops.resize_to(onnx_ops.adaptive_avg_pool2d(f, s), like) for s in self.pool_sizes]
        fused = torch.relu(self.fuse2(torch.relu(self.fuse1(torch.cat(pooled, dim=1)))))
        return self.se(fused)


class SpaFEN(FrozenAwareModule):
    """``(N, B, H, W) -> F_spa (N, B, H, W)``; the ResNet part is frozen."""

    def __init__(self, cfg: SpaFENConfig):
        super().__init__()
        self.cfg = cfg
        r = build_resnet(cfg.backbone, cfg.backbone_init)
        self.to_rgb = Conv2RGB(cfg.n_bands, cfg.rgb_hidden)
        self.features = freeze(nn.Sequential(r.conv1, r.bn1, r.relu, r.maxpool, r.layer1, r.layer2, r.layer3))
        self.spp = LightSPP(layer_channels(r.layer3), cfg.n_bands, cfg.pool_sizes, cfg.se_reduction)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.spp(self.features(self.to_rgb(x)), x)
