"""The per-user cache folder: exported ONNX models, and cubes spilled to disk while a run streams them.

Nothing FERS writes at run time goes into the repository or the installed package: everything goes
under ``$FERS_CACHE``, else ``$XDG_CACHE_HOME/fers`` or ``~/.cache/fers``.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """The per-user cache folder (``$FERS_CACHE``, else ``$XDG_CACHE_HOME/fers`` or ``~/.cache/fers``)."""
    env = os.environ.get("FERS_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "fers"
