"""Training configuration dataclasses (saved inside every checkpoint).

Paper (Sec. IV-B): Adam, lr 5e-3, betas (0.9, 0.95), batch 16, 60 epochs. CPU deviations are the
defaults of ``epochs`` / ``max_minutes`` here and are recorded with each run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from fers.enhance.paths import cache_dir
from fers.models.backbones import IMAGENET_LAYER1_FILE
from fers.settings import adopt, settings

REPO = Path(__file__).resolve().parents[1]
# torchvision's ImageNet layer1 of wide_resnet101_2 for --backbone-weights imagenet: $FERS_IMAGENET_LAYER1,
# else this file of the project's shared folder beside the checkout (the package itself knows no such path)
SHARED_IMAGENET_LAYER1 = REPO.parent / "shared" / "weights" / "imagenet" / IMAGENET_LAYER1_FILE

# Scratch outputs (background patches, training runs) live in the user cache, never in the repository.
RUNS_DIR = cache_dir() / "runs"
# format tag of a stage-1 file (pruned Spe-FEN + its config), written by train_spectral, read by train_spatial
STAGE1_FORMAT = "fers-stage1-v1"


@dataclass
class DataConfig:
    """Where the background patches come from (HAD100 layout)."""

    data: str = str(RUNS_DIR / "had100_bg")
    sensor: str = "all"  # comma-separated train/ sub-folders, or all of them
    patch: int = 32
    val_fraction: float = 0.1  # used only when the data folder has no val/ split
    augment: bool = True  # random flips / 90-degree rotations
    spectral_aug: dict = field(default_factory=dict)  # SpectralAugConfig fields; empty = no spectral augmentation


@dataclass
class OptimConfig:
    """Optimiser and schedule."""

    epochs: int = 60
    batch: int = 16
    lr: float = 5e-3
    betas: tuple = (0.9, 0.95)
    seed: int = 0
    max_minutes: float = 0.0  # 0 = no wall-time budget; else stop after the epoch that passes it
    epoch_patches: int = 0  # 0 = every patch each epoch; else a fresh random subset of this size
    threads: int = 2  # torch CPU threads (0 = leave torch's setting alone)


@dataclass
class ValConfig:
    """Synthetic sub-pixel targets implanted into the validation background."""

    targets_min: int = 3
    targets_max: int = 6
    size_max: int = 3
    abundance: tuple = (0.1, 0.5)
    seed: int = 1234


@dataclass
class RunConfig:
    """Everything a training run needs (serialised with ``dataclasses.asdict``)."""

    stage: str
    n_bands: int
    backbone: str
    backbone_weights: str = "none"
    train_backbone: bool = False
    deep: str = "backbone"  # stage 1 encoder layer2/3 (fers.models.ferd.FERDConfig.deep)
    restart: bool = False  # ignore a last.pt of an earlier, interrupted run
    frn_width: int = 64
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    val: ValConfig = field(default_factory=ValConfig)


def add_common_args(ap) -> None:
    """The command-line options both training stages share (an ``argparse.ArgumentParser``)."""
    ap.add_argument("--bands", type=int, required=True)
    ap.add_argument("--epochs", type=int, default=OptimConfig.epochs)
    ap.add_argument("--batch", type=int, default=OptimConfig.batch)
    ap.add_argument("--lr", type=float, default=OptimConfig.lr)
    ap.add_argument("--seed", type=int, default=OptimConfig.seed)
    ap.add_argument("--max-minutes", type=float, default=0.0, help="wall-time budget (0 = none)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--epoch-patches", type=int, default=0, help="random patches per epoch (0 = all)")
    ap.add_argument("--backbone-weights", choices=("none", "imagenet"), default="none")
    ap.add_argument("--data", default=DataConfig.data)
    ap.add_argument("--sensor", default=DataConfig.sensor)
    ap.add_argument("--patch", type=int, default=DataConfig.patch)
    ap.add_argument("--no-augment", action="store_true")
    ap.add_argument("--no-spectral-aug", action="store_true", help="train on the canonical band layout only")
    ap.add_argument("--restart", action="store_true", help="ignore a last.pt left by an earlier run")
    ap.add_argument("--out", type=Path, default=None)


def run_config(a, stage: str, **extra) -> RunConfig:
    """A :class:`RunConfig` from parsed :func:`add_common_args` options plus stage-specific fields."""
    from dataclasses import asdict

    from training.spectral_aug import SpectralAugConfig

    if settings().imagenet_layer1 is None:
        adopt(imagenet_layer1=SHARED_IMAGENET_LAYER1)
    spec = {} if a.no_spectral_aug else asdict(SpectralAugConfig())
    return RunConfig(stage=stage, n_bands=a.bands, backbone=a.backbone, backbone_weights=a.backbone_weights,
                     data=DataConfig(a.data, a.sensor, a.patch, augment=not a.no_augment, spectral_aug=spec),
                     optim=OptimConfig(a.epochs, a.batch, a.lr, seed=a.seed, max_minutes=a.max_minutes,
                                       threads=a.threads, epoch_patches=a.epoch_patches),
                     val=ValConfig(), restart=a.restart, **extra)
