"""Small validation scenes with man-made-panel implants (never the benchmark scenes).

The scene on which the default map lost to plain RX was small (64 x 64), from a sensor we do not
have, with man-made panels of 1-9 pixels that plain RX already finds (AUC 0.990). This module builds
scenes like it from the background cubes of one sensor, seeded:

* **Scenes:** 10 square crops of 64 px and 10 of 32 px per sensor, from the sensor's allowed
  background sources in turn (:func:`training.build_background.sources`; a source smaller than 64 px
  gives its side minus 2 px), at seeded random positions with at most 5 % excluded pixels (an ABU scene's own anomalies or CASI's invalid area,
  marked -1 in the ground truth and left out of the AUC).
* **Panels:** compact blocks of 1x1 .. 3x3 (1-9 px; 3-5 per 32 px scene, 5-8 per 64 px scene), 2 px
  apart, each with its own spectrum ``t``, mixed with one abundance ``a`` per scene from
  ``ABUNDANCES`` (0.2 .. 1.0): ``x <- (1 - a) x + a (g t + n)``, with a per-pixel illumination
  ``g ~ U(0.95, 1.05)`` and the scene's own per-band noise ``n ~ N(0, sigma_b^2)``
  (:func:`noise_sigma`). Without them a block is k identical spectra, and RX's leverage bound
  (d^2 <= (n - 1) / k for k identical pixels among n) masks it on small scenes, unlike real panels.
* **Panel spectra** (:func:`panel_spectrum`), spectrally distinct from all of the scene's background:
  ``flat`` (a grey panel, constant), ``steep`` (a linear ramp from 0.3 to 1.7 times the level, either
  direction) or ``donor`` (a pixel of a scene of *another sensor*, resampled to the band count: the
  farthest of 16 draws in spectral angle from the scene's mean spectrum), scaled to the scene's mean
  level times U(0.6, 1.4). A spectrum is redrawn (up to 20 times) until its smallest spectral angle
  to every background pixel is at least ``MIN_ANGLE`` rad.

``panel_scenes(shared, sensors)`` -> ``{sensor: [PanelScene, ...]}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from training.build_background import load_source, sensor_of, sources

ABUNDANCES = (0.2, 0.4, 0.6, 0.8, 1.0)
SIZES = (64, 32)
BLOCKS = ((1, 1), (1, 2), (2, 1), (2, 2), (1, 3), (3, 1), (2, 3), (3, 2), (3, 3))
KINDS = ("flat", "steep", "donor")
MIN_ANGLE = 0.1  # rad
PER_SIZE = 10


@dataclass
class PanelScene:
    """One validation scene: ``cube (S, S, B)`` float32 raw, ``gt (S, S)`` int8 (1 panel, 0
    background, -1 left out), the source scene, crop size and panel abundance."""

    name: str
    sensor: str
    cube: np.ndarray
    gt: np.ndarray
    size: int
    abundance: float


def _angles(pixels: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Spectral angle (rad) between every row of ``pixels (n, B)`` and ``t (B,)``."""
    num = pixels @ t
    den = np.linalg.norm(pixels, axis=1) * np.linalg.norm(t) + 1e-30
    return np.arccos(np.clip(num / den, -1.0, 1.0))


def _resample(v: np.ndarray, b: int) -> np.ndarray:
    return np.interp(np.linspace(0, 1, b), np.linspace(0, 1, v.size), v).astype(np.float64)


def panel_spectrum(kind: str, background: np.ndarray, level: float, rng: np.random.Generator,
                   donors: list) -> np.ndarray:
    """One panel spectrum ``(B,)`` of ``kind`` for a scene with background pixels ``(n, B)`` and mean
    level ``level``; ``donors``: ``(H, W, B_i)`` cubes of other sensors (for ``donor``)."""
    b = background.shape[1]
    if kind == "flat":
        t = np.ones(b)
    elif kind == "steep":
        t = np.linspace(0.3, 1.7, b)
        t = t[::-1] if rng.random() < 0.5 else t
    elif kind == "donor":
        mean = background.mean(axis=0)
        best, best_angle = None, -1.0
        for _ in range(16):
            d = donors[int(rng.integers(len(donors)))]
            v = _resample(d[int(rng.integers(d.shape[0])), int(rng.integers(d.shape[1]))], b)
            if not np.isfinite(v).all() or float(v.mean()) <= 0:
                continue
            ang = float(_angles(mean[None], v)[0])
            if ang > best_angle:
                best, best_angle = v, ang
        t = best / best.mean() if best is not None else np.ones(b)
    else:
        raise ValueError(kind)
    return t * level * float(rng.uniform(0.6, 1.4))


def distinct_spectrum(kind, background, level, rng, donors, tries: int = 20) -> np.ndarray:
    """:func:`panel_spectrum` redrawn until its smallest angle to every background pixel is at least
    :data:`MIN_ANGLE` (else the most distinct draw)."""
    best, best_min = None, -1.0
    for _ in range(tries):
        t = panel_spectrum(kind, background, level, rng, donors)
        m = float(_angles(background, t).min())
        if m >= MIN_ANGLE:
            return t
        if m > best_min:
            best, best_min = t, m
    return best


def noise_sigma(cube: np.ndarray, excluded: np.ndarray) -> np.ndarray:
    """Per-band noise ``(B,)`` of ``cube (S, S, B)``: the robust spread (MAD / 0.6745) of differences
    between horizontal neighbours, both valid, divided by sqrt(2)."""
    d = cube[:, 1:] - cube[:, :-1]
    ok = ~(excluded[:, 1:] | excluded[:, :-1])
    d = d[ok]
    if d.shape[0] == 0:
        return np.zeros(cube.shape[2])
    mad = np.median(np.abs(d - np.median(d, axis=0)), axis=0)
    return mad / 0.6745 / np.sqrt(2.0)


def implant_panels(cube: np.ndarray, excluded: np.ndarray, abundance: float, rng: np.random.Generator,
                   donors: list, count: tuple) -> tuple[np.ndarray, np.ndarray]:
    """``cube (S, S, B)`` -> ``(cube with panels (S, S, B) float32, gt (S, S) int8)``."""
    x = cube.astype(np.float64).copy()
    s, _, _ = x.shape
    gt = np.where(excluded, -1, 0).astype(np.int8)
    background = x[~excluded]
    level = abs(float(background.mean())) + 1e-12
    busy = excluded.copy()
    sigma = noise_sigma(x, excluded)
    kinds = KINDS if donors else tuple(k for k in KINDS if k != "donor")
    want, placed, attempts = int(rng.integers(count[0], count[1] + 1)), 0, 0
    while placed < want and attempts < 500:
        attempts += 1
        th, tw = BLOCKS[int(rng.integers(len(BLOCKS)))]
        r, c = int(rng.integers(1, s - th)), int(rng.integers(1, s - tw))
        if busy[max(r - 2, 0) : r + th + 2, max(c - 2, 0) : c + tw + 2].any():
            continue
        t = distinct_spectrum(kinds[int(rng.integers(len(kinds)))], background, level, rng, donors)
        # a real panel is not one repeated spectrum: per-pixel illumination and the scene's noise
        texture = t * rng.uniform(0.95, 1.05, size=(th, tw, 1)) + rng.normal(0.0, 1.0, size=(th, tw, t.size)) * sigma
        x[r : r + th, c : c + tw] = (1 - abundance) * x[r : r + th, c : c + tw] + abundance * texture
        gt[r : r + th, c : c + tw] = 1
        busy[r : r + th, c : c + tw] = True
        placed += 1
    return x.astype(np.float32), gt


def _crop(shape, excluded, size, rng) -> tuple:
    """A seeded random ``size`` window with at most 5 % excluded pixels (the best of 50 draws)."""
    h, w = shape[:2]
    best, best_ex = (0, 0), 2.0
    for _ in range(50):
        r, c = int(rng.integers(0, h - size + 1)), int(rng.integers(0, w - size + 1))
        frac = float(excluded[r : r + size, c : c + size].mean())
        if frac <= 0.05:
            return r, c
        if frac < best_ex:
            best, best_ex = (r, c), frac
    return best


def panel_scenes(shared: Path, sensors=None, seed: int = 22, sizes=SIZES, per_size: int = PER_SIZE) -> dict:
    """``{sensor: [PanelScene, ...]}``: ``per_size`` scenes per crop size for every sensor of the allowed
    background sources (or ``sensors``), the sensor's sources taken in turn (seeded order), the
    abundances of ``ABUNDANCES`` in turn. A source smaller than a size is cropped to its shorter side
    minus 2 px (so crops still move). Donor spectra of a sensor's panels come from the other sensors'
    cubes."""
    rng = np.random.default_rng(seed)
    loaded = []
    for src in sources(shared):
        cube, ex = load_source(src)
        loaded.append((src.name.split(".")[0], sensor_of(src), cube,
                       np.zeros(cube.shape[:2], bool) if ex is None else ex))
    out: dict = {}
    for sensor in sorted({s for _, s, _, _ in loaded}):
        if sensors is not None and sensor not in sensors:
            continue
        own = [item for item in loaded if item[1] == sensor]
        donors = [c for _, s, c, _ in loaded if s != sensor]
        for size in sizes:
            order = rng.permutation(len(own))
            for i in range(per_size):
                name, _, cube, ex = own[int(order[i % len(own)])]
                side = size if min(cube.shape[:2]) >= size else min(cube.shape[:2]) - 2
                r, c = _crop(cube.shape, ex, side, rng)
                a = ABUNDANCES[i % len(ABUNDANCES)]
                sub, sub_ex = cube[r : r + side, c : c + side], ex[r : r + side, c : c + side]
                x, gt = implant_panels(sub, sub_ex, a, rng, donors, (5, 8) if side > 40 else (3, 5))
                out.setdefault(sensor, []).append(PanelScene(f"{name}@{r},{c}", sensor, x, gt, side, a))
    return out
