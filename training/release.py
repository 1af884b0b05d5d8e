"""Copy trained checkpoints into ``weights/`` for release, without the training machine's paths.

    python -m training.release RUNS/spa_b200/fers_b200.pt RUNS/spa_b100/fers_b100.pt ... [--out weights]

Each checkpoint is a plain dict (``fers.models.checkpoint``); every string in its config that is an
absolute path (data folders, scratch files) is replaced by its last component, so the provenance
(scene names, patch counts, curves, wall times, backbone hash) stays and the machine paths go. The
tensors are copied unchanged. Prints the SHA-256 of each written file (for weights/README.md).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path, PurePosixPath

import torch

from fers.export.exporter import file_sha256
from fers.models.checkpoint import load_checkpoint_dict


def strip_paths(obj):
    """A copy of a nested dict/list with absolute path strings reduced to their last component."""
    if isinstance(obj, dict):
        return {k: strip_paths(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(strip_paths(v) for v in obj)
    if isinstance(obj, str) and obj.startswith("/") and "\n" not in obj and " " not in obj:
        return PurePosixPath(obj).name
    return obj


def release(src: Path, out_dir: Path) -> Path:
    blob = load_checkpoint_dict(src)
    blob["config"] = strip_paths(blob["config"])
    dest = out_dir / src.name
    tmp = dest.with_suffix(".tmp")
    torch.save(blob, tmp)
    tmp.replace(dest)
    return dest


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoints", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "weights")
    a = ap.parse_args(argv)
    for src in a.checkpoints:
        dest = release(src, a.out)
        print(f"{dest.name}  {dest.stat().st_size / 1e6:.1f} MB  sha256 {file_sha256(dest)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
