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
from tqdm import tqdm

from config import RUNS_DIR, DataConfig, OptimConfig, RunConfig, ValConfig
from data import augment, load_splits
from fers.bands import ADAPTER_RULE
from fers.checkpoint import round_frozen_to_fp16
from fers.models import FERDConfig, FERDNet, SpeFENConfig
from fers.normalize import NORMALIZATION
from losses import stage1_loss
from validation import batched, implant_targets, method_aucs

STAGE1_FORMAT = "fers-stage1-v1"


def parse(argv=None) -> tuple[RunConfig, Path]:
    ap = argparse.ArgumentParser(description="FERS stage 1 (spectral branch)")
    ap.add_argument("--bands", type=int, required=True)
    ap.add_argument("--epochs", type=int, default=OptimConfig.epochs)
    ap.add_argument("--batch", type=int, default=OptimConfig.batch)
    ap.add_argument("--lr", type=float, default=OptimConfig.lr)
    ap.add_argument("--seed", type=int, default=OptimConfig.seed)
    ap.add_argument("--max-minutes", type=float, default=0.0, help="wall-time budget (0 = none)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--epoch-patches", type=int, default=0, help="random patches per epoch (0 = all)")
    ap.add_argument("--backbone", default="resnet18", help="torchvision ResNet whose layer1-3 form the encoder")
    ap.add_argument("--backbone-weights", choices=("none", "imagenet"), default="none")
    ap.add_argument("--train-backbone", action="store_true", help="also train the ResNet layers (not frozen)")
    ap.add_argument("--data", default=DataConfig.data)
    ap.add_argument("--sensor", default=DataConfig.sensor)
    ap.add_argument("--patch", type=int, default=DataConfig.patch)
    ap.add_argument("--no-augment", action="store_true")
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args(argv)
    cfg = RunConfig(stage="spectral", n_bands=a.bands, backbone=a.backbone, backbone_weights=a.backbone_weights,
                    train_backbone=a.train_backbone,
                    data=DataConfig(a.data, a.sensor, a.patch, augment=not a.no_augment),
                    optim=OptimConfig(a.epochs, a.batch, a.lr, seed=a.seed, max_minutes=a.max_minutes,
                                      threads=a.threads, epoch_patches=a.epoch_patches),
                    val=ValConfig())
    out = a.out or RUNS_DIR / f"spe_b{a.bands}" / "stage1.pt"
    return cfg, out


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
    params = [p for p in net.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=cfg.optim.lr, betas=tuple(cfg.optim.betas))
    gen = torch.Generator().manual_seed(cfg.optim.seed)
    budget = common.Budget(cfg.optim.max_minutes)

    def validate() -> dict:
        spe = net.prune().to(device).eval()
        return method_aucs(x_va, vmask, f_spe=batched(spe, x_va))

    v0 = validate()
    rows = [{"epoch": 0, "val_rx": v0["rx"], "val_spectral": v0["spectral"], "seconds": 0.0}]
    best = {"epoch": 0, "val": v0["spectral"], "spe": net.prune().state_dict()}
    print(f"epoch 0: val RX {v0['rx']:.4f} spectral {v0['spectral']:.4f}", flush=True)
    for epoch in range(1, cfg.optim.epochs + 1):
        t0 = time.time()
        net.train()
        sums, nb = {}, 0
        idx_iter = list(common.batches(len(x_tr), cfg.optim.batch, gen, cfg.optim.epoch_patches))
        for idx in tqdm(idx_iter, desc=f"spectral b{cfg.n_bands} epoch {epoch}", leave=False, file=sys.stdout):
            xb = x_tr[idx]
            if cfg.data.augment:
                xb = augment(xb, gen)
            xb = xb.to(device)
            loss, terms = stage1_loss(net(xb), xb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            for k, v in {"loss": loss.item(), **terms}.items():
                sums[k] = sums.get(k, 0.0) + v
            nb += 1
        v = validate()
        row = {"epoch": epoch, **{f"train_{k}": s / max(nb, 1) for k, s in sums.items()},
               "val_rx": v["rx"], "val_spectral": v["spectral"], "seconds": time.time() - t0}
        rows.append(row)
        if v["spectral"] > best["val"]:
            best = {"epoch": epoch, "val": v["spectral"], "spe": net.prune().state_dict()}
        print(f"epoch {epoch}: loss {row.get('train_loss', float('nan')):.4f} val spectral {v['spectral']:.4f} "
              f"(best {best['val']:.4f} @ {best['epoch']}) {row['seconds']:.0f}s", flush=True)
        common.write_curve(out.parent, rows)
        if budget.exhausted():
            print(f"wall-time budget of {cfg.optim.max_minutes} min reached after epoch {epoch}", flush=True)
            break
    record = {
        "run": asdict(cfg), "data": {k: v for k, v in data_desc.items() if k != "manifest"},
        "data_manifest": data_desc.get("manifest", ""), "curve": rows, "best_epoch": best["epoch"],
        "best_val_spectral": best["val"], "val_rx": v0["rx"], "epochs_run": len(rows) - 1,
        "wall_seconds": time.time() - t_start, "machine": common.machine(),
        "selection": "max mean AUC of RX(H + F_spe) on validation patches with implanted sub-pixel targets",
    }
    blob = {"format": STAGE1_FORMAT,
            "config": {"n_bands": cfg.n_bands, "spe": asdict(spe_cfg), "normalization": dict(NORMALIZATION),
                       "band_adapter": ADAPTER_RULE, "stage1": record},
            "spe_fen": {k: t.cpu() for k, t in best["spe"].items()}}
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(blob, out)
    common.write_curve(out.parent, rows)
    print(f"saved {out} (best epoch {best['epoch']}, val spectral AUC {best['val']:.4f}, "
          f"RX {v0['rx']:.4f}, {record['wall_seconds']:.0f}s)", flush=True)
    return record


def main(argv=None) -> int:
    cfg, out = parse(argv)
    np.set_printoptions(precision=4)
    train(cfg, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
