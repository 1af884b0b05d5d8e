"""Train both stages for every shipped band count, resumably (the recipe behind ``weights/``).

    python -m training.train_all --data DIR --runs DIR [--bands 200,100,50] [--stage1-minutes 12]
        [--stage2-minutes 7]

Per band count N: stage 1 -> ``RUNS/spe_bN/stage1.pt``, stage 2 -> ``RUNS/spa_bN/fers_bN.pt``. A stage
whose output exists is skipped; an interrupted stage resumes from its ``last.pt`` (written after
every epoch), and its wall-time budget counts the time spent before the interruption.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from training import train_spatial, train_spectral

# encoder stages (pruned away), random frozen ResNet-18 in the Spa-FEN, spectral augmentation on
SPECTRAL = ["--backbone", "wide_resnet101_2", "--backbone-weights", "imagenet", "--deep", "light"]
SPATIAL = ["--backbone", "resnet18"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--runs", type=Path, required=True)
    ap.add_argument("--bands", default="200,100,50")
    ap.add_argument("--stage1-minutes", type=float, default=12.0)
    ap.add_argument("--stage2-minutes", type=float, default=7.0)
    ap.add_argument("--epochs", type=int, default=60)
    a = ap.parse_args(argv)
    for n in (int(b) for b in a.bands.split(",")):
        common = ["--bands", str(n), "--data", a.data, "--epochs", str(a.epochs)]
        s1 = a.runs / f"spe_b{n}" / "stage1.pt"
        if not s1.is_file():
            train_spectral.main(common + SPECTRAL + ["--max-minutes", str(a.stage1_minutes), "--out", str(s1)])
        s2 = a.runs / f"spa_b{n}" / f"fers_b{n}.pt"
        if not s2.is_file():
            train_spatial.main(common + SPATIAL + ["--spectral", str(s1), "--max-minutes", str(a.stage2_minutes),
                                                   "--out", str(s2)])
    return 0


if __name__ == "__main__":
    sys.exit(main())
