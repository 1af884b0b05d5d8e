"""Shape-dynamic building blocks that must export to ONNX with dynamic H and W.

The Spa-FEN's adaptive average pooling and its resize back to the input size (paper eq. 6) are the
known trouble spots of ``torch.onnx`` with dynamic spatial axes (the TorchScript exporter refuses
``adaptive_avg_pool2d`` on a dynamic input; ``Resize`` nodes tend to get a size baked in). Models call
these two functions instead of ``F.adaptive_avg_pool2d`` / ``F.interpolate`` directly.

Both are written as two small matrix products, ``M_h @ x @ M_w^T``, whose ``(out, in)`` matrices are
built from the tensor's own (symbolic) size with ``arange`` and comparisons. This is exactly the maths
of PyTorch's kernels (same bin edges, same bilinear weights), only the float summation order
differs (~1e-7 relative), and it exports to plain ``Range/Less/MatMul`` ONNX nodes that follow any
H and W. Tensors are ``(N, C, H, W)``.
"""

from __future__ import annotations

import torch


def _pool_matrix(n_in, n_out: int, like: torch.Tensor) -> torch.Tensor:
    """``(n_out, n_in)`` adaptive-average matrix with PyTorch's bins:
    bin i covers ``[floor(i * n_in / n_out), ceil((i + 1) * n_in / n_out))``."""
    i = torch.arange(n_out, device=like.device)
    start = torch.div(i * n_in, n_out, rounding_mode="floor")
    end = torch.div((i + 1) * n_in + (n_out - 1), n_out, rounding_mode="floor")
    j = torch.arange(n_in, device=like.device)
    inside = (j[None, :] >= start[:, None]) & (j[None, :] < end[:, None])
    count = (end - start).to(like.dtype)
    return inside.to(like.dtype) / count[:, None]


def bilinear_matrix(n_in, n_out, like: torch.Tensor) -> torch.Tensor:
    """``(n_out, n_in)`` 1-D linear-interpolation matrix, align_corners=False (half-pixel centres,
    source index clamped at 0, upper neighbour clamped at ``n_in - 1``), as ``F.interpolate``."""
    d = torch.arange(n_out, device=like.device).to(like.dtype)
    j = torch.arange(n_in, device=like.device)
    scale = n_in / n_out
    src = ((d + 0.5) * scale - 0.5).clamp(min=0.0)
    i0 = src.floor().to(j.dtype)
    i1 = torch.clamp(i0 + 1, max=n_in - 1)
    w1 = src - i0.to(like.dtype)
    w0 = 1.0 - w1
    m0 = (j[None, :] == i0[:, None]).to(like.dtype) * w0[:, None]
    m1 = (j[None, :] == i1[:, None]).to(like.dtype) * w1[:, None]
    return m0 + m1


def adaptive_avg_pool2d(x: torch.Tensor, size: int) -> torch.Tensor:
    """Adaptive average pooling of ``(N, C, H, W)`` to ``(N, C, size, size)`` (PyTorch's bin rule)."""
    ph = _pool_matrix(x.shape[-2], size, x)  # (size, H)
    pw = _pool_matrix(x.shape[-1], size, x)  # (size, W)
    return torch.matmul(torch.matmul(ph, x), pw.transpose(0, 1))


def resize_to(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Bilinear resize of ``x (N, C, h, w)`` to the spatial size of ``like (N, *, H, W)``
    (align_corners=False)."""
    rh = bilinear_matrix(x.shape[-2], like.shape[-2], x)  # (H, h)
    rw = bilinear_matrix(x.shape[-1], like.shape[-1], x)  # (W, w)
    return torch.matmul(torch.matmul(rh, x), rw.transpose(0, 1))
