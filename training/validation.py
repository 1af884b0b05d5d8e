"""Validation by synthetic sub-pixel targets implanted into held-out background patches.

For checkpoint selection only (never the benchmark scenes). Each validation patch ``(B, S, S)``
gets a few 1-3 px targets whose spectra come from *other* validation scenes (so neither the model
nor the patch has seen them), linearly mixed with abundance a ~ U(0.1, 0.5):
``h <- (1 - a) h + a t``. The score of a method is the mean per-patch ROC AUC of its map, computed by
the one method recipe (:func:`fers.methods.method_maps`, float64 global RX), as at inference.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from fers.methods import METHODS, method_maps


def implant_targets(x: np.ndarray, scenes: list, targets=(3, 6), size_max=3, abundance=(0.1, 0.5), seed=1234,
                    donors_x: np.ndarray | None = None, donor_scenes: list | None = None):
    """``x (P, B, S, S)`` -> ``(x_implanted (P, B, S, S) float32, masks (P, S, S) bool)``.

    Target spectra come from patches of other scenes: of ``donors_x (Q, B, S, S)`` (with their
    ``donor_scenes``) when given, else of ``x`` itself.
    """
    rng = np.random.default_rng(seed)
    if donors_x is None:
        donors_x, donor_scenes = x, scenes
    x = x.copy()
    p, b, s, _ = x.shape
    scenes, donor_scenes = np.asarray(scenes), np.asarray(donor_scenes)
    masks = np.zeros((p, s, s), dtype=bool)
    for i in range(p):
        donors = np.flatnonzero(donor_scenes != scenes[i])
        if donors.size == 0:
            donors = np.array([j for j in range(len(donors_x)) if j != i] or [i])
        for _ in range(int(rng.integers(targets[0], targets[1] + 1))):
            th, tw = (int(v) for v in rng.integers(1, size_max + 1, size=2))
            r, c = (int(v) for v in rng.integers(2, s - 2 - size_max, size=2))
            d = int(rng.choice(donors))
            spec = donors_x[d, :, int(rng.integers(0, s)), int(rng.integers(0, s))].copy()
            a = float(rng.uniform(*abundance))
            x[i, :, r : r + th, c : c + tw] = (1 - a) * x[i, :, r : r + th, c : c + tw] + a * spec[:, None, None]
            masks[i, r : r + th, c : c + tw] = True
    return x.astype(np.float32), masks


def method_aucs(h: torch.Tensor, masks: np.ndarray, f_spe=None, f_spa=None, wanted=METHODS) -> dict:
    """Mean over patches of the AUC of every ``wanted`` method (eq. 17-23, :mod:`fers.methods`) on a
    validation set: ``h``, ``f_spe``, ``f_spa`` ``(P, B, S, S)`` tensors (features may be None),
    ``masks (P, S, S)``. Methods that need missing features are left out."""
    to_np = lambda t: None if t is None else t.detach().double().cpu().numpy().transpose(0, 2, 3, 1)  # noqa: E731
    h, f_spe, f_spa = to_np(h), to_np(f_spe), to_np(f_spa)
    per: dict = {}
    for i, mask in enumerate(masks):
        maps = method_maps(h[i], None if f_spe is None else f_spe[i], None if f_spa is None else f_spa[i], wanted)
        for name, score in maps.items():
            per.setdefault(name, []).append(roc_auc_score(mask.ravel(), score.ravel()))
    return {name: float(np.mean(v)) for name, v in per.items()}


def batched(fn, x: torch.Tensor, batch: int = 32) -> torch.Tensor:
    """Apply ``fn`` over ``x`` in chunks under no_grad."""
    with torch.no_grad():
        return torch.cat([fn(x[i : i + batch]) for i in range(0, x.shape[0], batch)])


def implant_groups(groups: dict, n_bands: int, vcfg, warp_cfg=None) -> dict:
    """``{group: PatchSet}`` -> ``{group: (x (P, N, S, S) tensor, masks (P, S, S))}`` with implanted targets
    whose spectra come from other scenes of any group (a one-scene group, e.g. a held-out sensor, would
    otherwise implant its own background).

    With ``warp_cfg`` each group also gets a ``<group>_warped`` twin: the same patches seen through a
    fixed random spectral warp (``spectral_aug.warp_spectra``), a stand-in for unseen band layouts.
    """
    from fers.normalize import normalize_cube
    from training.spectral_aug import SpectralAugConfig, warp_spectra  # training-only module

    out = {}
    pool_x = np.concatenate([ps.x for ps in groups.values()])
    pool_scenes = [sc for ps in groups.values() for sc in ps.scenes]
    for name, ps in groups.items():
        views = {name: ps.x}
        if warp_cfg is not None:
            rng = np.random.default_rng(vcfg.seed)
            cfg = SpectralAugConfig(**{**warp_cfg.__dict__, "p": 1.0})
            views[f"{name}_warped"] = np.stack([normalize_cube(warp_spectra(r, n_bands, rng, cfg)).transpose(2, 0, 1)
                                                for r in ps.raw]).astype(np.float32)
        for key, x in views.items():
            vx, masks = implant_targets(x, ps.scenes, (vcfg.targets_min, vcfg.targets_max), vcfg.size_max,
                                        vcfg.abundance, vcfg.seed, pool_x, pool_scenes)
            out[key] = (torch.from_numpy(vx), masks)
    return out


def group_aucs(groups: dict, features) -> dict:
    """Per-group method AUCs ``<group>/<method>`` plus their unweighted mean over groups ``<method>``.

    ``features(x) -> (f_spe | None, f_spa | None)`` for a group's ``x (P, N, S, S)``.
    """
    out, per = {}, {}
    for name, (x, masks) in groups.items():
        f_spe, f_spa = features(x)
        for m, v in method_aucs(x, masks, f_spe=f_spe, f_spa=f_spa).items():
            out[f"{name}/{m}"] = v
            per.setdefault(m, []).append(v)
    out.update({m: float(np.mean(v)) for m, v in per.items()})
    return out
