"""The shipped checkpoints (weights/fers_b{50,100,200}.pt) load and enhance a real benchmark cube.

Skips when a weights file or the real data (<repo>/../shared/data) is absent.
"""

from __future__ import annotations

import numpy as np
import pytest

from fers.bands import SHIPPED_BAND_COUNTS, adapt_bands
from fers.enhance.paths import shipped_checkpoint, weights_dir
from fers.enhance.torch_backend import TorchEnhancer
from fers.models.checkpoint import load_checkpoint_dict
from fers.normalize import NORMALIZATION, normalize_cube
from tests.conftest import load_verified_scene


def _weights(n):
    p = shipped_checkpoint(n)
    if not p.is_file():
        pytest.skip(f"{p} not present")
    return p


@pytest.mark.parametrize("n", SHIPPED_BAND_COUNTS)
def test_shipped_checkpoint_config_is_complete(n):
    cfg = load_checkpoint_dict(_weights(n))["config"]
    assert cfg["n_bands"] == n and cfg["spe"]["n_bands"] == n and cfg["spa"]["n_bands"] == n
    assert cfg["normalization"] == NORMALIZATION
    assert cfg["band_adapter"]
    for stage in ("stage1", "stage2"):
        rec = cfg["training"][stage]
        assert rec["curve"] and rec["wall_seconds"] > 0 and rec["epochs_run"] >= 1
        assert rec["run"]["backbone_weights"] in ("none", "imagenet")
        data = rec["data"]
        scenes = " ".join([s for v in data["train_scenes"].values() for s in v]
                          + [s for g in data["val_groups"].values() for s in g["scenes"]])
        assert "casi-muufl-100x100x64" not in scenes  # the labelled CASI scene is validation-only
        assert "/" not in repr(rec["run"]["data"]["data"])  # no machine paths in a shipped file
        for bench in ("abu-airport", "abu-urban-3", "abu-beach-4"):
            assert bench not in scenes


@pytest.mark.parametrize("n", SHIPPED_BAND_COUNTS)
def test_shipped_weights_enhance_real_scene(n):
    enh = TorchEnhancer(_weights(n), device="cpu")
    scene = load_verified_scene("abu/abu-airport-1.mat")
    cube, _ = adapt_bands(np.asarray(scene.cube, dtype=np.float32), n)
    h = normalize_cube(cube)
    f_spe, f_spa = enh.enhance(h)
    assert f_spe.shape == f_spa.shape == h.shape
    assert np.isfinite(f_spe).all() and np.isfinite(f_spa).all()
    assert f_spe.std() > 0 and f_spa.std() > 0  # not collapsed to constants


def test_shipped_weights_total_size():
    files = [shipped_checkpoint(n) for n in SHIPPED_BAND_COUNTS]
    if not all(f.is_file() for f in files):
        pytest.skip("not all shipped weights present")
    total = sum(f.stat().st_size for f in files)
    assert total < 70e6, f"{total / 1e6:.1f} MB in {weights_dir()}"
