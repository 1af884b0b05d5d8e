"""Print what is recorded inside checkpoints: validation curves, best epochs, wall times, sizes.

    python -m training.summarize_runs weights/fers_b50.pt weights/fers_b100.pt weights/fers_b200.pt
    python -m training.summarize_runs /path/to/stage1.pt      # a stage-1 checkpoint works too
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch


def _curve(rows: list, keys: list) -> str:
    lines = ["  epoch " + " ".join(f"{k:>12s}" for k in keys)]
    for r in rows:
        lines.append(f"  {r['epoch']:5d} " + " ".join(f"{r.get(k, float('nan')):12.4f}" for k in keys))
    return "\n".join(lines)


def summarize(path: Path) -> str:
    blob = torch.load(path, map_location="cpu", weights_only=True)
    cfg = blob["config"]
    out = [f"{path} ({path.stat().st_size / 1e6:.1f} MB, {cfg['n_bands']} bands, format {blob['format']})"]
    stages = cfg.get("training", {}) or {"stage1": cfg.get("stage1", {})}
    for name, rec in stages.items():
        if not rec:
            continue
        run, data = rec["run"], rec["data"]
        if "val_groups" in data:  # current record: validation groups (held-out scenes and sensors)
            val = "; ".join(f"{g} {v['patches']} ({','.join(v['scenes'])})" for g, v in data["val_groups"].items())
        else:  # records of the first shipped version
            val = f"{data['val_patches']} ({','.join(data['val_scenes'])})"
        out.append(f" {name}: backbone {run['backbone']} init {run['backbone_weights']}"
                   f"{' (trained)' if run.get('train_backbone') else ' (frozen)'}, lr {run['optim']['lr']}, "
                   f"epochs run {rec['epochs_run']} x {run['optim']['epoch_patches'] or 'all'} patches, "
                   f"spectral augmentation {'on' if run['data'].get('spectral_aug') else 'off'}, "
                   f"train patches {data['train_patches']}, val patches {val}, best epoch {rec['best_epoch']}, "
                   f"wall {rec['wall_seconds']:.0f} s on {rec['machine']}")
        keys = [k for k in ("val_rx", "val_spectral", "val_spatial", "val_fusion_add", "val_fusion_mult",
                            "val_score", "train_loss") if any(k in r for r in rec["curve"])]
        out.append(_curve(rec["curve"], keys))
    return "\n".join(out)


def main(argv=None) -> int:
    for p in argv if argv is not None else sys.argv[1:]:
        print(summarize(Path(p)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
