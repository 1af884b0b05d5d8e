"""ONNX export of the FENs (issue #4): files, metadata, dynamic axes, parity with PyTorch.

One small random-init checkpoint (12 bands, ResNet-18 backbones) is exported once per module by
``export/to_onnx.py`` itself (default exporter, opset 18) into a temp folder; the tests check the
files it wrote.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

import fers.export.parity as parity
from export import to_onnx
from fers import __version__
from fers.bands import ADAPTER_RULE, ADAPTER_RULES, DEFAULT_ADAPTER
from fers.enhance.onnx_backend import OnnxEnhancer
from fers.enhance.torch_backend import TorchEnhancer
from fers.export.exporter import OPSET, file_sha256
from fers.methods import DEFAULT_FUSION, GRAPH_METHODS, METHODS
from fers.models.checkpoint import build_fens, default_config, save_fens
from fers.normalize import NORMALIZATION

EXPORT_DIR = Path(__file__).resolve().parents[2] / "export"

N_BANDS = 12


def tiny_checkpoint(path: Path, seed: int = 0) -> Path:
    torch.manual_seed(seed)
    cfg = default_config(N_BANDS, spe_backbone="resnet18", spa_backbone="resnet18")
    cfg["training"] = {"stage1": {"run": {"data": {"data": "/some/folder"}},
                                  "data": {"train_scenes": ["bg-a", "bg-b"]}}, "note": "random init"}
    spe, spa = build_fens(cfg)
    return save_fens(path, spe, spa, cfg)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """(checkpoint, out_dir, script stdout) after ``to_onnx.py --checkpoint ... --out ...``."""
    tmp = tmp_path_factory.mktemp("onnx_export")
    ckpt = tiny_checkpoint(tmp / "fers_b12.pt")
    out = tmp / "onnx"
    (tmp / "no_data").mkdir()  # no ABU scene: parity on random cubes only
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = to_onnx.main(["--checkpoint", str(ckpt), "--out", str(out), "--data", str(tmp / "no_data"),
                           "--detector"])
    text = buf.getvalue()
    assert rc == 0, text
    return ckpt, out, text


@pytest.fixture(scope="module")
def enhancers(exported):
    ckpt, out, _ = exported
    o = OnnxEnhancer(out / "fers_b12_spe.onnx", out / "fers_b12_spa.onnx", providers=["CPUExecutionProvider"])
    return TorchEnhancer(ckpt, device="cpu"), o


def test_script_writes_both_files_and_reports_parity(exported):
    _, out, text = exported
    names = sorted(p.name for p in out.glob("*.onnx"))
    assert names == ["fers_b12_detector.onnx", "fers_b12_spa.onnx", "fers_b12_spe.onnx"]
    assert "parity OK" in text and "random 37x53" in text and "random batch 2x41x29" in text
    assert "detector .onnx vs Python pipeline" in text


@pytest.mark.parametrize("branch", ["spe", "spa"])
def test_checker_opset_and_dynamic_axes(exported, branch):
    _, out, _ = exported
    path = out / f"fers_b12_{branch}.onnx"
    onnx.checker.check_model(str(path), full_check=True)
    model = onnx.load(str(path))
    assert [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")] == [OPSET]
    for vi, name in ((model.graph.input[0], "cube"), (model.graph.output[0], "features")):
        assert vi.name == name
        dims = [d.dim_param or d.dim_value for d in vi.type.tensor_type.shape.dim]
        assert dims == ["batch", N_BANDS, "height", "width"]


@pytest.mark.parametrize("branch", ["spe", "spa"])
def test_metadata_for_embedding(exported, branch):
    ckpt, out, _ = exported
    model = onnx.load(str(out / f"fers_b12_{branch}.onnx"))
    meta = {p.key: p.value for p in model.metadata_props}
    need = ["n_bands", "branch", "band_adapter", "normalization", "input", "output", "default_fusion",
            "methods", "training_data", "backbone_init", "version", "config", "checkpoint_sha256"]
    assert not [k for k in need if f"fers.{k}" not in meta]
    assert json.loads(meta["fers.n_bands"]) == N_BANDS
    assert meta["fers.branch"] == branch
    assert meta["fers.band_adapter"] == ADAPTER_RULES[DEFAULT_ADAPTER]  # how to fit a cube at inference
    assert meta["fers.band_adapter_name"] == DEFAULT_ADAPTER and meta["fers.training_band_adapter"] == ADAPTER_RULE
    assert json.loads(meta["fers.normalization"]) == NORMALIZATION
    assert meta["fers.default_fusion"] == DEFAULT_FUSION  # measured default
    assert meta["fers.paper_default_fusion"] == "fusion_mult"  # paper: fusion A for <= 50 bands
    assert "RX(H + F_spe)" in json.loads(meta["fers.methods"])["spectral"]
    assert meta["fers.training_data"] == "bg-a, bg-b"
    assert json.loads(meta["fers.backbone_init"]) == {"spe": "none", "spa": "none"}
    assert meta["fers.version"] == __version__
    assert meta["fers.checkpoint_sha256"] == file_sha256(ckpt)
    assert "(batch, 12, height, width) float32 normalised cube" in meta["fers.input"]


@pytest.mark.parametrize("hw", [(37, 53), (9, 131)])
def test_feature_parity_on_odd_sizes(enhancers, hw):
    t, o = enhancers
    row = parity.compare(t, o, parity.random_cube(*hw, N_BANDS, seed=hw[0]))
    assert row.err_spe <= parity.FEATURE_TOL and row.err_spa <= parity.FEATURE_TOL, row


def test_feature_parity_batch(enhancers):
    t, o = enhancers
    hs = np.stack([parity.random_cube(20, 33, N_BANDS, seed=s) for s in (1, 2, 3)])
    row = parity.compare_batch(t, o, hs)
    assert row.err_spe <= parity.FEATURE_TOL and row.err_spa <= parity.FEATURE_TOL, row


def test_auc_parity_every_method(enhancers):
    t, o = enhancers
    rng = np.random.default_rng(7)
    h = parity.random_cube(45, 40, N_BANDS, seed=5)
    gt = np.zeros((45, 40), bool)
    gt[rng.integers(0, 45, 12), rng.integers(0, 40, 12)] = True
    h[gt] += rng.normal(0, 0.05, size=(int(gt.sum()), N_BANDS)).astype(np.float32)
    row = parity.compare(t, o, h, gt)
    assert set(row.auc_torch) == set(METHODS)
    assert row.auc_gap < parity.AUC_TOL, (row.auc_torch, row.auc_onnx)


def test_parity_verdict_flags_a_mismatch():
    bad = parity.ParityRow(50, "x", 2e-4, 0.0)
    gap = parity.ParityRow(50, "x", 0.0, 0.0, {"rx": 0.91}, {"rx": 0.91 + 2 * parity.AUC_TOL})
    assert not bad.ok and not gap.ok and parity.ParityRow(50, "x", 1e-6, 1e-6).ok
    assert "NO" in parity.format_table([bad])


def test_script_exit_code_for_missing_checkpoint(tmp_path, capsys):
    assert to_onnx.main(["--checkpoint", str(tmp_path / "none.pt"), "--out", str(tmp_path)]) == 2
    assert "checkpoint not found" in capsys.readouterr().err


def test_detector_graph_outputs_every_method_on_any_size(exported):
    import onnxruntime as ort

    _, out, _ = exported
    path = out / "fers_b12_detector.onnx"
    onnx.checker.check_model(str(path), full_check=True)
    model = onnx.load(str(path))
    assert [o.name for o in model.graph.output] == list(GRAPH_METHODS)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for hw in [(37, 53), (20, 20)]:
        h = parity.random_cube(*hw, N_BANDS, seed=1)
        maps = sess.run(None, {"cube": np.ascontiguousarray(h.transpose(2, 0, 1)[None])})
        assert all(m.shape == (1, *hw) and np.isfinite(m).all() for m in maps)


def test_newton_schulz_rx_matches_python_rx_on_rank_deficient_cube():
    from fers.bands import adapt_bands
    from fers.detectors.rx import rx
    from fers.export.detector_graph import rx_newton_schulz

    rng = np.random.default_rng(0)
    raw = rng.normal(size=(30, 25, 7)).cumsum(axis=2)
    raw[4, 5] += 4.0
    h = adapt_bands(raw.astype(np.float32), 16)[0]  # 7 -> 16 bands: covariance of rank 7
    ref = rx(h.astype(np.float64))
    got = rx_newton_schulz(torch.from_numpy(np.ascontiguousarray(h.transpose(2, 0, 1)[None])))[0].numpy()
    assert np.isfinite(got).all()
    assert np.abs(got - ref).max() <= 1e-4 * ref.max()
