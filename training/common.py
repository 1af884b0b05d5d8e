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


def _save_state(path: Path, state: dict) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)


def epoch_loop(cfg, n_train: int, device, modules: list, step, validate, key: str, snapshot,
               out: Path, desc: str, batch_fn, resume: bool = True):
    """The epoch loop both stages share: shuffled index batches, ``xb = batch_fn(idx, gen, rng)``
    ``(n, B, h, w)`` (augmentation included), ``loss, terms = step(xb)`` and an Adam step over the
    trainable parameters of ``modules``, then ``validate() -> dict`` after every epoch; the epoch
    with the largest ``v[key]`` is kept through ``snapshot()``. Stops at ``cfg.optim.epochs`` or when
    the wall budget (counted across resumes) is spent.

    After every epoch the whole loop state (modules, optimiser, random generators, curve, best) is
    written to ``out.parent / "last.pt"``; with ``resume`` a later call continues from it.

    Returns ``(rows, best)``: the per-epoch curve (epoch 0 = before training) and
    ``{"epoch", "val", "state"}``. The curve is also written to ``out.parent`` after each epoch.
    """
    params = [p for m in modules for p in m.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=cfg.optim.lr, betas=tuple(cfg.optim.betas))
    gen = torch.Generator().manual_seed(cfg.optim.seed)
    rng = np.random.default_rng(cfg.optim.seed)
    state_path = out.parent / "last.pt"
    out.parent.mkdir(parents=True, exist_ok=True)
    spent = 0.0
    if resume and state_path.is_file():
        st = torch.load(state_path, map_location="cpu", weights_only=False)  # our own file, written below
        for m, sd in zip(modules, st["modules"]):
            m.load_state_dict(sd)
        opt.load_state_dict(st["opt"])
        gen.set_state(st["gen"])
        rng.bit_generator.state = st["rng"]
        rows, best, spent = st["rows"], st["best"], st["spent"]
        print(f"resumed from {state_path} after epoch {rows[-1]['epoch']} ({spent:.0f}s spent)", flush=True)
    else:
        v = validate()
        rows = [{"epoch": 0, **{f"val_{k}": x for k, x in v.items()}, "seconds": 0.0}]
        best = {"epoch": 0, "val": v[key], "state": snapshot()}
        print("epoch 0: " + " ".join(f"{k} {x:.4f}" for k, x in v.items()), flush=True)
    budget = cfg.optim.max_minutes * 60
    for epoch in range(rows[-1]["epoch"] + 1, cfg.optim.epochs + 1):
        if budget > 0 and spent > budget:
            print(f"wall-time budget of {cfg.optim.max_minutes} min reached after epoch {epoch - 1}", flush=True)
            break
        t0 = time.time()
        for m in modules:
            m.train()
        sums, nb = {}, 0
        idx_iter = list(batches(n_train, cfg.optim.batch, gen, cfg.optim.epoch_patches))
        for idx in tqdm(idx_iter, desc=f"{desc} epoch {epoch}", leave=False, file=sys.stdout):
            loss, terms = step(batch_fn(idx, gen, rng).to(device))
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
        spent += row["seconds"]
        if v[key] > best["val"]:
            best = {"epoch": epoch, "val": v[key], "state": snapshot()}
        print(f"epoch {epoch}: loss {row.get('train_loss', float('nan')):.4f} "
              + " ".join(f"{k} {x:.4f}" for k, x in v.items())
              + f" (best {best['val']:.4f} @ {best['epoch']}) {row['seconds']:.0f}s", flush=True)
        write_curve(out.parent, rows)
        _save_state(state_path, {"modules": [m.state_dict() for m in modules], "opt": opt.state_dict(),
                                 "gen": gen.get_state(), "rng": rng.bit_generator.state, "rows": rows,
                                 "best": best, "spent": spent})
    return rows, best
