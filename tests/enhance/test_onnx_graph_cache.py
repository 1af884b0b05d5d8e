"""The ORT-optimised graph cache of CPU sessions (fers.enhance.onnx_backend.cpu_session): the first
session of a model saves its optimised graph in the user cache, later ones load it; the features
are identical, and a damaged or unwritable cache falls back to the original file."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

import fers.enhance.onnx_backend as ob
from fers.enhance.paths import find_onnx

SPE, SPA = find_onnx(50)
pytestmark = pytest.mark.skipif(not (SPE.is_file() and SPA.is_file()), reason="shipped 50-band ONNX files absent")


def h(seed=0) -> np.ndarray:
    """A normalised-looking cube ``(20, 24, 50)`` float32."""
    return (np.random.default_rng(seed).random((20, 24, 50), dtype=np.float32) * 2 - 1).astype(np.float32)


@pytest.fixture
def opened(monkeypatch):
    """Record the model path of every ONNX Runtime session the backend opens."""
    paths: list = []
    real = ort.InferenceSession

    def spy(path, so=None, providers=None):
        paths.append(str(path))
        return real(path, so, providers=providers)

    monkeypatch.setattr(ort, "InferenceSession", spy)
    return paths


def features():
    return ob.OnnxEnhancer(SPE, SPA, providers=[ob.CPU], threads=1).enhance(h())


def test_optimised_graph_is_cached_and_reused_with_identical_features(tmp_path, monkeypatch, opened):
    monkeypatch.setenv("FERS_CACHE", str(tmp_path))
    monkeypatch.setenv("FERS_ORT_GRAPH_CACHE", "0")
    plain = features()
    assert not (tmp_path / "onnx-optimized").exists()
    monkeypatch.delenv("FERS_ORT_GRAPH_CACHE")
    first = features()  # saves the optimised graphs
    cached = sorted((tmp_path / "onnx-optimized").glob("*.onnx"))
    assert [p.name.split(".")[0] for p in cached] == ["fers_b50_spa", "fers_b50_spe"]
    assert cached == sorted([ob.optimized_path(SPE), ob.optimized_path(SPA)])
    opened.clear()
    second = features()  # loads them
    assert sorted(opened) == [str(p) for p in cached]
    for a, b, c in zip(plain, first, second):
        assert np.array_equal(a, b) and np.array_equal(a, c)
    assert not list((tmp_path / "onnx-optimized").glob(".tmp-*"))


def test_damaged_cache_file_is_replaced(tmp_path, monkeypatch):
    monkeypatch.setenv("FERS_CACHE", str(tmp_path))
    want = features()
    target = ob.optimized_path(SPE)
    target.write_bytes(b"not an onnx model")
    got = features()
    assert all(np.array_equal(a, b) for a, b in zip(want, got))
    assert target.stat().st_size > 1000  # rewritten from the original


def test_unwritable_cache_falls_back_to_the_model_file(tmp_path, monkeypatch, opened):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("FERS_CACHE", str(blocker))
    got = features()
    assert sorted(opened) == sorted([str(SPE), str(SPA)])
    assert got[0].shape == (20, 24, 50) and np.isfinite(got[0]).all()
