"""detect(): band handling, method maps (eq. 17-23), enhancer dispatch, detectors, large scenes."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import fers.enhance
import fers.methods as fusion
import fers.pipeline as pl
from fers.bands import resample_bands
from fers.detectors.rx import rx
from fers.errors import FersInputError
from fers.metrics import auc
from fers.normalize import normalize_cube


class FakeEnhancer:
    """Deterministic stand-in with the enhancer API: features are fixed functions of h."""

    def __init__(self, n):
        self.n_bands, self.config, self.calls = n, {"n_bands": n}, 0

    def enhance(self, h):
        self.calls += 1
        assert h.shape[-1] == self.n_bands and h.dtype == np.float32
        return np.sin(7 * h) * 0.05, np.roll(h, 1, axis=0) * 0.3


@pytest.fixture
def scene(rng):
    cube = rng.normal(200, 10, size=(16, 14, 12)).astype(np.float32)
    gt = np.zeros((16, 14), bool)
    gt[4, 5] = gt[11, 9] = True
    cube[gt] += 80
    return cube, gt


@pytest.fixture
def fake(monkeypatch):
    made = {}

    def make(n, backend="torch", **kw):
        made.setdefault((n, backend), FakeEnhancer(n))
        return made[(n, backend)]

    monkeypatch.setattr("fers.pipeline.steps.make_enhancer", make)
    return made


def test_bands_all_runs_only_rx(scene, fake):
    cube, gt = scene
    res = pl.detect(cube, gt, bands="all")
    assert list(res.maps) == ["rx"] and res.model_bands is None and not fake
    np.testing.assert_allclose(res.maps["rx"], rx(normalize_cube(cube)))
    assert res.auc["rx"] == pytest.approx(auc(res.maps["rx"], gt))
    assert [n.code for n in res.notes] == ["model.no_bands"] and "model-based methods skipped" in str(res.notes[0])
    assert res.auc3d["rx"]["auc_pd_pf"] == res.auc["rx"]


def test_all_methods_match_fusion_equations(scene, fake):
    cube, gt = scene
    res = pl.detect(cube, gt, bands="20")  # 12 bands -> interpolated to 20
    assert res.model_bands == 20 and "interpolation 12 -> 20" in res.band_adapter
    assert res.cube_used.shape == (16, 14, 20) and np.abs(res.cube_used).max() <= 0.1 + 1e-6
    f_spe, f_spa = FakeEnhancer(20).enhance(res.cube_used)
    expect = fusion.method_maps(res.cube_used, f_spe, f_spa)
    assert list(res.maps) == list(fusion.METHODS)
    for m in fusion.METHODS:
        np.testing.assert_allclose(res.maps[m], expect[m], rtol=1e-10, err_msg=m)
    assert set(res.auc) == set(fusion.METHODS) and set(res.auc3d) == set(fusion.METHODS)
    assert {"prepare", "enhance", "rx", "spectral", "spatial", "fusion_add"} <= set(res.seconds)
    pl.detect(cube, gt, bands="20")
    assert fake[(20, fers.enhance.resolve_backend("auto"))].calls == 2 and len(fake) == 1


def test_method_subset_and_band_range(scene, fake):
    cube, _ = scene
    res = pl.detect(cube, bands="2:9", methods=["fusion_mult"])
    assert list(res.maps) == ["fusion_mult"] and res.model_bands == 50 and res.auc is None
    res = pl.detect(cube, bands="8", methods=["rx"], adapter="first")  # the paper's "first N bands"
    assert list(res.maps) == ["rx"] and (8, "torch") not in fake  # plain RX needs no enhancer
    np.testing.assert_allclose(res.maps["rx"], rx(normalize_cube(cube[..., :8])))
    res = pl.detect(cube, bands="8", methods=["rx"])  # the default adapter resamples the whole range
    np.testing.assert_allclose(res.maps["rx"], rx(normalize_cube(resample_bands(cube, 8))))


def test_missing_model_is_a_note_not_an_error(scene, monkeypatch, tmp_path):

    monkeypatch.setenv("FERS_WEIGHTS", str(tmp_path))
    fers.enhance._ENHANCERS.clear()
    with pytest.raises(fers.enhance.ModelUnavailable, match="no torch model for 50 bands"):
        fers.enhance.make_enhancer(50, "torch")
    res = pl.detect(scene[0], scene[1], bands="50")
    assert list(res.maps) == ["rx"] and any(n.code == "model.unavailable" and "no torch model" in str(n) for n in res.notes)
    monkeypatch.setitem(sys.modules, "fers.enhance.onnx_backend", None)  # backend module absent
    with pytest.raises(fers.enhance.ModelUnavailable, match="onnx backend not available"):
        fers.enhance.make_enhancer(50, "onnx")
    with pytest.raises(FersInputError, match="unknown backend"):
        fers.enhance.make_enhancer(50, "tf")


def test_make_enhancer_loads_and_caches_a_real_checkpoint(scene, monkeypatch, tmp_path):
    ck = pytest.importorskip("fers.models.checkpoint")
    pytest.importorskip("fers.enhance.torch_backend")
    spe, spa = ck.build_fens(16)
    ck.save_fens(tmp_path / "fers_b16.pt", spe, spa, ck.default_config(16))
    monkeypatch.setenv("FERS_WEIGHTS", str(tmp_path))
    fers.enhance._ENHANCERS.clear()
    try:
        enh = fers.enhance.make_enhancer(16, "torch")
        assert enh.n_bands == 16 and fers.enhance.make_enhancer(16, "torch") is enh
        res = pl.detect(scene[0], scene[1], bands="16")
        assert list(res.maps) == list(fusion.METHODS)
        assert all(np.isfinite(m).all() for m in res.maps.values())
    finally:
        fers.enhance._ENHANCERS.clear()


def test_input_errors(scene, fake):
    cube, gt = scene
    empty = pl.detect(cube, np.zeros_like(gt), bands="all")  # maps still come, AUC marked unavailable
    assert list(empty.maps) == ["rx"] and empty.auc is None and "no anomaly pixel" in empty.auc_note
    with pytest.raises(FersInputError, match="does not match"):
        pl.detect(cube, gt[:5])
    with pytest.raises(FersInputError, match="unknown detector"):
        pl.detect(cube, detector="svm")
    with pytest.raises(FersInputError, match="unknown method"):
        pl.detect(cube, methods=["ae"])
    with pytest.raises(FersInputError, match="bad band spec"):
        pl.detect(cube, bands="x")
    with pytest.raises(FersInputError, match="odd"):
        pl.detect(cube, detector="lrx", windows=(4, 9))


def test_detector_dispatch(scene, fake, monkeypatch):
    import fers.detectors.ae as ae
    import fers.detectors.lrx as lrx

    cube, gt = scene
    calls = []
    monkeypatch.setattr(lrx, "local_rx", lambda c, i, o, valid=None: calls.append((c.shape, i, o)) or c[..., 0] * 1.0)
    res = pl.detect(cube, gt, bands="12", detector="lrx", windows=(3, 7))
    assert list(res.maps) == list(fusion.METHODS) and len(calls) == 4 and calls[0] == ((16, 14, 12), 3, 7)
    np.testing.assert_array_equal(res.maps["rx"], res.cube_used[..., 0])
    monkeypatch.setattr(ae, "ae_scores", lambda c, seed=0, threads=None, valid=None: np.abs(c).sum(axis=2) * threads)
    res = pl.detect(cube, gt, bands="12", detector="ae")
    assert list(res.maps) == ["ae", "ae_enhanced"]
    np.testing.assert_allclose(res.maps["ae"], np.abs(res.cube_used).sum(axis=2))  # called with threads=1

    def no_torch(*a, **k):
        raise ImportError("No module named 'torch'")

    monkeypatch.setattr(ae, "ae_scores", no_torch)
    with pytest.raises(FersInputError, match="detector ae not available"):
        pl.detect(cube, detector="ae")


def test_a_detector_is_one_registry_entry(scene, fake):
    """A detector declared by nothing but a registry entry runs through detect(), its option included,
    and appears in the command line's choices and the memory plan."""
    from fers.cli import build_parser
    from fers.detectors import Detector, Option, register, unregister

    cube, gt = scene
    calls = []

    def scorer(valid=None, power=2):
        def score(c):
            calls.append((c.shape, power))
            return (np.abs(c - c.mean(axis=(0, 1))) ** power).sum(axis=2)
        return score

    register(Detector("toy", "distance to the mean", scorer, lambda p, n, h: 8 * p * n,
                      options=(Option("power", 2, int, "the distance's exponent", "2"),)))
    try:
        res = pl.detect(cube, gt, bands="12", detector="toy", power="3")
        assert res.detector == "toy" and list(res.maps) == list(fusion.METHODS)
        assert len(calls) == 4 and calls[0] == ((16, 14, 12), 3) and res.auc["rx"] > 0.9
        a = build_parser().parse_args(["detect", "x.npy", "--detector", "toy", "--power", "1"])
        assert a.detector == "toy" and a.power == 1
        assert pl.plan_request((16, 14, 12), detector="toy") is False
    finally:
        unregister("toy")
    with pytest.raises(FersInputError, match="unknown detector 'toy'"):
        pl.detect(cube, detector="toy")


def test_local_rx_detector_runs_for_real(scene):
    pytest.importorskip("fers.detectors.lrx")
    cube, gt = scene
    res = pl.detect(cube, gt, bands="all", detector="lrx", windows=(3, 7))
    assert list(res.maps) == ["rx"] and np.isfinite(res.maps["rx"]).all() and res.detector == "lrx"


def test_seconds_time_every_method_and_add_up_to_the_total(scene, fake):
    """Issue 21: one time per computed method (the fusions too), the other stages, and their total."""
    import time

    cube, gt = scene
    t = time.perf_counter()
    res = pl.detect(np.tile(cube, (4, 4, 1)), np.tile(gt, (4, 4)), bands="20")
    wall = time.perf_counter() - t
    assert set(res.seconds) == {"prepare", "model", "enhance", *fusion.METHODS, "auc"}
    assert all(v >= 0 for v in res.seconds.values())
    assert res.total_seconds == pytest.approx(sum(res.seconds.values()))
    assert 0.5 * wall <= res.total_seconds <= wall  # nothing big left untimed, nothing counted twice
    d = res.to_dict()["seconds"]
    assert list(d)[-1] == "total" and d["total"] == pytest.approx(res.total_seconds, abs=1e-4)
    only_rx = pl.detect(cube, gt, bands="all")
    assert set(only_rx.seconds) == {"prepare", "rx", "auc"}  # no model loaded, no fusion computed
    assert set(pl.detect(cube, None, bands="all").seconds) == {"prepare", "rx"}


def test_large_scenes_take_the_streamed_path(scene, fake, tmp_path, monkeypatch):
    pytest.importorskip("fers.large.scene")
    cube, gt = scene
    np.save(tmp_path / "c.npy", cube)
    mm = np.load(tmp_path / "c.npy", mmap_mode="r")
    small = pl.detect(cube, gt, bands="12")
    same = pl.detect(mm, gt, bands="12")  # a small memmap is simply read
    assert same.cube_used_normalized and not pl.is_large(mm)
    monkeypatch.setattr("fers.memmap.LARGE_MEMMAP_BYTES", 1000)
    assert pl.is_large(mm) and not pl.is_large(cube)
    big = pl.detect(mm, gt, bands="12")
    assert not big.cube_used_normalized
    assert set(big.seconds) == {"prepare", "model", "normalize", "enhance", "read_rows", *big.maps, "auc"}
    assert list(big.maps) == list(same.maps) == list(small.maps) == list(fusion.METHODS)
    for m in ("rx", "fusion_add"):
        np.testing.assert_allclose(same.maps[m], small.maps[m])
        np.testing.assert_allclose(big.maps[m], small.maps[m], rtol=1e-4, atol=1e-6 * small.maps[m].max())


def test_large_threshold_is_inclusive_and_notes_say_how(scene, fake, monkeypatch):
    pytest.importorskip("fers.large.scene")
    cube, gt = scene
    monkeypatch.setattr("fers.memmap.LARGE_PIXELS", 16 * 14 + 1)
    assert not pl.is_large(cube)
    monkeypatch.setattr("fers.memmap.LARGE_PIXELS", 16 * 14)
    assert pl.is_large(cube)
    res = pl.detect(cube, gt, bands="12")
    assert not res.cube_used_normalized
    assert any(n.code == "large.tiles" and str(n).startswith("large scene:") for n in res.notes)  # how fers.large.scene computed the features


@pytest.mark.parametrize("detector", ["lrx", "ae"])
def test_local_rx_and_ae_refused_on_large_scenes(scene, fake, monkeypatch, detector):
    cube, gt = scene
    calls = []
    def fake_detector(c, *args, **kwargs):
        calls.append(c.shape)
        return c[..., 0] * 1.0

    monkeypatch.setattr("fers.detectors.lrx.local_rx", fake_detector)
    monkeypatch.setattr("fers.detectors.ae.ae_scores", fake_detector)
    monkeypatch.setattr("fers.memmap.LARGE_PIXELS", 16 * 14)
    with pytest.raises(FersInputError, match="not supported on large scenes .*crop") as e:
        pl.detect(cube, gt, bands="12", detector=detector, windows=(3, 7))
    assert "\n" not in str(e.value) and "16x14" in str(e.value) and not calls
    monkeypatch.setattr("fers.memmap.LARGE_PIXELS", 16 * 14 + 1)  # one pixel under the limit: runs
    assert pl.detect(cube, gt, bands="12", detector=detector, windows=(3, 7)).detector == detector
    assert calls and calls[0] == (16, 14, 12)
