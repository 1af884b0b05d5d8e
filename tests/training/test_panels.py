"""Small validation scenes with man-made-panel implants (training/panels.py)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from tests.conftest import DATA_DIR, NO_DATA_REASON
from training import panels as P


def _background(seed=0, s=32, b=40):
    """A smooth vegetation-like background ``(s, s, b)`` (one red-edge spectrum, small variations)."""
    rng = np.random.default_rng(seed)
    base = 0.1 + 0.4 / (1 + np.exp(-(np.arange(b) - b / 2) / 2.0))
    return (base * rng.uniform(0.8, 1.2, size=(s, s, 1)) + rng.normal(0, 0.005, size=(s, s, b))).astype(np.float32)


def test_panels_are_compact_distinct_and_mixed_at_the_abundance():
    cube = _background()
    ex = np.zeros(cube.shape[:2], bool)
    ex[:3, :3] = True
    donor = np.random.default_rng(9).uniform(0.05, 0.6, size=(8, 8, 25))
    x, gt = P.implant_panels(cube, ex, 1.0, np.random.default_rng(1), [donor], (3, 5))
    assert (gt[ex] == -1).all()  # excluded pixels are left out, never covered by a panel
    labels, n = ndimage.label(gt == 1)
    assert 3 <= n <= 5
    for k in range(1, n + 1):
        rows, cols = np.nonzero(labels == k)
        assert 1 <= rows.size <= 9 and rows.size == (np.ptp(rows) + 1) * (np.ptp(cols) + 1)  # a full block
    # abundance 1: a panel is its spectrum (times illumination, plus the scene's small noise), far in
    # spectral angle from every background pixel
    bg = cube[gt == 0].astype(np.float64)
    for k in range(1, n + 1):
        t = x[labels == k].astype(np.float64).mean(axis=0)
        assert P._angles(bg, t).min() >= 0.9 * P.MIN_ANGLE
    assert np.array_equal(x[gt == 0], cube[gt == 0])  # background untouched


def test_panel_pixels_are_not_identical_and_carry_the_scene_noise():
    rng = np.random.default_rng(2)
    ramp = np.linspace(0.9, 1.1, 32)[:, None, None] * np.linspace(1.0, 1.05, 40)  # smooth, not noise
    cube = (0.3 * ramp * np.ones((32, 32, 40)) + rng.normal(0, 0.005, size=(32, 32, 40))).astype(np.float32)
    ex = np.zeros(cube.shape[:2], bool)
    sigma = P.noise_sigma(cube.astype(np.float64), ex)
    assert np.allclose(sigma, 0.005, rtol=0.25)  # the background's white noise, measured
    x, gt = P.implant_panels(cube, ex, 1.0, np.random.default_rng(5), [], (5, 5))
    labels, n = ndimage.label(gt == 1)
    sizes = [(labels == k).sum() for k in range(1, n + 1)]
    k = 1 + int(np.argmax(sizes))
    block = x[labels == k]
    assert block.shape[0] > 1 and np.unique(block, axis=0).shape[0] == block.shape[0]


def test_abundance_mixes_linearly_and_the_implant_is_seeded():
    cube = _background(1)
    ex = np.zeros(cube.shape[:2], bool)
    x1, g1 = P.implant_panels(cube, ex, 1.0, np.random.default_rng(3), [], (3, 5))
    x2, g2 = P.implant_panels(cube, ex, 0.4, np.random.default_rng(3), [], (3, 5))
    assert np.array_equal(g1, g2)
    m = g1 == 1
    assert np.allclose(x2[m], 0.6 * cube[m] + 0.4 * x1[m], atol=1e-5)
    x3, _ = P.implant_panels(cube, ex, 1.0, np.random.default_rng(4), [], (3, 5))
    assert not np.array_equal(x1, x3)


@pytest.mark.skipif(not DATA_DIR.is_dir(), reason=NO_DATA_REASON)
def test_panel_scenes_cover_every_sensor_with_small_scenes():
    scenes = P.panel_scenes(DATA_DIR.parent)
    assert set(scenes) == {"aviris", "rosis", "casi", "samson"}
    for items in scenes.values():
        assert len(items) == 2 * P.PER_SIZE
        assert all(sc.size <= 64 and sc.cube.shape[:2] == (sc.size, sc.size) for sc in items)
        assert sorted({sc.abundance for sc in items}) == list(P.ABUNDANCES)
        assert all((sc.gt == 1).sum() >= 3 for sc in items)
        assert not any(n.split("@")[0].startswith(b) for n in (sc.name for sc in items) for b in
                       ("abu-airport", "abu-urban-3", "abu-beach-4"))
    again = P.panel_scenes(DATA_DIR.parent)  # seeded: the same scenes every time
    assert all(np.array_equal(a.cube, b.cube) and np.array_equal(a.gt, b.gt)
               for s in scenes for a, b in zip(scenes[s], again[s]))
