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
