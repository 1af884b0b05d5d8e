"""Background patches in the HAD100 layout -> normalised training / validation tensors.

``DIR`` may be the folder holding ``HAD100Dataset`` or ``HAD100Dataset`` itself. Training files:
``HAD100Dataset/train/<sensor>/*.npy`` (H, W, B). Validation: ``HAD100Dataset/val/<sensor>`` when
present (written by ``build_background.py``), else the last ``val_fraction`` of the scenes (sorted
by name) are held out. Every patch goes through ``fers.bands.adapt_bands`` and
``fers.normalize.normalize_cube`` exactly as at inference, and is returned as ``(B, S, S)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from fers.bands import adapt_bands
from fers.errors import FersInputError
from fers.had100 import HAD100
from fers.normalize import normalize_cube

try:
    from build_background import refuse_benchmark
except ImportError:  # imported as training.data
    from training.build_background import refuse_benchmark


@dataclass
class PatchSet:
    """``x (P, B, S, S)`` float32 normalised patches with their file names and scene names."""

    x: np.ndarray
    files: list
    scenes: list


def dataset_root(data: Path) -> Path:
    """The ``HAD100Dataset`` folder (resolved as :class:`fers.had100.HAD100` does); it must hold ``train/``."""
    try:
        root = HAD100(data).root
    except FersInputError:
        root = Path(data)
    if not (root / "train").is_dir():
        raise SystemExit(f"{data}: no HAD100Dataset/train folder")
    return root


def scene_of(path: Path) -> str:
    return path.stem.split("__")[0]


def _center_crop(cube: np.ndarray, s: int) -> np.ndarray:
    h, w = cube.shape[:2]
    r, c = (h - s) // 2, (w - s) // 2
    return cube[r : r + s, c : c + s]


def load_patches(files: list, n_bands: int, patch: int) -> PatchSet:
    """Read, crop to ``patch`` (files smaller than that are skipped), adapt and normalise."""
    xs, kept = [], []
    for f in files:
        refuse_benchmark(f.name)
        cube = np.load(f, allow_pickle=False)
        if cube.ndim != 3 or min(cube.shape[:2]) < patch:
            continue
        cube, _ = adapt_bands(_center_crop(cube.astype(np.float32), patch), n_bands)
        xs.append(normalize_cube(cube).transpose(2, 0, 1))
        kept.append(f)
    if not xs:
        raise SystemExit(f"no usable {patch}x{patch} patches among {len(files)} files")
    return PatchSet(np.stack(xs).astype(np.float32), [f.name for f in kept], [scene_of(f) for f in kept])


def load_splits(data: Path, sensor: str, n_bands: int, patch: int, val_fraction: float = 0.1):
    """``(train PatchSet, val PatchSet, description dict)`` split by scene."""
    root = dataset_root(data)
    train_files = sorted((root / "train" / sensor).glob("*.npy"))
    if not train_files:
        raise SystemExit(f"{root}/train/{sensor}: no .npy files")
    val_dir = root / "val" / sensor
    if val_dir.is_dir() and any(val_dir.glob("*.npy")):
        val_files = sorted(val_dir.glob("*.npy"))
    else:
        scenes = sorted({scene_of(f) for f in train_files})
        n_val = max(1, int(round(len(scenes) * val_fraction)))
        held = set(scenes[-n_val:])
        val_files = [f for f in train_files if scene_of(f) in held]
        train_files = [f for f in train_files if scene_of(f) not in held]
    tr = load_patches(train_files, n_bands, patch)
    va = load_patches(val_files, n_bands, patch)
    desc = {"root": str(root), "sensor": sensor, "patch": patch,
            "train_patches": len(tr.files), "val_patches": len(va.files),
            "train_scenes": sorted(set(tr.scenes)), "val_scenes": sorted(set(va.scenes)),
            "train_files": tr.files, "val_files": va.files}
    manifest = root / "manifest.json"
    if manifest.is_file():
        desc["manifest"] = manifest.read_text()
    return tr, va, desc


def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random flips and 90-degree rotations of a square batch ``(N, B, S, S)`` (one draw per batch)."""
    k = int(torch.randint(0, 4, (1,), generator=gen))
    x = torch.rot90(x, k, dims=(2, 3))
    if int(torch.randint(0, 2, (1,), generator=gen)):
        x = torch.flip(x, dims=(3,))
    return x
