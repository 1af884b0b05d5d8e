"""Small building blocks shared by the FENs and the training-only networks. Tensors ``(N, C, H, W)``.

* :class:`CWL` - channel-wise layer, a bias-free 1x1 conv adapting B bands to a ResNet's 64 channels.
* :class:`FPL` - feature projection layer of SFAM (1x1 conv + ReLU, twice) to the B-band space.
* :class:`ChannelAttention` - squeeze-and-excitation (the SE block of eq. 7 and the FRN's attention).
* :class:`ResidualBlock` - two 3x3 conv + BN with identity shortcut (FRN, eq. 9).
"""

from __future__ import annotations

import torch
import torch.nn as nn


class CWL(nn.Module):
    """Bias-free 1x1 convolution ``(N, c_in, H, W) -> (N, c_out, H, W)``."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel_size=1, bias=False)
        nn.init.xavier_normal_(self.conv.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


def fpl_hidden(n_bands: int) -> int:
    """Hidden width of the FPL: 256 for more than 128 bands, else 128."""
    return 256 if n_bands > 128 else 128


class FPL(nn.Module):
    """Feature projection ``(N, c_in, H, W) -> (N, n_bands, H, W)``: conv1x1-ReLU-conv1x1-ReLU."""

    def __init__(self, c_in: int, n_bands: int, hidden: int | None = None):
        super().__init__()
        hidden = hidden or fpl_hidden(n_bands)
        self.conv1 = nn.Conv2d(c_in, hidden, kernel_size=1)
        self.conv2 = nn.Conv2d(hidden, n_bands, kernel_size=1)
        for c in (self.conv1, self.conv2):
            nn.init.xavier_normal_(c.weight)
            nn.init.zeros_(c.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.conv2(torch.relu(self.conv1(x))))


class ChannelAttention(nn.Module):
    """SE recalibration: ``x * sigmoid(W2 relu(W1 mean_hw(x)))`` (eq. 7), shape kept."""

    def __init__(self, channels: int, reduction: int = 8):
        super().__init__()
        mid = max(channels // reduction, 1)
        self.fc1 = nn.Conv2d(channels, mid, kernel_size=1, bias=False)
        self.fc2 = nn.Conv2d(mid, channels, kernel_size=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = x.mean(dim=(2, 3), keepdim=True)
        return x * torch.sigmoid(self.fc2(torch.relu(self.fc1(w))))


class ResidualBlock(nn.Module):
    """``relu(x + BN(conv3x3(relu(BN(conv3x3(x))))))``, channels and resolution kept."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(x + self.bn2(self.conv2(out)))
