"""Choose the inference defaults (band adapter, fused map) on validation data, never on benchmarks.

    python -m training.select_defaults [--shared ../shared] [--weights-dir weights] [--out defaults.json]

Validation scenes are the whole held-out scenes of ``training/build_background.py`` (never the
benchmark scenes): held-out scenes of a training sensor (AVIRIS: abu-beach-3, abu-urban-1) and a
sensor the models never saw (SAMSON). Each raw scene ``(H, W, B)`` at its native band count gets
10-16 implanted targets of 1-3 px, ``x <- (1 - a) x + a t`` with ``a ~ U(0.1, 0.5)``, whose spectra
``t`` are pixels of *other* scenes resampled to B bands and scaled to the scene's mean brightness
(foreign materials); the scene's own labelled anomalies are left out of the AUC. Each scene is also
seen through two random spectral warps (:func:`training.spectral_aug.warp_spectra`) to a random
band count in 60..220, a stand-in for unseen sensors with other band layouts (groups ``*_warped``).
Three implant seeds per view.

Every configuration runs the real pipeline (:func:`fers.detect`, bands ``auto``) on every patch, so
the plain RX it is compared with is RX on all native bands, exactly what a user would otherwise run.
Printed: mean AUC per group, method and adapter; the worst group's margin over plain RX. The rule
(no ground truth involved at inference) and its measurements go to docs/method.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from fers.bands import ADAPTERS
from fers.methods import METHODS
from fers.pipeline import detect
from training.build_background import DEFAULT_HOLDOUT, DEFAULT_HOLDOUT_SENSORS, REPO, load_source, sensor_of, sources
from training.spectral_aug import SpectralAugConfig, warp_spectra


def load_groups(shared: Path) -> dict:
    """``{group: [(scene, raw (H, W, B) float32, excluded (H, W) bool), ...]}``: held-out scenes by sensor."""
    groups: dict = {}
    for src in sources(shared):
        name, sensor = src.name.split(".")[0], sensor_of(src)
        if name in DEFAULT_HOLDOUT or sensor in DEFAULT_HOLDOUT_SENSORS:
            cube, excluded = load_source(src)
            excluded = np.zeros(cube.shape[:2], bool) if excluded is None else excluded
            groups.setdefault(sensor, []).append((name, cube, excluded))
    return groups


def implant(raw, excluded, scene: str, donors: list, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Scene with 10-16 targets of 1-3 px from other scenes' spectra -> ``(cube, gt)``, gt int8:
    1 target, 0 background, -1 left out (the scene's own anomalies)."""
    x = raw.copy()
    h, w, b = x.shape
    gt = np.where(excluded, -1, 0).astype(np.int8)
    others = [d for d in donors if d[0] != scene]
    level = float(np.mean(x[~excluded]))
    placed = 0
    while placed < int(rng.integers(10, 17)):
        th, tw = (int(v) for v in rng.integers(1, 4, size=2))
        r, c = int(rng.integers(2, h - 5)), int(rng.integers(2, w - 5))
        if excluded[max(r - 2, 0) : r + th + 2, max(c - 2, 0) : c + tw + 2].any():
            continue
        _, d, _ = others[int(rng.integers(len(others)))]
        t = d[int(rng.integers(d.shape[0])), int(rng.integers(d.shape[1]))]
        t = np.interp(np.linspace(0, 1, b), np.linspace(0, 1, t.size), t).astype(np.float32)
        t = t / (abs(float(t.mean())) + 1e-12) * level
        a = float(rng.uniform(0.1, 0.5))
        x[r : r + th, c : c + tw] = (1 - a) * x[r : r + th, c : c + tw] + a * t
        gt[r : r + th, c : c + tw] = 1
        placed += 1
    return x, gt


def validation_scenes(groups: dict, seed: int = 1234, seeds: int = 3) -> dict:
    """``{group: [(cube, gt), ...]}`` for every group and its ``_warped`` twin (two warps per scene)."""
    rng = np.random.default_rng(seed)
    donors = [item for items in groups.values() for item in items]
    warp = SpectralAugConfig(p=1.0)
    out: dict = {}
    for g, items in groups.items():
        for sc, raw, ex in items:
            out.setdefault(g, []).extend(implant(raw, ex, sc, donors, rng) for _ in range(seeds))
            for _ in range(2):
                view = warp_spectra(raw, int(rng.integers(60, 221)), rng, warp)
                out.setdefault(f"{g}_warped", []).extend(implant(view, ex, sc, donors, rng) for _ in range(seeds))
    return out


def evaluate(scenes: dict, adapters=ADAPTERS, weights_dir: Path | None = None) -> dict:
    """``{adapter: {group: {method: mean AUC}}}`` with the shipped (or ``weights_dir``) models."""
    import os

    if weights_dir is not None:
        os.environ["FERS_WEIGHTS"] = str(weights_dir)
    out = {}
    for adapter in adapters:
        out[adapter] = {}
        for g, items in scenes.items():
            per: dict = {}
            for cube, gt in items:
                res = detect(cube, None, bands="auto", adapter=adapter)
                keep = gt.ravel() >= 0
                for m, score in res.maps.items():
                    per.setdefault(m, []).append(roc_auc_score(gt.ravel()[keep], score.ravel()[keep]))
            out[adapter][g] = {m: float(np.mean(v)) for m, v in per.items()}
        print(f"adapter {adapter} done", file=sys.stderr, flush=True)
    return out


def table(results: dict) -> str:
    lines = []
    for adapter, groups in results.items():
        lines.append(f"adapter {adapter}")
        head = f"  {'group':16s}" + "".join(f"{m:>12s}" for m in METHODS)
        lines.append(head)
        for g, aucs in groups.items():
            lines.append(f"  {g:16s}" + "".join(f"{aucs.get(m, float('nan')):12.4f}" for m in METHODS))
        mean = {m: np.mean([a[m] for a in groups.values() if m in a]) for m in METHODS}
        worst = {m: min(a[m] - a["rx"] for a in groups.values() if m in a) for m in METHODS}
        lines.append(f"  {'MEAN':16s}" + "".join(f"{mean[m]:12.4f}" for m in METHODS))
        lines.append(f"  {'worst vs rx':16s}" + "".join(f"{worst[m]:+12.4f}" for m in METHODS))
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    ap.add_argument("--weights-dir", type=Path, default=None, help="models to evaluate (default: shipped)")
    ap.add_argument("--adapters", default=",".join(ADAPTERS))
    ap.add_argument("--out", type=Path, default=None, help="write the numbers as JSON")
    a = ap.parse_args(argv)
    scenes = validation_scenes(load_groups(a.shared))
    res = evaluate(scenes, a.adapters.split(","), a.weights_dir)
    print(table(res))
    if a.out:
        a.out.write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
