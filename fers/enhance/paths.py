"""Where model files live: the shipped weights, the shipped ONNX files and the user cache.

* Shipped weights: ``$FERS_WEIGHTS`` when set, else the repository's ``weights/`` (a checkout or an
  editable install), else ``<prefix>/share/fers/weights`` (a ``pip install .``).
* ONNX files of the shipped models are shipped in ``<weights>/onnx/``. Exports made at run time (a
  user's own checkpoint, or outdated files) go to the user cache, never into the repository:
  ``$FERS_CACHE`` when set, else ``$XDG_CACHE_HOME/fers`` or ``~/.cache/fers``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from fers.cache import cache_dir  # noqa: F401  (the cache folder's one home; re-used here)
from fers.settings import settings

REPO_WEIGHTS = Path(__file__).resolve().parents[2] / "weights"


def weights_dir() -> Path:
    """The folder holding ``fers_b{N}.pt`` and ``onnx/``."""
    env = settings().weights
    if env:
        return env
    installed = Path(sys.prefix) / "share" / "fers" / "weights"
    if not REPO_WEIGHTS.is_dir() and installed.is_dir():
        return installed
    return REPO_WEIGHTS


def shipped_checkpoint(n_bands: int) -> Path:
    """Path of the shipped checkpoint for ``n_bands`` (``fers_b{n}.pt``; may not exist)."""
    return weights_dir() / f"fers_b{int(n_bands)}.pt"


def shipped_onnx_dir() -> Path:
    return weights_dir() / "onnx"


def onnx_cache_dir() -> Path:
    return cache_dir() / "onnx"


def onnx_filenames(n_bands: int) -> tuple[str, str]:
    """``("fers_b{N}_spe.onnx", "fers_b{N}_spa.onnx")``."""
    return f"fers_b{int(n_bands)}_spe.onnx", f"fers_b{int(n_bands)}_spa.onnx"


def find_onnx(n_bands: int) -> tuple[Path, Path]:
    """Existing ``(spe, spa)`` pair in the shipped ONNX folder or else the user cache; the shipped
    paths when neither has both files."""
    names = onnx_filenames(n_bands)
    for folder in (shipped_onnx_dir(), onnx_cache_dir()):
        pair = (folder / names[0], folder / names[1])
        if all(p.is_file() for p in pair):
            return pair
    folder = shipped_onnx_dir()
    return folder / names[0], folder / names[1]
