"""Stage 2: train the spatial branch (Spa-FEN + FRN, eq. 5-16) against the frozen Spe-FEN teacher.

    python training/train_spatial.py --bands 100 --spectral runs/spe_b100/stage1.pt [--epochs 60]
        [--backbone-weights none|imagenet] [--data DIR --sensor aviris] [--out weights/fers_b100.pt]

The checkpoint with the best validation score (mean of the fusion_add and fusion_mult mean AUCs on
validation patches with implanted targets) is written with ``fers.checkpoint.save_fens``: both
inference FENs plus the full config (both stages' run configs, data, curves, wall times).
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from dataclasses import asdict
from pathlib import Path

import common  # noqa: F401  (puts the repo on sys.path)
import torch
from tqdm import tqdm

from config import RUNS_DIR, DataConfig, OptimConfig, RunConfig, ValConfig
from data import augment, load_splits
from fers.bands import ADAPTER_RULE
from fers.checkpoint import round_frozen_to_fp16, save_fens
from fers.errors import FersInputError
from fers.models import FRN, SpaFEN, SpaFENConfig, SpeFEN, SpeFENConfig
from fers.normalize import NORMALIZATION
from losses import stage2_loss
from validation import batched, implant_targets, method_aucs

STAGE1_FORMAT = "fers-stage1-v1"


def load_stage1(path: Path) -> tuple[SpeFEN, dict]:
    """The pruned Spe-FEN (frozen: no gradients, eval mode) and its stage-1 config."""
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise FersInputError(f"cannot read stage-1 checkpoint ({type(exc).__name__})", path) from None
    if not isinstance(blob, dict) or blob.get("format") != STAGE1_FORMAT:
        raise FersInputError(f"not a stage-1 checkpoint (expected format {STAGE1_FORMAT})", path)
    cfg = blob["config"]
    spe = SpeFEN(SpeFENConfig(**{**cfg["spe"], "backbone_init": "none"}))
    spe.load_state_dict(blob["spe_fen"])
    spe.cfg = SpeFENConfig(**cfg["spe"])
    for p in spe.parameters():
        p.requires_grad_(False)
    return spe.eval(), cfg


def parse(argv=None) -> tuple[RunConfig, Path, Path]:
    ap = argparse.ArgumentParser(description="FERS stage 2 (spatial branch)")
    ap.add_argument("--bands", type=int, required=True)
    ap.add_argument("--spectral", type=Path, required=True, help="stage-1 checkpoint from train_spectral.py")
    ap.add_argument("--epochs", type=int, default=OptimConfig.epochs)
    ap.add_argument("--batch", type=int, default=OptimConfig.batch)
    ap.add_argument("--lr", type=float, default=OptimConfig.lr)
    ap.add_argument("--seed", type=int, default=OptimConfig.seed)
    ap.add_argument("--max-minutes", type=float, default=0.0, help="wall-time budget (0 = none)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--epoch-patches", type=int, default=0, help="random patches per epoch (0 = all)")
    ap.add_argument("--backbone", default="resnet18",
                    help="frozen torchvision ResNet (stem + layer1-3); the paper uses resnet34")
    ap.add_argument("--backbone-weights", choices=("none", "imagenet"), default="none")
    ap.add_argument("--frn-width", type=int, default=64, help="FRN block width (0 = n_bands as in the paper)")
    ap.add_argument("--data", default=DataConfig.data)
    ap.add_argument("--sensor", default=DataConfig.sensor)
    ap.add_argument("--patch", type=int, default=DataConfig.patch)
    ap.add_argument("--no-augment", action="store_true")
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args(argv)
    cfg = RunConfig(stage="spatial", n_bands=a.bands, backbone=a.backbone, backbone_weights=a.backbone_weights,
                    frn_width=a.frn_width, data=DataConfig(a.data, a.sensor, a.patch, augment=not a.no_augment),
                    optim=OptimConfig(a.epochs, a.batch, a.lr, seed=a.seed, max_minutes=a.max_minutes,
                                      threads=a.threads, epoch_patches=a.epoch_patches),
                    val=ValConfig())
    out = a.out or RUNS_DIR / f"spa_b{a.bands}" / f"fers_b{a.bands}.pt"
    return cfg, a.spectral, out


def train(cfg: RunConfig, spectral: Path, out: Path) -> dict:
    """Run stage 2 and save both FENs; returns the training record."""
    t_start = time.time()
    device = common.setup(cfg.optim.seed, cfg.optim.threads)
    spe, s1cfg = load_stage1(spectral)
    if int(s1cfg["n_bands"]) != cfg.n_bands:
        raise SystemExit(f"{spectral}: stage-1 model has {s1cfg['n_bands']} bands, not {cfg.n_bands}")
    spe.to(device)
    tr, va, data_desc = load_splits(Path(cfg.data.data), cfg.data.sensor, cfg.n_bands, cfg.data.patch)
    vx, vmask = implant_targets(va.x, va.scenes, (cfg.val.targets_min, cfg.val.targets_max), cfg.val.size_max,
                                cfg.val.abundance, cfg.val.seed)
    x_tr = torch.from_numpy(tr.x)
    x_va = torch.from_numpy(vx).to(device)
    f_spe_va = batched(spe, x_va)
    spa = SpaFEN(SpaFENConfig(cfg.n_bands, backbone=cfg.backbone, backbone_init=cfg.backbone_weights))
    round_frozen_to_fp16(spa)
    frn = FRN(cfg.n_bands, cfg.frn_width)
    spa.to(device)
    frn.to(device)
    params = [p for p in list(spa.parameters()) + list(frn.parameters()) if p.requires_grad]
    opt = torch.optim.Adam(params, lr=cfg.optim.lr, betas=tuple(cfg.optim.betas))
    gen = torch.Generator().manual_seed(cfg.optim.seed)
    budget = common.Budget(cfg.optim.max_minutes)

    def validate() -> dict:
        spa.eval()
        v = method_aucs(x_va, vmask, f_spe=f_spe_va, f_spa=batched(spa, x_va))
        v["score"] = 0.5 * (v["fusion_add"] + v["fusion_mult"])
        return v

    v0 = validate()
    rows = [{"epoch": 0, **{f"val_{k}": x for k, x in v0.items()}, "seconds": 0.0}]
    best = {"epoch": 0, "val": v0["score"], "spa": copy.deepcopy(spa.state_dict())}
    print("epoch 0: " + " ".join(f"{k} {x:.4f}" for k, x in v0.items()), flush=True)
    for epoch in range(1, cfg.optim.epochs + 1):
        t0 = time.time()
        spa.train()
        frn.train()
        sums, nb = {}, 0
        idx_iter = list(common.batches(len(x_tr), cfg.optim.batch, gen, cfg.optim.epoch_patches))
        for idx in tqdm(idx_iter, desc=f"spatial b{cfg.n_bands} epoch {epoch}", leave=False, file=sys.stdout):
            xb = x_tr[idx]
            if cfg.data.augment:
                xb = augment(xb, gen)
            xb = xb.to(device)
            with torch.no_grad():
                f_spe = spe(xb)
            f_spa = spa(xb)
            loss, terms = stage2_loss(xb, frn(f_spe + f_spa), f_spe, f_spa)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            for k, x in {"loss": loss.item(), **terms}.items():
                sums[k] = sums.get(k, 0.0) + x
            nb += 1
        v = validate()
        row = {"epoch": epoch, **{f"train_{k}": s / max(nb, 1) for k, s in sums.items()},
               **{f"val_{k}": x for k, x in v.items()}, "seconds": time.time() - t0}
        rows.append(row)
        if v["score"] > best["val"]:
            best = {"epoch": epoch, "val": v["score"], "spa": copy.deepcopy(spa.state_dict())}
        print(f"epoch {epoch}: loss {row.get('train_loss', float('nan')):.4f} " +
              " ".join(f"{k} {x:.4f}" for k, x in v.items()) +
              f" (best {best['val']:.4f} @ {best['epoch']}) {row['seconds']:.0f}s", flush=True)
        common.write_curve(out.parent, rows)
        if budget.exhausted():
            print(f"wall-time budget of {cfg.optim.max_minutes} min reached after epoch {epoch}", flush=True)
            break
    spa.load_state_dict(best["spa"])
    record = {
        "run": asdict(cfg), "data": {k: v for k, v in data_desc.items() if k != "manifest"}, "curve": rows,
        "best_epoch": best["epoch"], "best_val_score": best["val"], "best_val": rows[best["epoch"]],
        "epochs_run": len(rows) - 1, "wall_seconds": time.time() - t_start, "machine": common.machine(),
        "spectral_checkpoint": str(spectral),
        "selection": "max of (mean AUC fusion_add + mean AUC fusion_mult) / 2 on validation patches with "
                     "implanted sub-pixel targets",
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
