"""Science on the scenes bundled in fers/examples/ — these tests always run (no ../shared needed).

* plain global RX on each bundled scene reproduces the AUC published in the project's data README
  (float64, np.cov, pinv reference; copied here because a fresh clone has no ../shared);
* the shipped 200-band weights improve on plain RX with both fusion strategies (paper eq. 18-23),
  through the same pipeline the CLI and the app use.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fers.detectors.rx import rx
from fers.enhance.paths import shipped_checkpoint
from fers.io.cube import load_cube
from fers.methods import METHODS
from fers.metrics import auc
from fers.normalize import normalize_cube
from fers.pipeline import detect

EXAMPLES = Path(__file__).resolve().parents[1] / "fers" / "examples"
# plain global RX AUC on all bands, from ../shared/data/README.md
PUBLISHED_RX = {"abu-airport-4": 0.9526, "abu-urban-3": 0.9513, "abu-beach-4-crop100": 0.9887}


@pytest.fixture(scope="module", params=sorted(PUBLISHED_RX))
def scene(request):
    return load_cube(EXAMPLES / f"{request.param}.mat")


def test_bundled_scene_rx_matches_published_auc(scene):
    assert scene.gt is not None and scene.gt.sum() > 0
    assert auc(rx(normalize_cube(scene.cube)), scene.gt) == pytest.approx(PUBLISHED_RX[scene.name], abs=1e-3)


def test_shipped_weights_beat_plain_rx_with_both_fusions(scene):
    if not shipped_checkpoint(200).is_file():
        pytest.skip(f"{shipped_checkpoint(200)} not present")
    res = detect(scene.cube, scene.gt, bands="200", backend="torch")
    assert set(res.auc) == set(METHODS), res.notes
    assert all(np.isfinite(m).all() for m in res.maps.values())
    assert res.auc["fusion_add"] > res.auc["rx"] and res.auc["fusion_mult"] > res.auc["rx"], res.auc
