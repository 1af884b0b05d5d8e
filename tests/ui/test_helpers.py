"""The app's handlers and helpers called directly (no server): tiny seeded synthetic cubes."""

import tempfile
import types
from pathlib import Path

import gradio as gr
import numpy as np
import pytest

import fers.enhance
import fers.ui.plots as plots
from fers.detectors.lrx import parse_windows
from fers.errors import FersInputError
from fers.methods import METHODS
from fers.ui import analysis, limits, results
from fers.ui import callbacks as cb


def _scene(tmp_path, h=24, w=20, b=12, seed=0):
    """Smooth random background with a 2x2 anomaly at rows 5-6, cols 7-8; saved as .npy + GT .npy."""
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(1, 1, b)) + np.linspace(0, 1, b)
    cube = base + 0.05 * rng.normal(size=(h, w, b))
    cube[5:7, 7:9] += 2.0 * np.sin(np.arange(b))
    gt = np.zeros((h, w), dtype=np.uint8)
    gt[5:7, 7:9] = 1
    np.save(tmp_path / "cube.npy", cube.astype(np.float32))
    np.save(tmp_path / "gt.npy", gt)
    return tmp_path / "cube.npy", tmp_path / "gt.npy", cube.astype(np.float32), gt.astype(bool)


def _run(cube_path, gt_path, mode=cb.BAND_MODES[2], n=50, start=0, rng="0:10"):
    return cb.run_detection([str(cube_path)], "(auto)", str(gt_path) if gt_path else None, "(auto)", mode, n, start,
                            rng, "paper default", "onnx", "rx", "5,15")


def test_run_detection_outputs_and_downloads(tmp_path):
    from fers.pipeline import detect

    cube_path, gt_path, cube, gt = _scene(tmp_path)
    out = dict(zip(cb.RUN_OUTPUTS, _run(cube_path, gt_path)))
    ref = detect(cube, gt, bands="all", backend="onnx")
    assert "Methods computed**: rx" in out["status"] and "none (all 12 bands)" in out["status"]
    assert out["preview"].shape[2] == 3 and out["preview"].shape[0] % 24 == 0
    for k in ("map_rx", "map_spectral", "map_spatial", "map_fused", "mask_image"):
        assert out[k].ndim == 3 and out[k].dtype == np.uint8 and out[k].std() > 0
    rows = out["auc_table"]["value"]
    assert [r[0] for r in rows] == list(ref.maps) and rows[0][1] == round(ref.auc["rx"], 4)
    npz, csv, tif, geojson = out["downloads"]["value"]
    assert [Path(f).name for f in (tif, geojson)] == ["cube_maps.tif", "cube_objects.geojson"]
    assert "plain TIFF, no georeference" in out["downloads"]["label"]  # a .npy has no georeference
    assert Path(npz).resolve().is_relative_to(Path(tempfile.gettempdir()).resolve())
    with np.load(npz, allow_pickle=False) as z:
        assert np.array_equal(z["rx"], ref.maps["rx"]) and np.array_equal(z["gt"], gt)
    import csv as csv_mod

    table = list(csv_mod.reader(open(csv)))
    assert table[0][:3] == ["method", "description", "AUC(D,F)"] and table[1][0] == "rx"
    assert float(table[1][2]) == ref.auc["rx"]  # full precision in the download
    assert ["stage", "seconds"] in table
    assert out["state"]["mask_src"] == "rx" and out["roc_plot"] is not None


def test_threshold_and_pixel_spectrum_handlers(tmp_path):
    cube_path, gt_path, cube, gt = _scene(tmp_path)
    state = dict(zip(cb.RUN_OUTPUTS, _run(cube_path, gt_path)))["state"]
    img, text = cb.on_threshold(state, 0.5)
    mask = analysis.threshold_mask(state["maps"]["rx"], 0.5)
    assert img.ndim == 3 and text.startswith(f"{int(mask.sum())} of 480 pixels")
    assert mask[5:7, 7:9].all()  # the implanted anomaly is the strongest response
    k = state["upscale"]
    evt = gr.SelectData(None, {"index": [8 * k + 1, 6 * k + 1], "value": None})
    fig = cb.on_pixel_select(state, evt)
    assert "pixel row 6, col 8 (anomaly in GT)" in fig.axes[0].get_title()
    line = [ln for ln in fig.axes[0].get_lines() if ln.get_label() == "selected pixel"][0]
    assert np.allclose(line.get_ydata(), cube[6, 8])
    with pytest.raises(gr.Error, match="run a detection first"):
        cb.on_pixel_select(None, evt)


def test_bad_input_becomes_gr_error_without_directories(tmp_path):
    bad = tmp_path / "deep" / "dir"
    bad.mkdir(parents=True)
    (bad / "x.npy").write_bytes(b"garbage")
    with pytest.raises(gr.Error) as info:
        _run(bad / "x.npy", None)
    assert str(info.value.message).startswith("x.npy: cannot read .npy") and str(bad) not in info.value.message
    with pytest.raises(gr.Error, match="no cube file"):
        cb.run_detection(None, "(auto)", None, "(auto)", cb.BAND_MODES[0], 200, 0, "", "paper default", "onnx", "rx",
                         "5,15")


def test_cube_size_limit(tmp_path, monkeypatch):
    cube_path, gt_path, *_ = _scene(tmp_path)  # 24 * 20 * 12 = 5760 values
    monkeypatch.setenv("FERS_APP_MAX_VALUES", "5000")
    with pytest.raises(gr.Error, match=r"cube\.npy: cube is 24 x 20 x 12 = 5,760 values; .* at most 5,000"):
        _run(cube_path, gt_path)
    monkeypatch.setenv("FERS_APP_MAX_VALUES", "6000")
    assert _run(cube_path, gt_path)[0].startswith("**Scene**")
    monkeypatch.delenv("FERS_APP_MAX_VALUES")
    assert limits.max_cube_values() == limits.DEFAULT_MAX_CUBE_VALUES


def test_band_controls_and_windows():
    assert cb.band_spec_from_controls(cb.BAND_MODES[0], 100, 0, "") == "100"
    assert cb.band_spec_from_controls(cb.BAND_MODES[0], 50, 30, "") == "30:80"
    assert cb.band_spec_from_controls(cb.BAND_MODES[1], 50, 0, " 10:60 ") == "10:60"
    assert cb.band_spec_from_controls(cb.BAND_MODES[2], 50, 7, "") == "all"
    assert cb.band_spec_from_controls(cb.DEFAULT_BAND_MODE, 50, 7, "") == "auto"
    with pytest.raises(FersInputError):
        cb.band_spec_from_controls(cb.BAND_MODES[1], 50, 0, "10")
    with pytest.raises(FersInputError):
        cb.band_spec_from_controls(cb.BAND_MODES[0], 50, -1, "")
    assert parse_windows(" 3, 9") == (3, 9)
    with pytest.raises(FersInputError):
        parse_windows("3")


def test_fused_method_choice():
    r50 = types.SimpleNamespace(model_bands=50, default_method="fusion_rx")
    r200 = types.SimpleNamespace(model_bands=200, default_method="fusion_rx")
    assert results.fused_method("paper default", r50) == "fusion_mult"
    assert results.fused_method("paper default", r200) == "fusion_add"
    assert results.fused_method("A (multiplicative)", r200) == "fusion_mult"
    assert results.fused_method("B (additive)", r50) == "fusion_add"
    assert results.fused_method(results.DEFAULT_CHOICE, r50) == "fusion_rx"
    assert results.fused_method(None, r200) == "fusion_rx"
    assert results.fused_method("fusion_add", r200) == "fusion_add"


def test_preview_click_mapping_and_false_colour():
    rng = np.random.default_rng(1)
    cube = rng.random((10, 16, 30)).astype(np.float32)
    k = analysis.preview_upscale(10, 16)
    img = plots.false_colour(cube, upscale=k)
    assert img.shape == (10 * k, 16 * k, 3) and img.dtype == np.uint8
    r, c = analysis.pixel_from_click([15 * k + k - 1, 9 * k], k, cube.shape)
    assert (r, c) == (9, 15)
    assert np.array_equal(img[9 * k, 15 * k], img[9 * k + k - 1, 15 * k + k - 1])
    with pytest.raises(FersInputError):
        analysis.pixel_from_click([16 * k, 0], k, cube.shape)
    # with wavelengths the bands nearest 650/550/450 nm are used
    assert plots.rgb_band_indices(5, [450, 500, 550, 600, 650]) == (4, 2, 0)


def test_mask_summary_counts():
    score = np.arange(16, dtype=float).reshape(4, 4)
    gt = np.zeros((4, 4), bool)
    gt[3, 2:] = True
    mask = analysis.threshold_mask(score, 14 / 15)
    assert mask.sum() == 2 and mask[3, 2:].all()
    assert "detection rate 1.000 (2/2 anomaly px), false-alarm rate 0.0000 (0 px)" in analysis.mask_summary(mask, gt)


def test_mat_key_choices(tmp_path):
    import scipy.io

    rng = np.random.default_rng(2)
    scipy.io.savemat(tmp_path / "two.mat", {"a": rng.random((6, 5, 4)), "b": rng.random((6, 5, 3)),
                                            "gt": np.eye(6, 5), "other": np.ones((6, 5))})
    box, seen, cube_up, gt_up, info, band_nm = cb.on_cube_upload([str(tmp_path / "two.mat")])
    assert cube_up["choices"] == ["(auto)", "a", "b"] and cube_up["interactive"]
    assert gt_up["choices"] == ["(auto)", "(none)", "gt", "other"]
    out = cb.run_detection([str(tmp_path / "two.mat")], "b", None, "gt", cb.BAND_MODES[2], 50, 0, "", "paper default",
                           "onnx", "rx", "5,15")
    assert "6 x 5 pixels, 3 bands" in out[0] and "ground truth: 5 anomaly pixels" in out[0]
    with pytest.raises(gr.Error, match="several 3-D arrays"):
        _run(tmp_path / "two.mat", None)


@pytest.fixture
def random_model_50(monkeypatch):
    """A real (random-init, seeded) 50-band torch enhancer placed in the pipeline's enhancer cache."""
    torch = pytest.importorskip("torch")
    from fers.enhance.torch_backend import TorchEnhancer
    from fers.models.checkpoint import build_fens, default_config

    torch.manual_seed(0)
    config = default_config(50)
    spe, spa = build_fens(config)
    enh = TorchEnhancer(models=(spe, spa, config), device="cpu")
    monkeypatch.setitem(fers.enhance._ENHANCERS, (50, "torch", None), enh)
    return enh


def test_all_four_slots_and_pca_with_a_model(tmp_path, random_model_50):
    from fers.pipeline import detect

    cube_path, gt_path, cube, gt = _scene(tmp_path)
    args = ([str(cube_path)], "(auto)", str(gt_path), "(auto)", cb.BAND_MODES[0], 50, 0, "", "paper default",
            "torch", "rx", "5,15")
    out = dict(zip(cb.RUN_OUTPUTS, cb.run_detection(*args)))
    ref = detect(cube, gt, bands="50", backend="torch")
    assert list(ref.maps) == list(METHODS)
    assert "Methods computed**: rx, spectral, spatial, fusion_add, fusion_mult" in out["status"]
    assert "fused map**: fusion_mult" in out["status"]  # paper default for 50 bands: fusion A
    assert out["state"]["mask_src"] == "fusion_mult"
    with np.load(out["downloads"]["value"][0], allow_pickle=False) as z:
        for m, s in ref.maps.items():
            assert np.allclose(z[m], s, rtol=1e-6, atol=1e-9), m
    rows = {r[0]: r[1] for r in out["auc_table"]["value"]}
    assert rows == {m: round(a, 4) for m, a in ref.auc.items()}
    # the slots hold maps, not the "not computed" placeholder: a placeholder is mostly white
    for k in ("map_spectral", "map_spatial", "map_fused"):
        assert (out[k] < 200).mean() > 0.2, k
    fig, note = cb.on_pca(out["state"], 500)
    assert len(fig.axes) == 2 and "4 anomaly pixels (red)" in note
