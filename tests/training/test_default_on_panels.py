"""The default map is not worse than plain RX - 0.005 on the panel validation of sensors the shipped
models never learned from (needs ../shared; skipped without it).

SAMSON is the shipped models' held-out sensor, and CASI cubes (72 bands) go to the 50-band model, whose
Spe-FEN and Spa-FEN are both untrained (docs/method.md, "Shipped weights"): on these two sensors the
shipped models are leave-one-sensor-out models. The threshold is the selection rule's margin
(training/loso_validate.py); the numbers are computed here, not stored.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import DATA_DIR, NO_DATA_REASON


@pytest.mark.skipif(not DATA_DIR.is_dir(), reason=NO_DATA_REASON)
@pytest.mark.parametrize("sensor", ["samson", "casi"])
def test_default_is_within_margin_of_plain_rx_on_unseen_sensor_panels(sensor):
    from fers.methods import DEFAULT_FUSION
    from training.loso_validate import MARGIN, scene_aucs
    from training.panels import panel_scenes

    scenes = panel_scenes(DATA_DIR.parent)[sensor]  # the validation's own scenes (one seeded draw for all)
    rows = [scene_aucs(sc.cube, sc.gt)[0] for sc in scenes]
    rx = np.mean([r["rx"] for r in rows])
    default = np.mean([r[DEFAULT_FUSION] for r in rows])
    assert default >= rx - MARGIN, f"{sensor}: {DEFAULT_FUSION} {default:.4f} vs plain RX {rx:.4f}"
