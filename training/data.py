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
from fers.io.had100 import HAD100
from fers.normalize import normalize_cube
from training.build_background import refuse_benchmark


@dataclass
class PatchSet:
    """Raw patches ``(S, S, B_i)`` float32 at their native band counts, with file, scene and sensor names.

    ``x`` is the canonical training view ``(P, N, S, S)``: every patch through ``adapt_bands`` and
    ``normalize_cube`` exactly as at inference (validation uses it as is).
    """

    raw: list
    x: np.ndarray
    files: list
    scenes: list
    sensors: list


def dataset_root(data: Path) -> Path:
    """The ``HAD100Dataset`` folder (resolved as :class:`fers.io.had100.HAD100` does); it must hold ``train/``."""
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


def canonical(cube: np.ndarray, n_bands: int) -> np.ndarray:
    """``(S, S, B)`` raw -> ``(N, S, S)`` float32 as at inference (band adapter, then normalisation)."""
    cube, _ = adapt_bands(cube, n_bands)
    return normalize_cube(cube).transpose(2, 0, 1)


def load_patches(files: list, n_bands: int, patch: int) -> PatchSet:
    """Read and crop to ``patch`` (files smaller than that are skipped); the sensor is the folder name."""
    raws, kept = [], []
    for f in files:
        refuse_benchmark(f.name)
        cube = np.load(f, allow_pickle=False)
        if cube.ndim != 3 or min(cube.shape[:2]) < patch:
            continue
        raws.append(np.ascontiguousarray(_center_crop(cube.astype(np.float32), patch)))
        kept.append(f)
    if not raws:
        raise SystemExit(f"no usable {patch}x{patch} patches among {len(files)} files")
    x = np.stack([canonical(r, n_bands) for r in raws]).astype(np.float32)
    return PatchSet(raws, x, [f.name for f in kept], [scene_of(f) for f in kept], [f.parent.name for f in kept])


def load_splits(data: Path, sensor: str, n_bands: int, patch: int, val_fraction: float = 0.1):
    """``(train PatchSet, {val group: PatchSet}, description dict)``.

    ``sensor`` is a comma-separated list of ``train/`` sub-folders (``all`` = every one). Validation
    groups are the sub-folders of ``val/`` (held-out scenes of a training sensor, or a held-out
    sensor); without ``val/`` the last ``val_fraction`` of the scenes form one group.
    """
    root = dataset_root(data)
    sensors = sorted(p.name for p in (root / "train").iterdir() if p.is_dir()) if sensor == "all" else sensor.split(",")
    train_files = sorted(f for s in sensors for f in (root / "train" / s).glob("*.npy"))
    if not train_files:
        raise SystemExit(f"{root}/train/{sensor}: no .npy files")
    val_root = root / "val"
    groups = sorted(p.name for p in val_root.iterdir() if p.is_dir() and any(p.glob("*.npy"))) if val_root.is_dir() else []
    if groups:
        val_sets = {g: sorted((val_root / g).glob("*.npy")) for g in groups}
    else:
        scenes = sorted({scene_of(f) for f in train_files})
        n_val = max(1, int(round(len(scenes) * val_fraction)))
        held = set(scenes[-n_val:])
        val_sets = {"val": [f for f in train_files if scene_of(f) in held]}
        train_files = [f for f in train_files if scene_of(f) not in held]
    tr = load_patches(train_files, n_bands, patch)
    va = {g: load_patches(files, n_bands, patch) for g, files in val_sets.items()}
    # provenance without machine paths or file lists: scene names and patch counts per sensor
    desc = {"sensors": sensors, "patch": patch, "train_patches": len(tr.files),
            "train_scenes": {s: sorted({sc for sc, se in zip(tr.scenes, tr.sensors) if se == s}) for s in sensors},
            "val_groups": {g: {"patches": len(v.files), "scenes": sorted(set(v.scenes))} for g, v in va.items()}}
    return tr, va, desc


def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random flips and 90-degree rotations of a square batch ``(N, B, S, S)`` (one draw per batch)."""
    k = int(torch.randint(0, 4, (1,), generator=gen))
    x = torch.rot90(x, k, dims=(2, 3))
    if int(torch.randint(0, 2, (1,), generator=gen)):
        x = torch.flip(x, dims=(3,))
    return x


def batch_maker(ps: PatchSet, n_bands: int, spatial: bool, spectral: dict):
    """``batch(idx, gen, rng) -> (n, N, S, S)`` tensor: training views (spectral augmentation with the
    ``SpectralAugConfig`` fields in ``spectral``, if any) plus random flips / rotations when ``spatial``."""
    from training.spectral_aug import SpectralAugConfig, training_view

    cfg = SpectralAugConfig(**spectral) if spectral else None

    def batch(idx, gen, rng):
        xb = torch.from_numpy(np.stack([training_view(ps.raw[i], ps.x[i], n_bands, rng, cfg) for i in idx.tolist()]))
        return augment(xb, gen) if spatial else xb

    return batch
