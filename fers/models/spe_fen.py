"""Spectral Feature Enhancement Network (Spe-FEN, paper Fig. 4, eq. 4).

The pruned FERD encoder: reflect-pad 4 px -> CWL (1x1, B -> 64, no bias) -> ResNet ``layer1``
(full resolution, no stem) -> crop the padding -> FPL (1x1 convs to B bands, ReLU).
Input ``(N, B, H, W)`` normalised cube, output ``F_spe (N, B, H, W)`` for any H, W >= 8.
Only ``layer1``'s 3x3 convolutions see neighbours, so F_spe is essentially per-pixel (spectral).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F

from fers.models.backbones import FrozenAwareModule, build_layer1, layer_channels
from fers.models.blocks import CWL, FPL, fpl_hidden


@dataclass
class SpeFENConfig:
    """Architecture of the Spe-FEN (stored in checkpoints)."""

    n_bands: int
    backbone: str = "resnet18"
    backbone_init: str = "none"
    cwl_channels: int = 64
    pad: int = 4
    fpl_hidden: int = 0  # 0 -> paper rule (256 if n_bands > 128 else 128)

    def resolved(self) -> SpeFENConfig:
        d = asdict(self)
        d["fpl_hidden"] = self.fpl_hidden or fpl_hidden(self.n_bands)
        return SpeFENConfig(**d)


class SpeFEN(FrozenAwareModule):
    """``(N, B, H, W) -> F_spe (N, B, H, W)``."""

    def __init__(self, cfg: SpeFENConfig, layer1: torch.nn.Module | None = None):
        super().__init__()
        self.cfg = cfg.resolved()
        if layer1 is None:
            layer1 = build_layer1(self.cfg.backbone, self.cfg.backbone_init)
        self.cwl = CWL(self.cfg.n_bands, self.cfg.cwl_channels)
        self.layer1 = layer1
        self.fpl = FPL(layer_channels(layer1), self.cfg.n_bands, self.cfg.fpl_hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = self.cfg.pad
        f1 = self.layer1(self.cwl(F.pad(x, [p, p, p, p], mode="reflect")))
        if p > 0:
            f1 = f1[:, :, p:-p, p:-p]
        return self.fpl(f1)
