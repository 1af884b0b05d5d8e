"""Shared helpers for the training scripts: seeding, device, run records, epoch loop bookkeeping."""

from __future__ import annotations

import csv
import json
import platform
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # scripts are run as ``python training/x.py`` from the repo root
    sys.path.insert(0, str(REPO))


def setup(seed: int, threads: int) -> torch.device:
    """Fix all seeds, set CPU threads; CUDA if available else CPU."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if threads > 0:
        torch.set_num_threads(threads)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def machine() -> str:
    dev = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return f"{platform.machine()} {torch.get_num_threads()} threads, {dev}, torch {torch.__version__}"


def write_curve(run_dir: Path, rows: list) -> None:
    """Validation/loss curve as ``curve.csv`` and ``curve.json`` in ``run_dir``."""
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "curve.json").write_text(json.dumps(rows, indent=1))
    keys = sorted({k for r in rows for k in r}, key=lambda k: (k != "epoch", k))
    with open(run_dir / "curve.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=keys)
        w.writeheader()
        w.writerows(rows)


class Budget:
    """Wall-clock budget in minutes (0 = unlimited)."""

    def __init__(self, minutes: float):
        self.t0 = time.time()
        self.minutes = minutes

    def elapsed(self) -> float:
        return time.time() - self.t0

    def exhausted(self) -> bool:
        return self.minutes > 0 and self.elapsed() > self.minutes * 60


def batches(n: int, batch: int, gen: torch.Generator, limit: int = 0):
    """Shuffled index batches over ``n`` items (only ``limit`` of them when > 0); a short last
    batch is kept if it has >= 2 items (BatchNorm)."""
    perm = torch.randperm(n, generator=gen)
    if 0 < limit < n:
        perm = perm[:limit]
    for i in range(0, n, batch):
        idx = perm[i : i + batch]
        if len(idx) >= 2:
            yield idx


def epoch_loop(cfg, x_tr: torch.Tensor, device, modules: list, step, validate, key: str, snapshot,
               out: Path, desc: str, augment_fn):
    """The epoch loop both stages share: shuffled batches ``(N, B, h, w)`` with optional augmentation,
    ``loss, terms = step(xb)`` and an Adam step over the trainable parameters of ``modules``, then
    ``validate() -> dict`` after every epoch; the epoch with the largest ``v[key]`` is kept through
    ``snapshot()``. Stops at ``cfg.optim.epochs`` or when the wall budget is spent.

    Returns ``(rows, best)``: the per-epoch curve (epoch 0 = before training) and
    ``{"epoch", "val", "state"}``. The curve is also written to ``out.parent`` after each epoch.
    """
    params = [p for m in modules for p in m.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=cfg.optim.lr, betas=tuple(cfg.optim.betas))
    gen = torch.Generator().manual_seed(cfg.optim.seed)
    budget = Budget(cfg.optim.max_minutes)
    v = validate()
    rows = [{"epoch": 0, **{f"val_{k}": x for k, x in v.items()}, "seconds": 0.0}]
    best = {"epoch": 0, "val": v[key], "state": snapshot()}
    print("epoch 0: " + " ".join(f"{k} {x:.4f}" for k, x in v.items()), flush=True)
    for epoch in range(1, cfg.optim.epochs + 1):
        t0 = time.time()
        for m in modules:
            m.train()
        sums, nb = {}, 0
        idx_iter = list(batches(len(x_tr), cfg.optim.batch, gen, cfg.optim.epoch_patches))
        for idx in tqdm(idx_iter, desc=f"{desc} epoch {epoch}", leave=False, file=sys.stdout):
            xb = x_tr[idx]
            if cfg.data.augment:
                xb = augment_fn(xb, gen)
            loss, terms = step(xb.to(device))
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
        if v[key] > best["val"]:
            best = {"epoch": epoch, "val": v[key], "state": snapshot()}
        print(f"epoch {epoch}: loss {row.get('train_loss', float('nan')):.4f} "
              + " ".join(f"{k} {x:.4f}" for k, x in v.items())
              + f" (best {best['val']:.4f} @ {best['epoch']}) {row['seconds']:.0f}s", flush=True)
        write_curve(out.parent, rows)
        if budget.exhausted():
            print(f"wall-time budget of {cfg.optim.max_minutes} min reached after epoch {epoch}", flush=True)
            break
    return rows, best
