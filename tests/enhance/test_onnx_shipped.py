"""Shipped ONNX files (``weights/onnx/``, made by ``python export/to_onnx.py``; exported into a temp
folder when absent or outdated, as on a fresh clone) against the shipped ``.pt`` on a real benchmark
scene: features within 1e-4 relative, every method's AUC to 4 decimals. Skipped without a shipped
checkpoint or without ../shared/data."""

from __future__ import annotations

from pathlib import Path

import pytest

import fers.export.parity as parity  # noqa: E402  (export/parity.py)
from fers.bands import SHIPPED_BAND_COUNTS, parse_band_spec, prepare_bands
from fers.enhance.paths import onnx_filenames, shipped_onnx_dir
from fers.normalize import normalize_cube
from tests.conftest import load_verified_scene


def shipped_pair(tmp_dir: Path):
    """(checkpoint, [spe, spa]) for the smallest shipped model: weights/onnx/ files when they match
    the .pt, else a fresh export into ``tmp_dir`` (a clone has the .pt but not weights/onnx/)."""
    from fers.enhance.paths import shipped_checkpoint
    from fers.export.exporter import ensure_onnx, exported_sha, file_sha256

    for n in SHIPPED_BAND_COUNTS:
        pt = shipped_checkpoint(n)
        if not pt.is_file():
            continue
        pair = [shipped_onnx_dir() / name for name in onnx_filenames(n)]
        if all(p.is_file() for p in pair) and all(exported_sha(p) == file_sha256(pt) for p in pair):
            return pt, pair
        return pt, list(ensure_onnx(n, out_dir=tmp_dir, checkpoint=pt))
    pytest.skip("no shipped checkpoint weights/fers_b{50,100,200}.pt")


def test_shipped_onnx_matches_shipped_checkpoint_on_airport1(tmp_path):
    scene = load_verified_scene("abu/abu-airport-1.mat")  # skips first when ../shared/data is absent
    pt, pair = shipped_pair(tmp_path)
    from fers.enhance.onnx_backend import OnnxEnhancer
    from fers.enhance.torch_backend import TorchEnhancer

    o = OnnxEnhancer(*pair, providers=["CPUExecutionProvider"])
    cube, _, _ = prepare_bands(scene.cube, parse_band_spec(str(o.n_bands)))
    row = parity.compare(TorchEnhancer(pt, device="cpu"), o, normalize_cube(cube), scene.gt, "abu-airport-1")
    assert row.err_spe <= parity.FEATURE_TOL and row.err_spa <= parity.FEATURE_TOL, row
    assert row.auc_gap < parity.AUC_TOL, (row.auc_torch, row.auc_onnx)
