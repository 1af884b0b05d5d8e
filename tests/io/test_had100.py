"""HAD100 folder layout reader on a tiny synthetic copy of the layout."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from fers.errors import FersInputError
from fers.io.had100 import HAD100


@pytest.fixture
def had100(tmp_path, rng):
    root = tmp_path / "HAD100Dataset"
    for sub in ("train/aviris_ng", "train/aviris", "test/aviris_ng", "ground_truth/aviris_ng"):
        (root / sub).mkdir(parents=True)
    for i in range(3):
        np.save(root / "train/aviris_ng" / f"t{i}.npy", rng.random((8, 8, 6)).astype(np.float32))
    np.save(root / "train/aviris" / "a0.npy", rng.random((8, 8, 5)))
    masks = {}
    for name in ("s2", "s1"):
        np.save(root / "test/aviris_ng" / f"{name}.npy", rng.random((8, 8, 6)).astype(np.float32))
        m = np.zeros((8, 8), np.uint8)
        m[rng.integers(0, 8), rng.integers(0, 8)] = 255
        rgb = np.dstack([np.full_like(m, 9), m, np.zeros_like(m)])  # mask in channel 1
        Image.fromarray(rgb, "RGB").save(root / "ground_truth/aviris_ng" / f"{name}.png")
        masks[name] = m > 0
    return tmp_path, masks


def test_train_and_test_iteration(had100):
    parent, masks = had100
    for root in (parent, parent / "HAD100Dataset"):  # the dataset folder or its parent
        ds = HAD100(root)
        assert [p.name for p in ds.train_files("aviris_ng")] == ["t0.npy", "t1.npy", "t2.npy"]
        assert [s.cube.shape for s in ds.iter_train("aviris")] == [(8, 8, 5)]
        scenes = list(ds.iter_test())
        assert [s.name for s in scenes] == ["s1", "s2"]
        for s in scenes:
            np.testing.assert_array_equal(s.gt, masks[s.name])
            assert s.cube.dtype == np.float32


def test_missing_gt_and_bad_folder(had100, tmp_path):
    parent, _ = had100
    (parent / "HAD100Dataset/ground_truth/aviris_ng/s1.png").unlink()
    with pytest.raises(FersInputError, match="no ground truth for s1.npy"):
        HAD100(parent).test_pairs()
    with pytest.raises(FersInputError, match="not a HAD100 folder"):
        HAD100(tmp_path / "HAD100Dataset" / "train")
    with pytest.raises(FersInputError, match="unknown HAD100 sensor"):
        HAD100(parent).train_files("hyperion")
