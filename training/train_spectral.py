"""Stage 1: train the spectral branch (FERD, eq. 1-3) and prune it to the Spe-FEN.

    python -m training.train_spectral --bands 100 [--epochs 60] [--backbone-weights none|imagenet]
        [--data DIR --sensor aviris] [--out PATH] [--max-minutes M]

Writes a stage-1 checkpoint (``format: fers-stage1-v1``) holding the best Spe-FEN (by mean AUC of
RX(H + F_spe) on validation patches with implanted targets), the configs and the validation curve;
``curve.csv`` / ``curve.json`` go next to it.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from fers.bands import ADAPTER_RULE
from fers.export.exporter import file_sha256
from fers.models import FERDConfig, FERDNet, SpeFENConfig
from fers.models.backbones import IMAGENET_LAYER1_PROVENANCE, WIDE_LAYER1, imagenet_layer1_path
from fers.models.checkpoint import round_frozen_to_fp16
from fers.normalize import NORMALIZATION
from training import common
from training.config import RUNS_DIR, STAGE1_FORMAT, RunConfig, add_common_args, run_config
from training.data import batch_maker, load_splits
from training.losses import stage1_loss
from training.spectral_aug import SpectralAugConfig
from training.validation import batched, group_aucs, implant_groups


def parse(argv=None) -> tuple[RunConfig, Path]:
    ap = argparse.ArgumentParser(description="FERS stage 1 (spectral branch)")
    add_common_args(ap)
    ap.add_argument("--backbone", default="resnet18", help="torchvision ResNet whose layer1-3 form the encoder")
    ap.add_argument("--train-backbone", action="store_true", help="also train the ResNet layers (not frozen)")
    ap.add_argument("--deep", choices=("backbone", "light"), default="backbone",
                    help="encoder layer2/3: the ResNet's own, or two light random stages (for the wide ImageNet layer1)")
    a = ap.parse_args(argv)
    cfg = run_config(a, "spectral", train_backbone=a.train_backbone, deep=a.deep)
    return cfg, a.out or RUNS_DIR / f"spe_b{a.bands}" / "stage1.pt"


def backbone_provenance(cfg) -> dict:
    """Where the frozen backbone weights came from (recorded in every checkpoint)."""
    if cfg.backbone_weights != "imagenet":
        return {"init": "random (torchvision default initialisation, seeded)"}
    if cfg.backbone in WIDE_LAYER1:
        path = imagenet_layer1_path()
        return {"init": "imagenet", "source": IMAGENET_LAYER1_PROVENANCE, "file": path.name,
                "sha256": file_sha256(path)}
    return {"init": "imagenet", "source": f"torchvision {cfg.backbone} IMAGENET1K_V1 (BSD-3-Clause)"}


def train(cfg: RunConfig, out: Path) -> dict:
    """Run stage 1; returns the saved record."""
    device = common.setup(cfg.optim.seed, cfg.optim.threads)
    tr, va, data_desc = load_splits(Path(cfg.data.data), cfg.data.sensor, cfg.n_bands, cfg.data.patch)
    groups = {k: (x.to(device), m) for k, (x, m) in
              implant_groups(va, cfg.n_bands, cfg.val, SpectralAugConfig(**cfg.data.spectral_aug)
                             if cfg.data.spectral_aug else None).items()}
    spe_cfg = SpeFENConfig(cfg.n_bands, backbone=cfg.backbone, backbone_init=cfg.backbone_weights).resolved()
    net = FERDNet(FERDConfig(spe_cfg, train_backbone=cfg.train_backbone, deep=cfg.deep))
    round_frozen_to_fp16(net)
    net.to(device)

    def validate() -> dict:
        spe = net.prune().to(device).eval()
        return group_aucs(groups, lambda x: (batched(spe, x), None))

    def step(xb):
        return stage1_loss(net(xb), xb)

    rows, best = common.epoch_loop(cfg, len(tr.files), device, [net], step, validate, "spectral",
                                   lambda: net.prune().state_dict(), out, f"spectral b{cfg.n_bands}",
                                   batch_maker(tr, cfg.n_bands, cfg.data.augment, cfg.data.spectral_aug),
                                   resume=not cfg.restart)
    run = asdict(cfg)
    run["data"]["data"] = Path(cfg.data.data).name  # provenance without the machine's path
    record = {
        "run": run, "data": data_desc, "backbone_provenance": backbone_provenance(cfg), "curve": rows,
        "best_epoch": best["epoch"], "best_val_spectral": best["val"], "val_rx": rows[0]["val_rx"],
        "epochs_run": len(rows) - 1, "wall_seconds": sum(r["seconds"] for r in rows), "machine": common.machine(),
        "selection": "max over epochs of the mean, over validation groups (held-out AVIRIS scenes, held-out "
                     "sensors, and their spectrally warped twins), of the mean AUC of RX(H + F_spe) on patches "
                     "with implanted sub-pixel targets",
    }
    blob = {"format": STAGE1_FORMAT,
            "config": {"n_bands": cfg.n_bands, "spe": asdict(spe_cfg), "normalization": dict(NORMALIZATION),
                       "band_adapter": ADAPTER_RULE, "stage1": record},
            "spe_fen": {k: t.cpu() for k, t in best["state"].items()}}
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(blob, out)
    common.write_curve(out.parent, rows)
    print(f"saved {out} (best epoch {best['epoch']}, val spectral AUC {best['val']:.4f}, "
          f"RX {rows[0]['val_rx']:.4f}, {record['wall_seconds']:.0f}s)", flush=True)
    return record


def main(argv=None) -> int:
    cfg, out = parse(argv)
    np.set_printoptions(precision=4)
    train(cfg, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
