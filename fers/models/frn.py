"""Feature Restoration Network (FRN, eq. 9): training-only decoder of stage 2.

``H_hat = FRN(F_spe + F_spa)``: 3 x (ResidualBlock + ChannelAttention) at full resolution and a
final 1x1 conv. ``(N, B, H, W) -> (N, B, H, W)``.

CPU deviation: with ``width`` > 0 a 1x1 conv first maps the B bands to ``width`` channels (the
blocks run at that width), because 3x3 convs at B = 200 channels are too slow on a 2-core CPU.
``width=0`` is the paper's layout (blocks at B channels).
"""

from __future__ import annotations

import torch
import torch.nn as nn

from fers.models.blocks import ChannelAttention, ResidualBlock


class FRN(nn.Module):
    """``(N, B, H, W) -> (N, B, H, W)`` reconstruction decoder."""

    def __init__(self, n_bands: int, width: int = 0, num_blocks: int = 3, reduction: int = 8):
        super().__init__()
        c = width or n_bands
        self.inp = nn.Conv2d(n_bands, c, kernel_size=1) if width else nn.Identity()
        layers = []
        for _ in range(num_blocks):
            layers += [ResidualBlock(c), ChannelAttention(c, reduction)]
        self.body = nn.Sequential(*layers)
        self.out = nn.Conv2d(c, n_bands, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.body(self.inp(x)))
