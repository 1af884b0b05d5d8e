"""The app's scratch space and the uploads it is handed; nothing is left behind.

* Everything the app writes (per-request ENVI staging, downloads, matplotlib's cache) lives under one
  temporary directory, created on first use and removed when the process exits -- on SIGINT and, through
  :func:`fers.ui.launch`'s handler, on SIGTERM too.
* :func:`request_dir` is a per-request directory removed when the request ends; downloads outlive
  their request (Gradio copies them into its cache when it sends the answer), so :func:`prune_runs`
  removes older ones at the next run.
* Uploads live in Gradio's cache (``GRADIO_TEMP_DIR``), which ``delete_cache`` cleans on a schedule;
  :func:`discard_uploads` deletes refused ones (and the API's, once answered) at once. Only files inside
  Gradio's upload folder are ever deleted -- never an example scene or a path typed by the user.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import time
from contextlib import contextmanager
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


@contextmanager
def request_dir(prefix: str = "request"):
    """A fresh directory under :func:`app_temp_root`, removed with its contents when the block ends."""
    d = new_run_dir(prefix)
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def prune_runs(prefix: str, older_than_s: float = 60.0) -> None:
    """Remove ``<prefix>-*`` directories of :func:`app_temp_root` last changed over ``older_than_s`` ago."""
    now = time.time()
    for d in app_temp_root().glob(f"{prefix}-*"):
        try:
            if now - d.stat().st_mtime > older_than_s:
                shutil.rmtree(d, ignore_errors=True)
        except OSError:
            pass


def upload_folder() -> Path:
    """Gradio's upload cache (``GRADIO_TEMP_DIR``, default ``<tmp>/gradio``)."""
    from gradio.utils import get_upload_folder

    return Path(get_upload_folder()).resolve()


def is_upload(path) -> bool:
    """True for a file inside Gradio's upload cache."""
    try:
        return Path(path).resolve().is_relative_to(upload_folder())
    except (OSError, ValueError):
        return False


def discard_uploads(paths) -> list[Path]:
    """Delete the given uploaded files now (and their per-upload folder when it is left empty); files
    outside Gradio's upload cache are left alone. Returns the files deleted."""
    gone = []
    for p in paths or ():
        p = Path(p)
        if not is_upload(p):
            continue
        try:
            p.unlink()
            gone.append(p)
        except FileNotFoundError:
            continue
        except OSError:
            continue
        try:
            if p.parent != upload_folder():
                p.parent.rmdir()  # only when empty
        except OSError:
            pass
    return gone


def link_or_copy(src: Path, dst: Path) -> None:
    """``dst`` becomes the same file as ``src``: a hard link (no copy) where the file system allows it."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def trim_memory() -> None:
    """Hand memory freed by a request back to the system (glibc keeps freed heap pages otherwise)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
