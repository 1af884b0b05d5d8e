"""Backbone decision for the Spe-FEN on validation data: ImageNet wide_resnet101_2 layer1 vs a random resnet18.

    python -m training.compare_backbones [--shared ../shared] [--seeds 3] [--bands 50,100,200]

Both backbones are compared as *untrained* Spe-FENs (random CWL and FPL, seeds 0..S-1, frozen layer1),
which isolates the backbone from the training recipe, on the whole held-out validation scenes of
:mod:`training.select_defaults` (implanted targets; AVIRIS held-out scenes, the held-out SAMSON sensor
and their spectrally warped twins). Printed: mean AUC of ``spectral`` (RX(H + F_spe)) per group and
band count, with plain RX for reference. Never run on benchmark scenes.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from fers.models import SpeFEN, SpeFENConfig
from fers.models.checkpoint import save_fens
from fers.pipeline import detect
from training.build_background import REPO
from training.select_defaults import load_groups, validation_scenes

BACKBONES = (("resnet18", "none"), ("wide_resnet101_2", "imagenet"))


def spectral_aucs(scenes: dict, ckpt: Path, n: int) -> dict:
    """``{group: mean AUC of spectral}`` plus ``rx`` per group, with the scene fitted to ``n`` bands."""
    out = {}
    for g, items in scenes.items():
        per: dict = {"rx": [], "spectral": []}
        for cube, gt in items:
            res = detect(cube, None, bands=str(n), weights=ckpt, methods=["rx", "spectral"])
            keep = gt.ravel() >= 0
            for m in per:
                per[m].append(roc_auc_score(gt.ravel()[keep], res.maps[m].ravel()[keep]))
        out[g] = {m: float(np.mean(v)) for m, v in per.items()}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--bands", default="50,100,200")
    a = ap.parse_args(argv)
    scenes = validation_scenes(load_groups(a.shared))
    with tempfile.TemporaryDirectory() as tmp:
        for n in (int(b) for b in a.bands.split(",")):
            for backbone, init in BACKBONES:
                rows = []
                for seed in range(a.seeds):
                    torch.manual_seed(seed)
                    spe = SpeFEN(SpeFENConfig(n, backbone=backbone, backbone_init=init))
                    ckpt = save_fens(Path(tmp) / f"b{n}_{backbone}_{seed}.pt", spe, None, {"n_bands": n})
                    rows.append(spectral_aucs(scenes, ckpt, n))
                groups = list(rows[0])
                mean = {g: float(np.mean([r[g]["spectral"] for r in rows])) for g in groups}
                print(f"{n:4d} bands  {backbone:17s} ({init:8s}) spectral: "
                      + "  ".join(f"{g} {mean[g]:.4f}" for g in groups)
                      + f"  | mean {np.mean(list(mean.values())):.4f}"
                      + "  | rx: " + "  ".join(f"{rows[0][g]['rx']:.4f}" for g in groups), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
