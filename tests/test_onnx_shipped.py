"""Shipped ONNX files (``weights/onnx/``, made by ``python export/to_onnx.py``) against the shipped
``.pt`` on a real benchmark scene: features within 1e-4 relative, every method's AUC to 4 decimals.
Skipped when the files (not committed) or ../shared/data are absent."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from fers.bands import SHIPPED_BAND_COUNTS, parse_band_spec, prepare_bands
from fers.normalize import normalize_cube
from fers.onnx_backend import ONNX_DIR, onnx_filenames

from .conftest import load_verified_scene

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "export"))
import parity  # noqa: E402  (export/parity.py)


def shipped_pair():
    from fers.checkpoint import shipped_checkpoint
    from fers.onnx_export import exported_sha, file_sha256

    for n in SHIPPED_BAND_COUNTS:
        pt = shipped_checkpoint(n)
        pair = [ONNX_DIR / name for name in onnx_filenames(n)]
        if pt.is_file() and all(p.is_file() for p in pair):
            if any(exported_sha(p) != file_sha256(pt) for p in pair):
                pytest.skip(f"{pair[0].parent} holds ONNX files of older weights; run python export/to_onnx.py")
            return pt, pair
    pytest.skip("no shipped ONNX files in weights/onnx/ (run python export/to_onnx.py)")


def test_shipped_onnx_matches_shipped_checkpoint_on_airport1():
    pt, pair = shipped_pair()
    from fers.enhance_torch import TorchEnhancer
    from fers.onnx_backend import OnnxEnhancer

    scene = load_verified_scene("abu/abu-airport-1.mat")
    o = OnnxEnhancer(*pair, providers=["CPUExecutionProvider"])
    cube, _, _ = prepare_bands(scene.cube, parse_band_spec(str(o.n_bands)))
    row = parity.compare(TorchEnhancer(pt, device="cpu"), o, normalize_cube(cube), scene.gt, "abu-airport-1")
    assert row.err_spe <= parity.FEATURE_TOL and row.err_spa <= parity.FEATURE_TOL, row
    assert row.auc_gap < parity.AUC_TOL, (row.auc_torch, row.auc_onnx)
