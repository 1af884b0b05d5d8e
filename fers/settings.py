"""Every setting FERS takes from the environment, in one place (the only module that reads it).

:func:`settings` returns a frozen :class:`Settings`: each field is one variable of :data:`VARIABLES`,
parsed (a bad value is a one-line :class:`~fers.errors.FersInputError` naming the variable), or None
when the variable is unset -- the module that uses a setting applies its own default, which the table
states. The environment is read on each call but parsed once per distinct set of values, so a test
that sets a variable (``monkeypatch.setenv``) sees it; :func:`override` replaces fields for a block
(tests), :func:`adopt` for the rest of the process (a Dask worker given its thread count).

The table of variables in docs/settings.md is :func:`markdown_table` (a test keeps them equal).
"""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from functools import lru_cache
from pathlib import Path

from fers.errors import FersInputError


@dataclass(frozen=True)
class Var:
    """One environment variable.

    Attributes
    ----------
    name : str
        The variable, e.g. ``FERS_MAX_MEMORY``.
    field : str
        The :class:`Settings` field it fills.
    kind : str
        How it is parsed: ``str``, ``path``, ``int`` (>= 0), ``posint`` (> 0), ``float`` (> 0) or
        ``size`` (bytes, from e.g. ``4GB``).
    default : str
        What applies when it is unset, as text for the table.
    does : str
        What it sets, for the table.
    """

    name: str
    field: str
    kind: str
    default: str
    does: str


VARIABLES = (
    Var("FERS_MAX_MEMORY", "max_memory", "size", "3.5 GiB (at most what is available)",
        "memory budget of one request (CLI, API, app, batch task); e.g. `8GB`, `800MB`"),
    Var("FERS_THREADS", "threads", "posint", "the CPUs this process may use",
        "threads of FERS's own loops (local RX); `fers batch` sets it to cores / workers"),
    Var("FERS_ORT_THREADS", "ort_threads", "int", "ONNX Runtime's choice (0)",
        "ONNX Runtime intra-op threads; `fers batch` sets it like `FERS_THREADS`"),
    Var("FERS_ORT_PROVIDERS", "ort_providers", "str", "CUDA when usable, else CPU",
        "`cpu` forces ONNX Runtime onto the CPU"),
    Var("FERS_ORT_GRAPH_CACHE", "ort_graph_cache", "str", "on",
        "`off` (or `0`, `no`, `false`): ONNX Runtime optimises the graph at every start instead of loading "
        "the optimised graph kept in the user cache"),
    Var("FERS_WEIGHTS", "weights", "path", "the checkout's `weights/`, else `<prefix>/share/fers/weights`",
        "folder of the shipped checkpoints `fers_b{N}.pt` and their `onnx/`"),
    Var("FERS_CACHE", "cache", "path", "`$XDG_CACHE_HOME/fers`, else `~/.cache/fers`",
        "user cache: ONNX files exported at run time, spilled cubes, training runs"),
    Var("XDG_CACHE_HOME", "xdg_cache_home", "path", "`~/.cache`", "parent of the user cache when `FERS_CACHE` is unset"),
    Var("FERS_IMAGENET_LAYER1", "imagenet_layer1", "path",
        "`<cache>/imagenet/wide_resnet101_2_imagenet1k_v1_layer1.pt`",
        "training only: torchvision's ImageNet `layer1` of wide_resnet101_2 (`--backbone-weights imagenet`)"),
    Var("FERS_APP_MAX_FILE_SIZE", "app_max_file_size", "str", "`500MB`",
        "app: Gradio refuses larger uploads (e.g. `2GB`, `800KB`)"),
    Var("FERS_APP_MAX_VALUES", "app_max_values", "posint", "40 000 000", "app: largest H*W*B of a cube, from its header"),
    Var("FERS_APP_WORKER_MEMORY", "app_worker_memory", "size", "`FERS_MAX_MEMORY`'s budget",
        "app: hard heap limit of each worker process"),
    Var("FERS_APP_TIME_LIMIT", "app_time_limit", "float", "300 (seconds)",
        "app: a request running longer is stopped and its worker replaced"),
    Var("FERS_APP_WORKERS", "app_workers", "posint", "2 (at most the CPU count)", "app: detections at once"),
    Var("FERS_APP_QUEUE_SIZE", "app_queue_size", "posint", "16", "app: requests waiting at most"),
    Var("FERS_APP_CACHE_AGE", "app_cache_age", "posint", "3600 (seconds)",
        "app: uploads and served files are deleted after this"),
    Var("GRADIO_SERVER_NAME", "server_name", "str", "`127.0.0.1`", "app: address to serve on"),
    Var("GRADIO_SERVER_PORT", "server_port", "posint", "7860", "app: port to serve on"),
    Var("SPACE_ID", "space_id", "str", "unset", "set by Hugging Face Spaces: `--local-paths` is then ignored"),
    Var("OMP_NUM_THREADS", "omp_threads", "posint", "unset",
        "read in `fers batch` tasks: ONNX Runtime gets this many threads when `FERS_ORT_THREADS` is unset"),
)


@dataclass(frozen=True)
class Settings:
    """The parsed environment; a field is None when its variable is unset (see :data:`VARIABLES`)."""

    max_memory: int | None = None
    threads: int | None = None
    ort_threads: int | None = None
    ort_providers: str | None = None
    ort_graph_cache: str | None = None
    weights: Path | None = None
    cache: Path | None = None
    xdg_cache_home: Path | None = None
    imagenet_layer1: Path | None = None
    app_max_file_size: str | None = None
    app_max_values: int | None = None
    app_worker_memory: int | None = None
    app_time_limit: float | None = None
    app_workers: int | None = None
    app_queue_size: int | None = None
    app_cache_age: int | None = None
    server_name: str | None = None
    server_port: int | None = None
    space_id: str | None = None
    omp_threads: int | None = None


def parse_size(text: str) -> int:
    """``"3.5GiB"``, ``"800MB"``, ``"2G"``, ``"123456"`` -> bytes (GB and GiB both count 2**30)."""
    import re

    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([kmgt]?)(i?b)?\s*", str(text).lower())
    if not m:
        raise ValueError(f"not a size: {text!r} (write e.g. 4GB or 800MB)")
    scale = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}[m.group(2)]
    return int(float(m.group(1)) * scale)


_HINTS = {"size": "a size, e.g. 4GB or 800MB", "posint": "a positive integer", "int": "an integer",
          "float": "a number"}


def _parse(var: Var, raw: str):
    if var.kind == "str":
        return raw
    if var.kind == "path":
        return Path(raw)
    try:
        value = {"size": parse_size, "int": int, "posint": int, "float": float}[var.kind](raw)
    except ValueError:
        value = None
    if value is None or (var.kind in ("posint", "float", "size") and value <= 0) or value < 0:
        raise FersInputError(f"{var.name}={raw!r} is not {_HINTS[var.kind]}")
    return value


@lru_cache(maxsize=16)
def _from_env(raw: tuple) -> Settings:
    values = {v.field: _parse(v, r) for v, r in zip(VARIABLES, raw) if r}
    return Settings(**values)


_OVERRIDES: dict = {}
_LOCK = threading.Lock()


def settings() -> Settings:
    """The settings of this process.

    Returns
    -------
    Settings
        The environment, parsed, with :func:`override` / :func:`adopt` applied.

    Raises
    ------
    FersInputError
        A variable does not parse (one line naming it).
    """
    raw = tuple((os.environ.get(v.name) or "").strip() for v in VARIABLES)
    base = _from_env(raw)
    return replace(base, **_OVERRIDES) if _OVERRIDES else base


def _check(changes: dict) -> None:
    unknown = set(changes) - {f.name for f in fields(Settings)}
    if unknown:
        raise TypeError(f"unknown settings: {', '.join(sorted(unknown))}")


@contextmanager
def override(**changes):
    """Inside the block, :func:`settings` has these fields replaced (e.g. ``override(threads=1)``)."""
    _check(changes)
    with _LOCK:
        before = dict(_OVERRIDES)
        _OVERRIDES.update(changes)
    try:
        yield settings()
    finally:
        with _LOCK:
            _OVERRIDES.clear()
            _OVERRIDES.update(before)


def adopt(**changes) -> None:
    """Replace these fields for the rest of this process (a worker process told its limits)."""
    _check(changes)
    with _LOCK:
        _OVERRIDES.update(changes)


def env_for(**values) -> dict:
    """Environment entries for settings fields, to pass to a child process.

    Parameters
    ----------
    **values
        Settings fields and their values, e.g. ``threads=2``.

    Returns
    -------
    dict
        ``{variable name: str(value)}``, e.g. ``{"FERS_THREADS": "2"}``.
    """
    by_field = {v.field: v.name for v in VARIABLES}
    _check(values)
    return {by_field[k]: str(v) for k, v in values.items()}


def export_env(env: dict, overwrite: bool = True) -> None:
    """Put ``env`` into this process's environment, for libraries and children that read it.

    Parameters
    ----------
    env : dict
        Variable names and values (``TMPDIR`` in an app worker, ``MPLCONFIGDIR`` for matplotlib).
    overwrite : bool, optional
        False keeps values already set.
    """
    for k, v in env.items():
        if overwrite or k not in os.environ:
            os.environ[k] = str(v)


def markdown_table() -> str:
    """The table of docs/settings.md: variable, default, what it does."""
    rows = ["| Variable | Default | What it sets |", "| --- | --- | --- |"]
    rows += [f"| `{v.name}` | {v.default} | {v.does} |" for v in VARIABLES]
    return "\n".join(rows)
