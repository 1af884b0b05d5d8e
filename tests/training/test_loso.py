"""Leave-one-sensor-out folds (training/loso.py): the left-out sensor is in neither split, and stage 1
is reused only when the shipped Spe-FEN saw no sensor's data."""

from __future__ import annotations

import numpy as np
import pytest

from fers.enhance.paths import shipped_checkpoint
from training.loso import make_fold, stage1_from_shipped


def test_fold_leaves_the_sensor_out_of_train_and_val(tmp_path):
    root = tmp_path / "bg" / "HAD100Dataset"
    for split, sensors in (("train", ("aviris", "rosis", "casi")), ("val", ("aviris", "samson"))):
        for s in sensors:
            (root / split / s).mkdir(parents=True)
            np.save(root / split / s / f"{s}-x__r000_c000.npy", np.zeros((4, 4, 3), np.float32))
    fold = make_fold(tmp_path / "bg", tmp_path / "runs", "aviris")
    assert sorted(p.name for p in (fold / "HAD100Dataset" / "train").iterdir()) == ["casi", "rosis"]
    assert sorted(p.name for p in (fold / "HAD100Dataset" / "val").iterdir()) == ["samson"]
    assert make_fold(tmp_path / "bg", tmp_path / "runs", "aviris") == fold  # rerun: same fold, no error


@pytest.mark.skipif(not (shipped_checkpoint(100).is_file() and shipped_checkpoint(200).is_file()),
                    reason="shipped weights absent")
def test_stage1_is_reused_only_from_an_untrained_spe_fen(tmp_path):
    import torch

    from training.config import STAGE1_FORMAT

    out = stage1_from_shipped(shipped_checkpoint(100), tmp_path / "s1.pt")  # the untrained head (epoch 0)
    blob = torch.load(out, weights_only=True)
    assert blob["format"] == STAGE1_FORMAT and blob["config"]["n_bands"] == 100
    with pytest.raises(SystemExit, match="was trained"):
        stage1_from_shipped(shipped_checkpoint(200), tmp_path / "s2.pt")  # trained on every training sensor
