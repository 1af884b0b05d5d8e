"""fers.models.onnx_ops: same maths as F.adaptive_avg_pool2d / F.interpolate(bilinear,
align_corners=False) on odd sizes, and an exported graph that follows any input size."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
import torch
import torch.nn.functional as F

from fers.export.exporter import OPSET, _quiet_exporter
from fers.models.onnx_ops import adaptive_avg_pool2d, resize_to

SIZES = [(1, 1), (2, 3), (5, 9), (7, 7), (13, 4), (37, 53), (100, 100)]


@pytest.mark.parametrize("hw", SIZES)
@pytest.mark.parametrize("out", [1, 2, 3, 4])
def test_adaptive_avg_pool_matches_torch(hw, out):
    g = torch.Generator().manual_seed(hw[0] * 100 + hw[1])
    x = torch.randn(2, 3, *hw, generator=g, dtype=torch.float64)
    torch.testing.assert_close(adaptive_avg_pool2d(x, out), F.adaptive_avg_pool2d(x, out), rtol=0, atol=1e-12)
    x32 = x.float()
    torch.testing.assert_close(adaptive_avg_pool2d(x32, out), F.adaptive_avg_pool2d(x32, out), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("src", [(1, 1), (2, 2), (4, 4), (3, 7), (37, 53)])
@pytest.mark.parametrize("dst", [(1, 1), (8, 9), (37, 53), (64, 64), (150, 151), (3, 2)])
def test_resize_matches_bilinear_half_pixel(src, dst):
    g = torch.Generator().manual_seed(src[0] * 1000 + dst[1])
    x = torch.randn(2, 3, *src, generator=g, dtype=torch.float64)
    like = torch.empty(1, 1, *dst, dtype=torch.float64)
    ref = F.interpolate(x, size=dst, mode="bilinear", align_corners=False)
    torch.testing.assert_close(resize_to(x, like), ref, rtol=0, atol=1e-12)
    ref32 = F.interpolate(x.float(), size=dst, mode="bilinear", align_corners=False)
    torch.testing.assert_close(resize_to(x.float(), like.float()), ref32, rtol=1e-5, atol=1e-5)


class PoolResize(torch.nn.Module):
    """LightSPP's pattern: pool at {1, 2, 4}, resize back to the input size, concatenate."""

    def forward(self, x):
        return torch.cat([resize_to(adaptive_avg_pool2d(x, s), x) for s in (1, 2, 4)], dim=1)


@pytest.mark.parametrize("exporter", ["dynamo", "torchscript"])
def test_exported_ops_follow_dynamic_sizes(tmp_path, exporter):
    x = torch.randn(2, 3, 48, 56)
    path = tmp_path / "ops.onnx"
    with _quiet_exporter():
        if exporter == "dynamo":
            dyn = {0: torch.export.Dim.DYNAMIC, 2: torch.export.Dim.DYNAMIC, 3: torch.export.Dim.DYNAMIC}
            torch.onnx.export(PoolResize(), (x,), str(path), dynamo=True, input_names=["x"],
                              dynamic_shapes=(dyn,), opset_version=OPSET, external_data=False)
        else:
            axes = {0: "n", 2: "h", 3: "w"}
            torch.onnx.export(PoolResize(), (x,), str(path), dynamo=False, input_names=["x"],
                              output_names=["y"], dynamic_axes={"x": axes, "y": axes}, opset_version=OPSET)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for shape in [(1, 3, 37, 53), (3, 3, 8, 8), (1, 3, 3, 2), (1, 3, 150, 100)]:
        xi = torch.randn(*shape)
        ref = torch.cat([F.interpolate(F.adaptive_avg_pool2d(xi, s), size=shape[2:], mode="bilinear",
                                       align_corners=False) for s in (1, 2, 4)], dim=1).numpy()
        got = sess.run(None, {"x": xi.numpy()})[0]
        assert got.shape == ref.shape
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)
