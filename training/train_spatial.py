"""Stage 2: train the spatial branch (Spa-FEN + FRN, eq. 5-16) against the frozen Spe-FEN teacher.

    python -m training.train_spatial --bands 100 --spectral runs/spe_b100/stage1.pt [--epochs 60]
        [--backbone-weights none|imagenet] [--data DIR --sensor aviris] [--out weights/fers_b100.pt]

The checkpoint with the best validation score (mean of the fusion_add and fusion_mult mean AUCs on
validation patches with implanted targets) is written with ``fers.models.checkpoint.save_fens``: both
inference FENs plus the full config (both stages' run configs, data, curves, wall times).
"""

from __future__ import annotations

import argparse
import copy
import sys
from dataclasses import asdict
from pathlib import Path

import torch

from fers.bands import ADAPTER_RULE
from fers.models import FRN, SpaFEN, SpaFENConfig, SpeFEN, SpeFENConfig
from fers.models.checkpoint import load_checkpoint_dict, round_frozen_to_fp16, save_fens
from fers.normalize import NORMALIZATION
from training import common
from training.config import RUNS_DIR, STAGE1_FORMAT, RunConfig, add_common_args, run_config
from training.data import batch_maker, load_splits
from training.losses import stage2_loss
from training.spectral_aug import SpectralAugConfig
from training.validation import batched, group_aucs, implant_groups


def load_stage1(path: Path) -> tuple[SpeFEN, dict]:
    """The pruned Spe-FEN (frozen: no gradients, eval mode) and its stage-1 config."""
    blob = load_checkpoint_dict(path, STAGE1_FORMAT, keys=("config", "spe_fen"))
    cfg = blob["config"]
    spe = SpeFEN(SpeFENConfig(**{**cfg["spe"], "backbone_init": "none"}))
    spe.load_state_dict(blob["spe_fen"])
    spe.cfg = SpeFENConfig(**cfg["spe"])
    for p in spe.parameters():
        p.requires_grad_(False)
    return spe.eval(), cfg


def parse(argv=None) -> tuple[RunConfig, Path, Path]:
    ap = argparse.ArgumentParser(description="FERS stage 2 (spatial branch)")
    add_common_args(ap)
    ap.add_argument("--spectral", type=Path, required=True, help="stage-1 checkpoint from train_spectral.py")
    ap.add_argument("--backbone", default="resnet18",
                    help="frozen torchvision ResNet (stem + layer1-3); the paper uses resnet34")
    ap.add_argument("--frn-width", type=int, default=64, help="FRN block width (0 = n_bands as in the paper)")
    a = ap.parse_args(argv)
    cfg = run_config(a, "spatial", frn_width=a.frn_width)
    return cfg, a.spectral, a.out or RUNS_DIR / f"spa_b{a.bands}" / f"fers_b{a.bands}.pt"


def train(cfg: RunConfig, spectral: Path, out: Path) -> dict:
    """Run stage 2 and save both FENs; returns the training record."""
    device = common.setup(cfg.optim.seed, cfg.optim.threads)
    spe, s1cfg = load_stage1(spectral)
    if int(s1cfg["n_bands"]) != cfg.n_bands:
        raise SystemExit(f"{spectral}: stage-1 model has {s1cfg['n_bands']} bands, not {cfg.n_bands}")
    spe.to(device)
    tr, va, data_desc = load_splits(Path(cfg.data.data), cfg.data.sensor, cfg.n_bands, cfg.data.patch)
    groups = {k: (x.to(device), m) for k, (x, m) in
              implant_groups(va, cfg.n_bands, cfg.val, SpectralAugConfig(**cfg.data.spectral_aug)
                             if cfg.data.spectral_aug else None).items()}
    f_spe_va = {id(x): batched(spe, x) for x, _ in groups.values()}
    spa = SpaFEN(SpaFENConfig(cfg.n_bands, backbone=cfg.backbone, backbone_init=cfg.backbone_weights))
    round_frozen_to_fp16(spa)
    frn = FRN(cfg.n_bands, cfg.frn_width)
    spa.to(device)
    frn.to(device)

    def validate() -> dict:
        spa.eval()
        v = group_aucs(groups, lambda x: (f_spe_va[id(x)], batched(spa, x)))
        v["score"] = 0.5 * (v["fusion_add"] + v["fusion_mult"])
        return v

    def step(xb):
        with torch.no_grad():
            f_spe = spe(xb)
        f_spa = spa(xb)
        return stage2_loss(xb, frn(f_spe + f_spa), f_spe, f_spa)

    rows, best = common.epoch_loop(cfg, len(tr.files), device, [spa, frn], step, validate, "score",
                                   lambda: copy.deepcopy(spa.state_dict()), out, f"spatial b{cfg.n_bands}",
                                   batch_maker(tr, cfg.n_bands, cfg.data.augment, cfg.data.spectral_aug),
                                   resume=not cfg.restart)
    spa.load_state_dict(best["state"])
    record = {
        "run": {**asdict(cfg), "data": {**asdict(cfg.data), "data": Path(cfg.data.data).name}},
        "data": data_desc, "curve": rows,
        "best_epoch": best["epoch"], "best_val_score": best["val"], "best_val": rows[best["epoch"]],
        "epochs_run": len(rows) - 1, "wall_seconds": sum(r["seconds"] for r in rows), "machine": common.machine(),
        "spectral_checkpoint": spectral.name,
        "selection": "max over epochs of (fusion_add + fusion_mult) / 2, each the mean over validation groups "
                     "(held-out AVIRIS scenes, held-out sensors, spectrally warped twins) of the mean AUC on "
                     "patches with implanted sub-pixel targets",
    }
    config = {"n_bands": cfg.n_bands, "normalization": dict(NORMALIZATION), "band_adapter": ADAPTER_RULE,
              "training": {"stage1": s1cfg.get("stage1", {}), "stage2": record}}
    save_fens(out, spe.cpu(), spa.cpu(), config)
    common.write_curve(out.parent, rows)
    print(f"saved {out} (best epoch {best['epoch']}, val score {best['val']:.4f}, "
          f"{record['wall_seconds']:.0f}s)", flush=True)
    return record


def main(argv=None) -> int:
    cfg, spectral, out = parse(argv)
    train(cfg, spectral, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
