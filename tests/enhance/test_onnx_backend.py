"""ONNX runtime backend (issue #4): torch-free import, CUDA -> CPU fallback, first-use export,
pipeline integration and the numpy + onnxruntime embedding example.

The tiny 12-band model is exported here with the fast TorchScript exporter (the dynamo path the
shipped files use is covered by test_onnx_export.py); the runtime does not care which wrote it.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

import fers.enhance.onnx_backend as ob
import fers.export.exporter as oe
from fers.enhance.torch_backend import TorchEnhancer
from fers.errors import FersInputError, FersModelError
from fers.methods import DEFAULT_FUSION, method_maps
from fers.models.checkpoint import build_fens, default_config, save_fens

REPO = Path(__file__).resolve().parents[2]
N = 12
BLOCK_TORCH = (  # torch and torchvision unimportable (an import hook, so sys.modules stays clean)
    "import sys, importlib.abc\n"
    "class _NoTorch(importlib.abc.MetaPathFinder):\n"
    "    def find_spec(self, name, path=None, target=None):\n"
    "        if name.split('.')[0] in ('torch', 'torchvision'):\n"
    "            raise ImportError('torch blocked by the test')\n"
    "sys.meta_path.insert(0, _NoTorch())\n"
)


def tiny_checkpoint(path: Path, seed: int) -> Path:
    torch.manual_seed(seed)
    cfg = default_config(N, spe_backbone="resnet18", spa_backbone="resnet18")
    spe, spa = build_fens(cfg)
    return save_fens(path, spe, spa, cfg)


def cube(h=23, w=31, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.random((h, w, N), dtype=np.float32) * 0.2 - 0.1).astype(np.float32)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """(checkpoint, spe.onnx, spa.onnx) of a random-init 12-band model."""
    tmp = tmp_path_factory.mktemp("onnx_backend")
    ckpt = tiny_checkpoint(tmp / "fers_b12.pt", seed=1)
    spe, spa = oe.export_checkpoint(ckpt, tmp / "onnx", exporter="torchscript")
    return ckpt, spe, spa


@pytest.fixture
def fresh_cuda_state(monkeypatch):
    monkeypatch.setitem(ob._cuda_state, "usable", None)
    monkeypatch.setitem(ob._cuda_state, "warned", False)


def run_python(code: str, *args, env=None, cwd=REPO) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=300, cwd=str(cwd))


def test_backend_runs_without_torch(model, tmp_path):
    ckpt, spe, spa = model
    h = cube(29, 17)
    np.save(tmp_path / "h.npy", h)
    code = BLOCK_TORCH + (
        "import numpy as np\n"
        "from fers.enhance.onnx_backend import OnnxEnhancer\n"
        "e = OnnxEnhancer(sys.argv[1], sys.argv[2])\n"
        "f_spe, f_spa = e.enhance(np.load(sys.argv[3]))\n"
        "np.savez(sys.argv[4], f_spe=f_spe, f_spa=f_spa)\n"
        "assert 'torch' not in sys.modules\n"
        "print('n_bands', e.n_bands)\n"
    )
    res = run_python(code, spe, spa, tmp_path / "h.npy", tmp_path / "f.npz")
    assert res.returncode == 0, res.stderr
    assert "n_bands 12" in res.stdout
    assert "Traceback" not in res.stderr and "[E:onnxruntime" not in res.stderr
    assert sum("CUDA" in line for line in res.stderr.splitlines()) <= 1, res.stderr
    got = np.load(tmp_path / "f.npz")
    t_spe, t_spa = TorchEnhancer(ckpt, device="cpu").enhance(h)
    assert np.abs(got["f_spe"] - t_spe).max() <= 1e-4 * np.abs(t_spe).max()
    assert np.abs(got["f_spa"] - t_spa).max() <= 1e-4 * np.abs(t_spa).max()


class FailingCudaSession:
    """InferenceSession stand-in: a CUDA request fails the way ORT reports a missing GPU (noise on the
    C-level stderr, then an exception or a silent CPU-only session); CPU requests are real."""

    calls: list = []
    mode = "raise"

    def __new__(cls, path, so=None, providers=None):
        cls.calls.append(list(providers or []))
        if ob.CUDA in (providers or []):
            os.write(2, b"[E:onnxruntime:Default] CUDA failure 100: no CUDA-capable device is detected\n")
            if cls.mode == "raise":
                raise RuntimeError("Failed to create CUDAExecutionProvider: no CUDA-capable device is detected")
            return REAL_SESSION(path, so, providers=[ob.CPU])
        return REAL_SESSION(path, so, providers=providers)


REAL_SESSION = ort.InferenceSession


@pytest.mark.parametrize("mode", ["raise", "silent"])
def test_cuda_failure_falls_back_to_cpu_with_one_warning(model, monkeypatch, caplog, capfd, fresh_cuda_state, mode):
    _, spe, spa = model
    monkeypatch.setattr(ort, "get_available_providers", lambda: [ob.CUDA, ob.CPU])
    monkeypatch.setattr(ob, "_cuda_driver_problem", lambda: None)  # pretend a driver and device exist
    monkeypatch.setattr(ort, "InferenceSession", FailingCudaSession)
    monkeypatch.setattr(FailingCudaSession, "mode", mode)
    FailingCudaSession.calls = []
    with caplog.at_level(logging.WARNING, logger="fers.enhance.onnx_backend"):
        e1 = ob.OnnxEnhancer(spe, spa)
        e2 = ob.OnnxEnhancer(spe, spa)
    assert e1.providers == [ob.CPU] and e2.providers == [ob.CPU]
    warnings = [r for r in caplog.records if r.name == "fers.enhance.onnx_backend"]
    assert len(warnings) == 1 and "running ONNX models on CPU" in warnings[0].getMessage()
    assert "no CUDA-capable device" in warnings[0].getMessage()  # the reason, from ORT's own text
    assert "\n" not in warnings[0].getMessage()
    assert sum(ob.CUDA in c for c in FailingCudaSession.calls) == 1  # CUDA tried once per process
    err = capfd.readouterr().err
    assert "CUDA failure" not in err and "Traceback" not in err
    f_spe, f_spa = e1.enhance(cube())
    assert f_spe.shape == (23, 31, N) and f_spa.dtype == np.float32


def test_missing_driver_warns_once_and_never_asks_ort_for_cuda(model, monkeypatch, caplog, fresh_cuda_state):
    _, spe, spa = model
    monkeypatch.setattr(ort, "get_available_providers", lambda: [ob.CUDA, ob.CPU])
    monkeypatch.setattr(ob, "_cuda_driver_problem", lambda: "no NVIDIA driver: libcuda.so.1 not found")
    monkeypatch.setattr(ort, "InferenceSession", FailingCudaSession)
    FailingCudaSession.calls = []
    with caplog.at_level(logging.WARNING, logger="fers.enhance.onnx_backend"):
        ob.OnnxEnhancer(spe, spa)
        ob.OnnxEnhancer(spe, spa)
    assert len([r for r in caplog.records if r.name == "fers.enhance.onnx_backend"]) == 1
    assert all(ob.CUDA not in c for c in FailingCudaSession.calls)


def test_bad_files_are_one_line_input_errors(model, tmp_path):
    _, spe, spa = model
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model")
    with pytest.raises(FersInputError, match="cannot load ONNX model"):
        ob.OnnxEnhancer(junk, spa, providers=[ob.CPU])
    with pytest.raises(FersInputError, match="expected the spe branch"):
        ob.OnnxEnhancer(spa, spe, providers=[ob.CPU])
    with pytest.raises(FersInputError, match="not found"):
        ob.OnnxEnhancer(tmp_path / "missing.onnx", spa)
    e = ob.OnnxEnhancer(spe, spa, providers=[ob.CPU])
    with pytest.raises(FersInputError, match="needs 12"):
        e.enhance(np.zeros((20, 20, 11), np.float32))
    with pytest.raises(FersInputError, match="at least 8x8"):
        e.enhance(np.zeros((7, 20, N), np.float32))


def test_ensure_onnx_exports_once_and_refreshes_for_new_weights(tmp_path, monkeypatch):
    monkeypatch.setattr(oe, "default_exporter", lambda: "torchscript")  # speed; dynamo tested elsewhere
    ckpt = tiny_checkpoint(tmp_path / "fers_b12.pt", seed=2)
    out = tmp_path / "onnx"
    spe, spa = oe.ensure_onnx(N, out_dir=out, checkpoint=ckpt)
    assert spe.is_file() and spa.is_file() and oe.exported_sha(spe) == oe.file_sha256(ckpt)
    oe._UP_TO_DATE.clear()
    real_export = oe.export_checkpoint
    monkeypatch.setattr(oe, "export_checkpoint", lambda *a, **k: pytest.fail("re-exported up-to-date files"))
    assert oe.ensure_onnx(N, out_dir=out, checkpoint=ckpt) == (spe, spa)
    monkeypatch.setattr(oe, "export_checkpoint", real_export)
    tiny_checkpoint(ckpt, seed=3)  # new weights, same path
    oe.ensure_onnx(N, out_dir=out, checkpoint=ckpt)
    assert oe.exported_sha(spe) == oe.file_sha256(ckpt)
    with pytest.raises(FersModelError, match="no model for 12 bands"):
        oe.ensure_onnx(N, out_dir=tmp_path / "empty", checkpoint=tmp_path / "absent.pt")


def _weights_folder(tmp_path, ckpt) -> Path:
    """A weights folder like the shipped one: ``fers_b12.pt`` and, exported from it, ``onnx/*.onnx``."""
    folder = tmp_path / "weights"
    (folder / "onnx").mkdir(parents=True)
    (folder / "fers_b12.pt").write_bytes(Path(ckpt).read_bytes())
    oe.export_checkpoint(folder / "fers_b12.pt", folder / "onnx", exporter="torchscript")
    return folder


def _scene():
    rng = np.random.default_rng(0)
    c = rng.normal(100, 5, (24, 26, 30)).astype(np.float32)
    gt = np.zeros((24, 26), bool)
    gt[5, 7] = gt[17, 20] = True
    c[gt] += 40
    return c, gt


def test_detect_onnx_without_torch_and_without_writing(tmp_path):
    """fers.detect(backend='onnx') on shipped-style ONNX files with torch unimportable; nothing is
    written into the weights folder, and the cache gets no exported model (only ORT's optimised
    graphs, fers.enhance.onnx_backend.cpu_session)."""
    folder = _weights_folder(tmp_path, tiny_checkpoint(tmp_path / "ck.pt", seed=5))
    c, gt = _scene()
    np.save(tmp_path / "c.npy", c)
    np.save(tmp_path / "gt.npy", gt)
    before = sorted(p.name for p in folder.rglob("*"))
    code = BLOCK_TORCH + (
        "import numpy as np, fers\n"
        "r = fers.detect(np.load(sys.argv[1]), np.load(sys.argv[2]), bands='12', backend='onnx')\n"
        "assert 'torch' not in sys.modules\n"
        "assert not any(m.startswith('fers.export') for m in sys.modules)\n"
        "print(sorted(r.maps), r.default_method)\n"
    )
    env = {"FERS_WEIGHTS": str(folder), "FERS_CACHE": str(tmp_path / "cache")}
    res = run_python(code, tmp_path / "c.npy", tmp_path / "gt.npy", env=env)
    assert res.returncode == 0, res.stderr
    assert "fusion_rx" in res.stdout and "spectral" in res.stdout, res.stdout
    assert sorted(p.name for p in folder.rglob("*")) == before
    cached = sorted(p.relative_to(tmp_path / "cache").parts[0] for p in (tmp_path / "cache").rglob("*.onnx"))
    assert set(cached) <= {"onnx-optimized"}, cached


def test_onnx_export_is_explicit_and_goes_to_the_user_cache(tmp_path, monkeypatch):
    """Only a .pt: the ONNX backend reports the missing files; build_missing exports into $FERS_CACHE."""
    import fers.enhance as fe
    import fers.pipeline as pl

    monkeypatch.setattr(oe, "default_exporter", lambda: "torchscript")
    folder = tmp_path / "weights"
    folder.mkdir()
    tiny_checkpoint(folder / "fers_b12.pt", seed=4)
    monkeypatch.setenv("FERS_WEIGHTS", str(folder))
    monkeypatch.setenv("FERS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(fe, "_ENHANCERS", {})
    with pytest.raises(fe.ModelUnavailable, match="no onnx model for 12 bands"):
        fe.make_enhancer(N, "onnx")
    c, gt = _scene()
    res = pl.detect(c, gt, bands=str(N), backend="onnx")
    assert list(res.maps) == ["rx"] and any("no onnx model" in str(n) for n in res.notes)
    enh = fe.make_enhancer(N, "onnx", build_missing=True)
    assert all(p.parent == tmp_path / "cache" / "onnx" for p in enh.paths)
    assert sorted(p.name for p in folder.iterdir()) == ["fers_b12.pt"]  # nothing written beside the weights
    res = pl.detect(c, gt, bands=str(N), backend="onnx")
    assert {"rx", "spectral", "spatial", "fusion_add", "fusion_mult", "fusion_rx"} <= set(res.maps), res.notes


def test_embedding_example_runs_with_numpy_and_onnxruntime_only(model, tmp_path):
    _, spe, spa = model
    rng = np.random.default_rng(3)
    raw = (rng.normal(500, 30, (26, 21, 9)) + np.linspace(0, 200, 9)).astype(np.float32)  # 9 < 12 bands
    np.save(tmp_path / "scene.npy", raw)
    code = BLOCK_TORCH + (
        "sys.modules['fers'] = None\n"
        "import runpy\n"
        "sys.argv = ['embed_example.py'] + sys.argv[1:]\n"
        "runpy.run_path('export/embed_example.py', run_name='__main__')\n"
    )
    res = run_python(code, tmp_path / "scene.npy", spe, spa)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith(f"{DEFAULT_FUSION} top pixels")
    maps = np.load(tmp_path / "scene.maps.npz")
    from fers.bands import adapt_bands
    from fers.normalize import normalize_cube

    h = normalize_cube(adapt_bands(raw, N)[0])
    e = ob.OnnxEnhancer(spe, spa, providers=[ob.CPU])
    ref = method_maps(h, *e.enhance(h))
    for m, r in ref.items():
        assert np.abs(maps[m] - r).max() <= 1e-3 * np.abs(r).max(), m
