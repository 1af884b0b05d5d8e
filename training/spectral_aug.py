"""Spectral augmentation: training patches that do not look like one sensor's band layout.

The shipped models meet cubes from any imaging spectrometer, adapted to N bands by the band
adapter (first N bands, or interpolation). Training on a single AVIRIS-like layout makes the
enhancement sensor-specific; here each training patch ``(S, S, B)`` (raw, native bands) is, with
probability ``p``, re-drawn as a different "sensor" before normalisation:

* a random contiguous band range (at least ``min_range`` of the bands);
* with probability ``p_drop``, one or two band blocks removed (as water-absorption removal does);
* resampled to N bands by linear interpolation (stretching or compressing the spectral axis);
* a smooth per-band gain ``1 + g(lambda)`` and offset ``o(lambda)`` (low-order cosine series);
* white noise of a random level.

The rest keep the canonical inference view (band adapter + normalisation).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fers.bands import resample_bands
from fers.normalize import normalize_cube


@dataclass
class SpectralAugConfig:
    """Probabilities and amplitudes (fractions of the band count or of the patch's value range)."""

    p: float = 0.7
    min_range: float = 0.4
    p_drop: float = 0.5
    max_drop: float = 0.15
    gain: float = 0.15
    offset: float = 0.05
    noise: float = 0.01


def _smooth_curve(n: int, amplitude: float, rng: np.random.Generator, terms: int = 3) -> np.ndarray:
    """A random smooth curve over ``n`` bands: sum of cosines of order 0..terms-1, amplitude ~ 1/(k+1)."""
    t = np.linspace(0.0, np.pi, n)
    coef = rng.uniform(-amplitude, amplitude, size=terms) / np.arange(1, terms + 1)
    return (coef[:, None] * np.cos(np.arange(terms)[:, None] * t[None, :])).sum(0).astype(np.float32)


def warp_spectra(cube: np.ndarray, n: int, rng: np.random.Generator, cfg: SpectralAugConfig) -> np.ndarray:
    """One random "sensor" view of a raw patch: ``(S, S, B) -> (S, S, n)`` float32 (not normalised)."""
    b = cube.shape[-1]
    length = int(rng.integers(max(4, int(np.ceil(cfg.min_range * b))), b + 1))
    start = int(rng.integers(0, b - length + 1))
    keep = np.arange(start, start + length)
    if rng.random() < cfg.p_drop and length > 16:
        for _ in range(int(rng.integers(1, 3))):
            size = int(rng.integers(1, max(2, int(cfg.max_drop * keep.size))))
            at = int(rng.integers(1, max(2, keep.size - size - 1)))
            keep = np.delete(keep, np.arange(at, min(at + size, keep.size - 1)))
    out = resample_bands(cube[..., keep], n)
    span = float(out.max() - out.min()) or 1.0
    out = out * (1.0 + _smooth_curve(n, cfg.gain, rng)) + span * _smooth_curve(n, cfg.offset, rng)
    sigma = float(rng.uniform(0.0, cfg.noise)) * span
    if sigma > 0:
        out = out + rng.normal(0.0, sigma, size=out.shape).astype(np.float32)
    return out.astype(np.float32)


def training_view(raw: np.ndarray, canonical: np.ndarray, n: int, rng: np.random.Generator,
                  cfg: SpectralAugConfig | None) -> np.ndarray:
    """``(N, S, S)`` normalised training input: a warped view with probability ``cfg.p``, else ``canonical``."""
    if cfg is None or rng.random() >= cfg.p:
        return canonical
    return normalize_cube(warp_spectra(raw, n, rng, cfg)).transpose(2, 0, 1)
