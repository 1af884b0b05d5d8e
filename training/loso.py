"""Leave-one-sensor-out (LOSO) retraining of what a left-out sensor influenced, at one band count.

    python -m training.loso --data DIR --runs DIR [--bands 100] [--epochs 4] [--minutes 5]
        [--sensors aviris,rosis,casi,samson] [--weights weights]

For every sensor S: a fold folder ``RUNS/loso_<S>/HAD100Dataset`` whose ``train/`` and ``val/`` hold
(symbolic links to) every sensor of ``DIR`` (``training.build_background`` output) except S, so S
is used neither for training nor for choosing the epoch. Then stage 2 (the Spa-FEN, eq. 5-16) is
retrained on that fold -> ``RUNS/loso_<S>/fers_b<N>.pt``, resumably (``train_spatial`` writes
``last.pt`` every epoch; a finished fold is skipped).

Stage 1 is *not* retrained: it is taken from the shipped ``fers_b<N>.pt`` and this is refused unless
the shipped Spe-FEN is the untrained head (stage-1 ``best_epoch == 0``: random CWL and FPL on the
frozen ImageNet layer1, i.e. it saw no sensor's data). At 50 and 100 bands that holds (docs/method.md,
"Shipped weights"); at 200 bands the Spe-FEN was trained on AVIRIS, ROSIS and CASI and a LOSO fold
would need stage 1 retrained too (16 min per fold on the project's CPU; not done).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from training.config import RUNS_DIR, STAGE1_FORMAT
from training.data import dataset_root

SENSORS = ("aviris", "rosis", "casi", "samson")


def make_fold(data: Path, runs: Path, left_out: str) -> Path:
    """``RUNS/loso_<left_out>`` with ``HAD100Dataset/{train,val}/<sensor>`` links to ``data``'s sensor
    folders, ``left_out`` excluded from both splits. Returns the fold folder."""
    src = dataset_root(data)
    fold = runs / f"loso_{left_out}"
    for split in ("train", "val"):
        dest = fold / "HAD100Dataset" / split
        dest.mkdir(parents=True, exist_ok=True)
        for sub in sorted(p for p in (src / split).iterdir() if p.is_dir()) if (src / split).is_dir() else []:
            link = dest / sub.name
            if sub.name != left_out and not link.exists():
                link.symlink_to(sub.resolve(), target_is_directory=True)
    return fold


def stage1_from_shipped(checkpoint: Path, out: Path) -> Path:
    """Write the Spe-FEN of a shipped checkpoint as a stage-1 file (``STAGE1_FORMAT``) for
    ``train_spatial``; refused when that Spe-FEN was trained (it would carry every sensor's data)."""
    from fers.models.checkpoint import load_fens

    spe, _, config = load_fens(checkpoint)
    s1 = config["training"]["stage1"]
    if int(s1.get("best_epoch", -1)) != 0:
        raise SystemExit(f"{checkpoint}: its Spe-FEN was trained (best epoch {s1.get('best_epoch')}); "
                         "a leave-one-sensor-out fold needs stage 1 retrained")
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"format": STAGE1_FORMAT,
                "config": {"n_bands": config["n_bands"], "spe": config["spe"],
                           "normalization": config["normalization"], "band_adapter": config["band_adapter"],
                           "stage1": s1},
                "spe_fen": {k: t.float() for k, t in spe.state_dict().items()}}, out)
    return out


def main(argv=None) -> int:
    from training import train_spatial

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=RUNS_DIR / "had100_bg")
    ap.add_argument("--runs", type=Path, default=RUNS_DIR)
    ap.add_argument("--bands", type=int, default=100)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--minutes", type=float, default=5.0, help="wall budget per fold")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--sensors", default=",".join(SENSORS))
    ap.add_argument("--weights", type=Path, default=Path(__file__).resolve().parents[1] / "weights")
    a = ap.parse_args(argv)
    s1 = stage1_from_shipped(a.weights / f"fers_b{a.bands}.pt", a.runs / f"loso_stage1_b{a.bands}.pt")
    for sensor in a.sensors.split(","):
        fold = make_fold(a.data, a.runs, sensor)
        out = fold / f"fers_b{a.bands}.pt"
        if out.is_file():
            print(f"{out} exists, skipped", flush=True)
            continue
        train_spatial.main(["--bands", str(a.bands), "--data", str(fold), "--epochs", str(a.epochs),
                            "--max-minutes", str(a.minutes), "--threads", str(a.threads), "--backbone", "resnet18",
                            "--spectral", str(s1), "--out", str(out)])
    return 0


if __name__ == "__main__":
    sys.exit(main())
