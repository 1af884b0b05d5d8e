"""The inference default: ``backend="auto"`` is ONNX Runtime whenever shipped ONNX files exist, and the
command line's detection path imports neither torch nor the other heavy optional packages."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

import fers.enhance as fe
from tests.enhance.test_onnx_backend import REPO

HEAVY = ("torch", "sklearn", "gradio", "rasterio", "xarray", "dask", "distributed", "matplotlib", "h5py", "pandas")


def test_auto_is_onnx_when_shipped_onnx_files_exist(tmp_path, monkeypatch):
    (tmp_path / "onnx").mkdir()
    monkeypatch.setenv("FERS_WEIGHTS", str(tmp_path))
    no_onnx = "torch" if importlib.util.find_spec("torch") else "onnx"
    assert fe.resolve_backend("auto") == no_onnx  # an empty onnx/ folder: nothing to run there
    (tmp_path / "onnx" / "fers_b50_spe.onnx").write_bytes(b"")
    assert fe.resolve_backend("auto") == "onnx"
    assert fe.resolve_backend("torch") == "torch"  # asked for by name: kept


@pytest.mark.skipif(not (REPO / "weights" / "onnx" / "fers_b200_spe.onnx").is_file(), reason="no shipped ONNX files")
def test_cli_detect_imports_no_heavy_package():
    """``fers detect`` on the shipped example, default options: ONNX Runtime ran, and torch, scikit-learn,
    h5py (a v5 .mat), gradio, rasterio, xarray, dask and matplotlib were never imported."""
    code = ("import sys, json, io, contextlib\n"
            "from fers.cli import main\n"
            "buf = io.StringIO()\n"
            "with contextlib.redirect_stdout(buf):\n"
            "    rc = main(['detect', 'fers/examples/abu-airport-4.mat', '--json'])\n"
            "out = json.loads(buf.getvalue())\n"
            f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
            "print(rc, out['backend'], ','.join(heavy) or '-')\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=str(REPO),
                         env={**__import__("os").environ, "PYTHONPATH": str(REPO)})
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["0", "onnx", "-"], res.stdout


def test_auto_with_a_user_checkpoint_is_torch_when_installed(tmp_path, monkeypatch):
    """A user's .pt runs as it is under ``auto`` (no export to ONNX first) when torch is installed."""
    (tmp_path / "onnx").mkdir()
    (tmp_path / "onnx" / "fers_b50_spe.onnx").write_bytes(b"")
    monkeypatch.setenv("FERS_WEIGHTS", str(tmp_path))
    want = "torch" if importlib.util.find_spec("torch") else "onnx"
    assert fe.resolve_backend("auto", weights=tmp_path / "mine.pt") == want
    assert fe.resolve_backend("onnx", weights=tmp_path / "mine.pt") == "onnx"
