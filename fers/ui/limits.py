"""Size limits of the app, so a huge upload is refused with a message instead of hanging the machine.

* ``MAX_FILE_SIZE`` (500 MB): passed to ``launch(max_file_size=...)``; Gradio refuses larger uploads
  itself, before the app sees them. Override with ``FERS_APP_MAX_FILE_SIZE`` (e.g. ``2GB``, ``800KB``).
* ``MAX_CUBE_VALUES``: largest ``H * W * B`` the app will process (checked from the file's header, before
  it is decoded). 40 million values is 160 MB as float32 -- e.g. 450 x 450 x 200. Override with the
  environment variable ``FERS_APP_MAX_VALUES``.
* Memory: every request is also checked against the memory budget of :mod:`fers.budget`
  (``FERS_MAX_MEMORY``), like the command line.
* Serving (:func:`serving`): ``FERS_APP_WORKERS`` worker processes (default 2, at most the CPU count;
  detections run at once),
  ``FERS_APP_TIME_LIMIT`` seconds per request (default 300), ``FERS_APP_QUEUE_SIZE`` requests waiting
  at most (default 16; more are turned away by Gradio's queue), ``FERS_APP_WORKER_MEMORY`` heap per
  worker (default: the memory budget of :mod:`fers.budget`). See docs/app.md, "Serving publicly".
* ``CACHE_AGE``: uploads and the files Gradio serves are deleted this many seconds after they were made
  (``gr.Blocks(delete_cache=...)``, checked every ``min(age, 600)`` s, and all of them when the server
  stops). Override with ``FERS_APP_CACHE_AGE``.

Every variable is read through :mod:`fers.settings` (table: docs/settings.md); a value that does not
parse is refused with one line naming the variable.
"""

from __future__ import annotations

import os

from fers.errors import FersInputError
from fers.settings import settings

MAX_FILE_SIZE = "500MB"
DEFAULT_MAX_CUBE_VALUES = 40_000_000


DEFAULT_CACHE_AGE = 3600


def cache_cleanup() -> tuple[int, int]:
    """``(frequency, age)`` in seconds for ``gr.Blocks(delete_cache=...)`` (``FERS_APP_CACHE_AGE``)."""
    age = settings().app_cache_age or DEFAULT_CACHE_AGE
    return min(age, 600), age


def max_file_size() -> str:
    """The active upload limit (environment override ``FERS_APP_MAX_FILE_SIZE``)."""
    return settings().app_max_file_size or MAX_FILE_SIZE


def max_cube_values() -> int:
    """The active ``H * W * B`` limit (environment override ``FERS_APP_MAX_VALUES``)."""
    return settings().app_max_values or DEFAULT_MAX_CUBE_VALUES


def check_cube_size(shape, name: str) -> None:
    """Raise :class:`FersInputError` when a cube of ``shape`` ``(H, W, B)`` exceeds the app's limit."""
    n = 1
    for s in shape:
        n *= int(s)
    limit = max_cube_values()
    if n > limit:
        dims = " x ".join(str(int(s)) for s in shape)
        raise FersInputError(
            f"cube is {dims} = {n:,} values; this app processes at most {limit:,} (H*W*B). "
            "Crop the scene or select fewer bands first, or use the command line `python -m fers detect`.",
            path=name,
        )


# two detections at once served more requests a second than one on a 2-core machine (measured with
# tests/benchmarks/bench_serving.py; figures in docs/app.md, "Serving publicly"); never more than the cores
DEFAULT_WORKERS = max(1, min(2, os.cpu_count() or 1))
DEFAULT_TIME_LIMIT_S = 300.0
DEFAULT_QUEUE_SIZE = 16


def serving() -> dict:
    """``workers``, ``time_limit`` (s), ``queue_size`` and ``worker_memory`` (bytes) of the served app,
    from the environment (module docstring; :mod:`fers.settings`)."""
    from fers.budget import max_memory

    s = settings()
    return {"workers": s.app_workers or DEFAULT_WORKERS,
            "time_limit": max(1.0, s.app_time_limit or DEFAULT_TIME_LIMIT_S),
            "queue_size": s.app_queue_size or DEFAULT_QUEUE_SIZE,
            "worker_memory": s.app_worker_memory or max_memory()}
