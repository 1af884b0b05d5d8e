"""Shape-dynamic building blocks that must export to ONNX with dynamic H and W.

The Spa-FEN's adaptive average pooling and its resize back to the input size (paper eq. 6) are the
known trouble spots of ``torch.onnx`` with dynamic spatial axes. Models call these two functions
instead of ``F.adaptive_avg_pool2d`` / ``F.interpolate`` directly, so the export-friendly
implementation lives in one place. Tensors are ``(N, C, H, W)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def adaptive_avg_pool2d(x: torch.Tensor, size: int) -> torch.Tensor:
    """Adaptive average pooling of ``(N, C, H, W)`` to ``(N, C, size, size)`` (PyTorch's bin rule)."""
    return F.adaptive_avg_pool2d(x, size)


def resize_to(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Bilinear resize of ``x (N, C, h, w)`` to the spatial size of ``like (N, *, H, W)``
    (align_corners=False)."""
    return F.interpolate(x, size=like.shape[-2:], mode="bilinear", align_corners=False)
