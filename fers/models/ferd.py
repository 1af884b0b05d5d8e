"""Stage-1 network (FERD, paper Fig. 3, eq. 1-3): reverse-distillation encoder-decoder with SFAM.

Training-only module (the shipped model is its pruned part, :meth:`FERDNet.prune` -> SpeFEN).

* encoder: reflect pad (4 px, plus up to 3 px bottom/right so the padded size is a multiple of 4)
  -> CWL (B -> 64) -> ResNet layer1, layer2, layer3 giving f1 (full), f2 (1/2), f3 (1/4).
  The ResNet part is frozen unless ``train_backbone``.
* MFFM: f1 and f2 are brought to 1/4 resolution by strided 3x3 convs, concatenated with f3 and
  fused by a 1x1 conv and a residual block into phi.
* decoder (mirror, transposed convs): g3 = block(phi) at 1/4, g2 = up(g3) at 1/2, g1 = up(g2) at
  full resolution, each with the channels of f3, f2, f1; decoder CWL (1x1) -> reconstruction H_R.
* SFAM: the FPL projects f1 and g1 to B bands; O = 1x1 conv(|f_P - g_P|) -> 1 channel.

``forward(x (N, B, H, W))`` returns a dict: ``f`` [f1, f2, f3], ``g`` [g1, g2, g3] (padded maps),
``recon (N, B, H, W)`` and ``o (N, 1, H', W')`` for the losses in ``training/losses.py``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from fers.models.backbones import (
    FrozenAwareModule,
    build_layer1,
    build_resnet,
    freeze,
    layer_channels,
    light_deep_layers,
)
from fers.models.blocks import CWL, FPL, ResidualBlock
from fers.models.spe_fen import SpeFEN, SpeFENConfig


@dataclass
class FERDConfig:
    """Stage-1 architecture; ``spe`` is the part kept after pruning."""

    spe: SpeFENConfig
    train_backbone: bool = False
    # encoder layer2/3: "backbone" = the ResNet's own; "light" = two random BasicBlock stages (128, 256 ch),
    # used with the wide ImageNet layer1, whose deeper stages have no local ImageNet weights
    deep: str = "backbone"


def _conv_bn_relu(c_in: int, c_out: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)
    )


class MFFM(nn.Module):
    """Multi-scale feature fusion: ``[f1, f2, f3] -> phi (N, c3, H/4, W/4)``."""

    def __init__(self, c1: int, c2: int, c3: int):
        super().__init__()
        self.down1 = nn.Sequential(_conv_bn_relu(c1, c2, 2), _conv_bn_relu(c2, c3, 2))
        self.down2 = _conv_bn_relu(c2, c3, 2)
        self.fuse = nn.Sequential(
            nn.Conv2d(3 * c3, c3, 1, bias=False), nn.BatchNorm2d(c3), nn.ReLU(inplace=True), ResidualBlock(c3)
        )

    def forward(self, f1, f2, f3):
        return self.fuse(torch.cat([self.down1(f1), self.down2(f2), f3], dim=1))


class UpStage(nn.Module):
    """Transposed-conv x2 upsampling followed by a residual block: ``(N, c_in, h, w) -> (N, c_out, 2h, 2w)``."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.up = nn.Sequential(
            nn.ConvTranspose2d(c_in, c_out, 2, stride=2, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)
        )
        self.block = ResidualBlock(c_out)

    def forward(self, x):
        return self.block(self.up(x))


class FERDNet(FrozenAwareModule):
    """Encoder (CWL + ResNet layer1-3), MFFM, mirrored decoder, decoder CWL and SFAM."""

    def __init__(self, cfg: FERDConfig):
        super().__init__()
        self.cfg = cfg
        spe = cfg.spe.resolved()
        if cfg.deep == "light":
            self.layer1 = build_layer1(spe.backbone, spe.backbone_init)
            self.layer2, self.layer3 = light_deep_layers(layer_channels(self.layer1))
        else:
            r = build_resnet(spe.backbone, spe.backbone_init)
            self.layer1, self.layer2, self.layer3 = r.layer1, r.layer2, r.layer3
        c1, c2, c3 = (layer_channels(m) for m in (self.layer1, self.layer2, self.layer3))
        self.cwl = CWL(spe.n_bands, spe.cwl_channels)
        if not cfg.train_backbone:
            for layer in (self.layer1, self.layer2, self.layer3):
                freeze(layer)
        self.mffm = MFFM(c1, c2, c3)
        self.dec3 = ResidualBlock(c3)
        self.dec2 = UpStage(c3, c2)
        self.dec1 = UpStage(c2, c1)
        self.dec_cwl = nn.Conv2d(c1, spe.n_bands, kernel_size=1)
        self.fpl = FPL(c1, spe.n_bands, spe.fpl_hidden)
        self.zcl = nn.Conv2d(spe.n_bands, 1, kernel_size=1)

    def forward(self, x: torch.Tensor) -> dict:
        p = self.cfg.spe.pad
        h, w = x.shape[-2:]
        eh, ew = (-(h + 2 * p)) % 4, (-(w + 2 * p)) % 4
        xp = F.pad(x, [p, p + ew, p, p + eh], mode="reflect")
        f1 = self.layer1(self.cwl(xp))
        f2 = self.layer2(f1)
        f3 = self.layer3(f2)
        g3 = self.dec3(self.mffm(f1, f2, f3))
        g2 = self.dec2(g3)
        g1 = self.dec1(g2)
        recon = self.dec_cwl(g1)[:, :, p : p + h, p : p + w]
        o = self.zcl(torch.abs(self.fpl(f1) - self.fpl(g1)))
        return {"f": [f1, f2, f3], "g": [g1, g2, g3], "recon": recon, "o": o}

    def prune(self) -> SpeFEN:
        """Spe-FEN = CWL + layer1 + FPL (paper Sec. III-A.3), as an independent copy."""
        spe = SpeFEN(self.cfg.spe, layer1=copy.deepcopy(self.layer1))
        spe.cwl.load_state_dict(self.cwl.state_dict())
        spe.fpl.load_state_dict(self.fpl.state_dict())
        return spe
