"""Stage 1: train the spectral branch (FERD, eq. 1-3) and prune it to the Spe-FEN.

    python training/train_spectral.py --bands 100 [--epochs 60] [--backbone-weights none|imagenet]
        [--data DIR --sensor aviris] [--out PATH] [--max-minutes M]

Writes a stage-1 checkpoint (``format: fers-stage1-v1``) holding the best Spe-FEN (by mean AUC of
RX(H + F_spe) on validation patches with implanted targets), the configs and the validation curve;
``curve.csv`` / ``curve.json`` go next to it.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import asdict
from pathlib import Path

import common  # noqa: F401  (puts the repo on sys.path)
import numpy as np
import torch

from config import RUNS_DIR, STAGE1_FORMAT, RunConfig, add_common_args, run_config
from data import augment, load_splits
from fers.bands import ADAPTER_RULE
from fers.checkpoint import round_frozen_to_fp16
from fers.models import FERDConfig, FERDNet, SpeFENConfig
from fers.normalize import NORMALIZATION
from losses import stage1_loss
from validation import batched, implant_targets, method_aucs



def parse(argv=None) -> tuple[RunConfig, Path]:
    ap = argparse.ArgumentParser(description="FERS stage 1 (spectral branch)")
    add_common_args(ap)
    ap.add_argument("--backbone", default="resnet18", help="torchvision ResNet whose layer1-3 form the encoder")
    ap.add_argument("--train-backbone", action="store_true", help="also train the ResNet layers (not frozen)")
    a = ap.parse_args(argv)
    cfg = run_config(a, "spectral", train_backbone=a.train_backbone)
    return cfg, a.out or RUNS_DIR / f"spe_b{a.bands}" / "stage1.pt"


def train(cfg: RunConfig, out: Path) -> dict:
    """Run stage 1; returns the saved record."""
    t_start = time.time()
    device = common.setup(cfg.optim.seed, cfg.optim.threads)
    tr, va, data_desc = load_splits(Path(cfg.data.data), cfg.data.sensor, cfg.n_bands, cfg.data.patch)
    vx, vmask = implant_targets(va.x, va.scenes, (cfg.val.targets_min, cfg.val.targets_max), cfg.val.size_max,
                                cfg.val.abundance, cfg.val.seed)
    x_tr = torch.from_numpy(tr.x)
    x_va = torch.from_numpy(vx).to(device)
    spe_cfg = SpeFENConfig(cfg.n_bands, backbone=cfg.backbone, backbone_init=cfg.backbone_weights).resolved()
    net = FERDNet(FERDConfig(spe_cfg, train_backbone=cfg.train_backbone))
    round_frozen_to_fp16(net)
    net.to(device)

    def validate() -> dict:
        spe = net.prune().to(device).eval()
        return method_aucs(x_va, vmask, f_spe=batched(spe, x_va))

    def step(xb):
        return stage1_loss(net(xb), xb)

    rows, best = common.epoch_loop(cfg, x_tr, device, [net], step, validate, "spectral",
                                   lambda: net.prune().state_dict(), out, f"spectral b{cfg.n_bands}", augment)
    record = {
        "run": asdict(cfg), "data": {k: v for k, v in data_desc.items() if k != "manifest"},
        "data_manifest": data_desc.get("manifest", ""), "curve": rows, "best_epoch": best["epoch"],
        "best_val_spectral": best["val"], "val_rx": rows[0]["val_rx"], "epochs_run": len(rows) - 1,
        "wall_seconds": time.time() - t_start, "machine": common.machine(),
        "selection": "max mean AUC of RX(H + F_spe) on validation patches with implanted sub-pixel targets",
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
