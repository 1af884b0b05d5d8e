"""The per-user cache folder: exported ONNX models, and cubes spilled to disk while a run streams them.

Nothing FERS writes at run time goes into the repository or the installed package: everything goes
under ``$FERS_CACHE``, else ``$XDG_CACHE_HOME/fers`` or ``~/.cache/fers``.
"""

from __future__ import annotations

from pathlib import Path

from fers.settings import settings


def cache_dir() -> Path:
    """The per-user cache folder (``$FERS_CACHE``, else ``$XDG_CACHE_HOME/fers`` or ``~/.cache/fers``)."""
    s = settings()
    if s.cache:
        return s.cache
    return (s.xdg_cache_home or Path.home() / ".cache") / "fers"
