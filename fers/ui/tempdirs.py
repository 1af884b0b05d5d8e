"""The app's scratch space: everything it writes (staged ENVI pairs, downloads) lives under one
temporary directory, created on first use and removed when the process exits."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

_ROOT: Path | None = None


def app_temp_root() -> Path:
    """The process-wide temp dir (``<system tmp>/fers-app-XXXX``)."""
    global _ROOT
    if _ROOT is None or not _ROOT.is_dir():
        _ROOT = Path(tempfile.mkdtemp(prefix="fers-app-"))
        atexit.register(shutil.rmtree, _ROOT, True)
    return _ROOT


def new_run_dir(prefix: str = "run") -> Path:
    """A fresh, private directory under :func:`app_temp_root`."""
    return Path(tempfile.mkdtemp(prefix=f"{prefix}-", dir=app_temp_root()))
