"""Two-epoch runs of both training stages on a tiny synthetic HAD100-layout background set, and
the background builder's rules (clean windows only, benchmark scenes refused)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.io
import torch

from fers.enhance.torch_backend import TorchEnhancer  # noqa: E402
from fers.models.checkpoint import load_fens  # noqa: E402
from training import (
    build_background,  # noqa: E402
    train_spatial,  # noqa: E402
    train_spectral,  # noqa: E402
)
from training.config import DataConfig, OptimConfig, RunConfig  # noqa: E402


def _smooth_cube(rng, s, b):
    base = rng.random((b,)) * 100 + 50
    field = np.cumsum(np.cumsum(rng.normal(size=(s, s, 1)), 0), 1)
    return (base[None, None, :] * (1 + 0.01 * field) + rng.normal(0, 1, (s, s, b))).astype(np.float32)


@pytest.fixture
def tiny_had100(tmp_path):
    rng = np.random.default_rng(7)
    root = tmp_path / "bg" / "HAD100Dataset"
    for split, scenes, n in (("train", ("sa", "sb", "sc"), 3), ("val", ("va", "vb"), 2)):
        d = root / split / "aviris"
        d.mkdir(parents=True)
        for sc in scenes:
            for i in range(n):
                bands = 9 if sc == "sb" else 14  # sb needs band interpolation to 12
                np.save(d / f"{sc}__p{i}.npy", _smooth_cube(rng, 16, bands))
    return tmp_path / "bg"


def _cfg(stage, data, backbone):
    return RunConfig(stage=stage, n_bands=12, backbone=backbone, frn_width=8,
                     data=DataConfig(str(data), "aviris", 16),
                     optim=OptimConfig(epochs=2, batch=4, seed=0, threads=0))


def test_interrupted_run_resumes_to_the_same_curve(tiny_had100, tmp_path):
    """An interrupted run (epoch 1 of 2) continued from its last.pt ends where an uninterrupted one
    does: same validation curve, same weights (spectral augmentation on, so the RNG state is restored)."""
    from dataclasses import asdict

    from training.spectral_aug import SpectralAugConfig

    def cfg(epochs):
        c = _cfg("spectral", tiny_had100, "resnet18")
        c.data.spectral_aug = asdict(SpectralAugConfig())
        c.optim.epochs = epochs
        return c

    straight = train_spectral.train(cfg(2), tmp_path / "a" / "stage1.pt")
    train_spectral.train(cfg(1), tmp_path / "b" / "stage1.pt")
    resumed = train_spectral.train(cfg(2), tmp_path / "b" / "stage1.pt")
    assert [r["epoch"] for r in resumed["curve"]] == [0, 1, 2]
    for r1, r2 in zip(straight["curve"], resumed["curve"]):
        assert (r1.get("train_loss") is None) == (r2.get("train_loss") is None)
        assert r1.get("train_loss", 0.0) == pytest.approx(r2.get("train_loss", 0.0), rel=1e-6)
        assert r1["val_spectral"] == pytest.approx(r2["val_spectral"], abs=1e-9)
    a = torch.load(tmp_path / "a" / "stage1.pt", weights_only=True)["spe_fen"]
    b = torch.load(tmp_path / "b" / "stage1.pt", weights_only=True)["spe_fen"]
    assert all(torch.allclose(a[k].float(), b[k].float(), atol=1e-6) for k in a)


def test_two_stage_training_writes_loadable_checkpoints(tiny_had100, tmp_path):
    s1 = tmp_path / "s1" / "stage1.pt"
    rec1 = train_spectral.train(_cfg("spectral", tiny_had100, "resnet18"), s1)
    assert s1.is_file() and rec1["epochs_run"] == 2
    assert [r["epoch"] for r in rec1["curve"]] == [0, 1, 2]
    assert rec1["data"]["val_groups"] == {"aviris": {"patches": 4, "scenes": ["va", "vb"]}}
    assert rec1["data"]["train_patches"] == 9 and rec1["data"]["train_scenes"] == {"aviris": ["sa", "sb", "sc"]}
    assert len(json.loads((s1.parent / "curve.json").read_text())) == 3
    assert (s1.parent / "curve.csv").read_text().startswith("epoch")

    out = tmp_path / "s2" / "fers_b12.pt"
    rec2 = train_spatial.train(_cfg("spatial", tiny_had100, "resnet18"), s1, out)
    assert rec2["epochs_run"] == 2 and 0 <= rec2["best_epoch"] <= 2
    for key in ("fusion_add", "fusion_mult", "spectral", "spatial", "rx"):
        assert 0.0 <= rec2["curve"][-1][f"val_{key}"] <= 1.0

    spe, spa, cfg = load_fens(out)
    assert cfg["n_bands"] == 12
    assert cfg["training"]["stage1"]["best_epoch"] == rec1["best_epoch"]
    assert cfg["training"]["stage2"]["run"]["optim"]["epochs"] == 2
    assert cfg["normalization"]["name"] and cfg["band_adapter"]
    # the shipped Spe-FEN is exactly the stage-1 selection
    blob = torch.load(s1, weights_only=True)
    for k, v in blob["spe_fen"].items():
        assert torch.equal(spe.state_dict()[k], v.float()), k
    f_spe, f_spa = TorchEnhancer(out, device="cpu").enhance(np.zeros((16, 16, 12), np.float32) + 0.01)
    assert np.isfinite(f_spe).all() and np.isfinite(f_spa).all()


def test_stage2_rejects_band_mismatch(tiny_had100, tmp_path):
    s1 = tmp_path / "stage1.pt"
    cfg = _cfg("spectral", tiny_had100, "resnet18")
    cfg.optim.epochs = 0
    train_spectral.train(cfg, s1)
    bad = _cfg("spatial", tiny_had100, "resnet18")
    bad.n_bands = 10
    with pytest.raises(SystemExit, match="12 bands"):
        train_spatial.train(bad, s1, tmp_path / "x.pt")


def test_builder_refuses_benchmark_scenes():
    for name in ("abu-airport-1.mat", "abu-urban-3.mat", "abu-beach-4-crop100.mat", "abu-airport-4"):
        with pytest.raises(SystemExit, match="benchmark scene refused"):
            build_background.refuse_benchmark(name)
    build_background.refuse_benchmark("abu-urban-2.mat")  # a background source is fine
    with pytest.raises(SystemExit, match="refused"):
        build_background.main(["--holdout", "abu-airport-2", "--out", "/nonexistent-never-written"])


def test_builder_keeps_only_clean_windows(tmp_path):
    shared = tmp_path / "shared"
    (shared / "data" / "background").mkdir(parents=True)
    (shared / "data" / "abu").mkdir(parents=True)
    rng = np.random.default_rng(0)
    np.save(shared / "data" / "background" / "clean-40x40x5.npy", rng.random((40, 40, 5)).astype(np.float32))
    np.save(shared / "data" / "background" / "clean-40x40x5.wavelengths.npy", np.arange(5.0))
    amap = np.zeros((40, 40), np.uint8)
    amap[5, 5] = 1  # with margin 2 only the window at (0, 0) of the 4 x 4 grid sees it
    scipy.io.savemat(shared / "data" / "abu" / "abu-beach-1.mat",
                     {"data": rng.integers(0, 1000, (40, 40, 6)).astype(np.int16), "map": amap})
    scipy.io.savemat(shared / "data" / "abu" / "abu-airport-1.mat",  # must never be read
                     {"data": np.zeros((40, 40, 6)), "map": np.zeros((40, 40))})
    out = tmp_path / "out"
    m = build_background.build(shared, out, size=16, stride=8, margin=2, holdout=("clean-40x40x5",))
    assert set(m["scenes"]) == {"clean-40x40x5", "abu-beach-1"}
    assert m["scenes"]["clean-40x40x5"]["patches"] == 16 and m["scenes"]["clean-40x40x5"]["split"] == "val"
    kept = sorted((out / "HAD100Dataset" / "train" / "aviris").glob("abu-beach-1__*.npy"))
    assert len(kept) == m["scenes"]["abu-beach-1"]["patches"] == 15
    for f in kept:
        r, c = int(f.stem.split("__r")[1][:3]), int(f.stem.split("_c")[1])
        assert not amap[max(r - 2, 0) : r + 18, max(c - 2, 0) : c + 18].any()
        assert np.load(f).shape == (16, 16, 6)


def test_training_loader_refuses_benchmark_patches(tiny_had100):
    from training import data as training_data

    d = tiny_had100 / "HAD100Dataset" / "train" / "aviris"
    np.save(d / "abu-urban-3__r000_c000.npy", np.ones((16, 16, 14), np.float32))
    with pytest.raises(SystemExit, match="benchmark scene refused"):
        training_data.load_splits(tiny_had100, "aviris", 12, 16)
