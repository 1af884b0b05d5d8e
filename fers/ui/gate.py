"""The one gate for every file-valued input of every event and API endpoint: a file is read only if a
client uploaded it to this server.

A value passes when it names a regular file inside Gradio's upload folder that Gradio received through
its upload route (``Blocks.upload_file_set``), or a cached copy of a bundled example (what the example
buttons put into the cube box). From the API, a value must moreover be a ``FileData`` (what
``gradio_client.handle_file`` sends): a plain string is never taken as a path there.

Everything else -- a server path sent as a string, a ``FileData`` pointing outside the upload folder,
another session's download, a missing file -- gets one and the same message, :func:`refusal`, which
depends only on which input it was: never on whether the path exists, what it is, or what it holds.

Server paths are read in one case only: the checkpoint box and the API's ``weights`` string when the
app runs in local mode (``python app.py --local-paths``), which :func:`set_local_paths` refuses to turn
on in a Hugging Face Space (``SPACE_ID`` set).
"""

from __future__ import annotations

import filecmp
import logging
from pathlib import Path

from fers.errors import FersInputError
from fers.settings import settings
from fers.ui.tempdirs import upload_folder

log = logging.getLogger("fers.app")

_LOCAL_PATHS = False


def refusal(what: str) -> FersInputError:
    """The one refusal for a value that is not an uploaded file."""
    return FersInputError(f"{what}: not a file uploaded with this request; upload the file itself "
                          "(from Python: gradio_client.handle_file(path))")


def set_local_paths(on: bool) -> bool:
    """Turn local mode (server paths for checkpoints) on or off; never on in a Space. Returns the mode."""
    global _LOCAL_PATHS
    if on and settings().space_id:
        log.warning("--local-paths ignored: this is a Hugging Face Space (SPACE_ID is set)")
        on = False
    _LOCAL_PATHS = bool(on)
    return _LOCAL_PATHS


def local_paths() -> bool:
    return _LOCAL_PATHS


def _is_filedata(value) -> bool:
    from gradio import FileData

    return isinstance(value, FileData) or (isinstance(value, dict) and isinstance(value.get("path"), str))


def _path_of(value) -> str | None:
    if isinstance(value, dict):
        return value.get("path")
    return getattr(value, "path", None) if not isinstance(value, (str, Path)) else str(value)


def _uploaded_set():
    """Gradio's set of files received through its upload route, or None outside a served request."""
    try:
        from gradio.context import LocalContext

        blocks = LocalContext.blocks.get(None)
    except (ImportError, LookupError):
        return None
    return getattr(blocks, "upload_file_set", None) if blocks is not None else None


def example_copy(p: Path, examples: dict) -> bool:
    """A cached copy of a bundled example: its name and every byte equal to the bundled file."""
    src = examples.get(p.name)
    try:
        return src is not None and filecmp.cmp(p, src, shallow=False)
    except OSError:
        return False


def _accepted(raw, examples: dict) -> Path | None:
    """The resolved path of an uploaded regular file, or None."""
    if not raw or "\x00" in str(raw):
        return None
    try:
        p = Path(raw).resolve(strict=True)
    except (OSError, RuntimeError, ValueError):
        return None
    if not p.is_relative_to(upload_folder()) or not p.is_file():
        return None
    received = _uploaded_set()
    if received is None:  # called outside a served request (tests, scripts): the folder rule alone
        return p
    if str(p) in received or str(raw) in received or example_copy(p, examples):
        return p
    return None


def uploaded(value, what: str, *, api: bool = False, examples: dict | None = None,
             optional: bool = False) -> list[Path]:
    """The uploaded files of one input, as resolved paths, or :func:`refusal`.

    ``value``: a path string (page events: what a ``gr.File`` hands over), a ``FileData`` or its dict (the
    API), or a list of them. ``api``: strings are refused. ``examples``: ``{file name: bundled path}``
    of the example scenes. ``optional``: None or empty is ``[]`` instead of a refusal."""
    items = value if isinstance(value, (list, tuple)) else ([] if value is None else [value])
    if not items:
        if optional:
            return []
        raise FersInputError(f"no {what} file: upload one" + (" or click an example" if examples else ""))
    out = []
    for item in items:
        if api and not _is_filedata(item):
            raise refusal(what)
        p = _accepted(_path_of(item), examples or {})
        if p is None:
            raise refusal(what)
        out.append(p)
    return out


def server_path(text, what: str) -> Path | None:
    """A checkpoint path typed on the server (local mode only); None for an empty box. Outside local
    mode every non-empty value gets the same refusal, so nothing about the server's files leaks."""
    text = str(text or "").strip()
    if not text:
        return None
    if not _LOCAL_PATHS:
        raise FersInputError(f"{what}: server paths are read only when the app runs with --local-paths "
                             "(never on a public server); upload the file instead")
    return Path(text).expanduser()
