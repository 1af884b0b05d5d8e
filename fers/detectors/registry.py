"""The detector registry: every detector declares itself here, in its own module.

A :class:`Detector` names a scoring function ``cube (H, W, N) -> (H, W)`` and everything the rest of
the package needs to know about it: the title shown to users, its options with their defaults (the
local-RX windows), which family of maps of :mod:`fers.methods` it produces, its memory estimate for
:mod:`fers.budget`, and whether :mod:`fers.large` can stream it. The CLI's choices, the app's list,
the pipeline and the memory plan all read :func:`names` / :func:`get`; adding a detector is one module
that calls :func:`register` (and one test).

The registry is filled by importing :mod:`fers.detectors` (its ``__init__`` imports the built-in
detector modules). Detector modules import heavy libraries (PyTorch) inside their functions, so
registering costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fers.errors import FersInputError


@dataclass(frozen=True)
class Option:
    """One option of a detector: ``parse(value) -> value`` checks and normalises what a user wrote
    (a string from the command line or the app, or a Python value from the API); ``text``: how the
    default is written on the command line."""

    name: str
    default: Any
    parse: Callable[[Any], Any]
    help: str
    text: str


def _no_state(n: int) -> int:
    return 0


@dataclass(frozen=True)
class Detector:
    """A registered detector.

    ``scorer(valid, **options)`` returns the scoring function ``cube (H, W, N) -> (H, W)`` float64;
    ``valid (H, W)`` bool (or None) marks the pixels whose values are data: statistics come from
    them only (the pipeline floors the others' scores). ``work(pixels, n, height)``: bytes one
    scoring of a ``pixels x n`` cube allocates at its peak; ``state(n)``: bytes held beside it (RX's
    ``n x n`` covariance). ``family``: the method family of :data:`fers.methods.TABLE` it produces.
    ``streamable``: :mod:`fers.large` streams it on large scenes (others are refused there).
    ``needs_torch``: it imports PyTorch when it runs (the memory plan counts the import).
    ``reference``: with a fixed band spec and ground truth, the pipeline also reports this detector's
    AUC on every band of the cube (``rx_all_bands_auc``, the "Original" column of HAD papers).
    """

    name: str
    title: str
    scorer: Callable
    work: Callable[[int, int, int], int]
    state: Callable[[int], int] = _no_state
    family: str = "rx"
    options: tuple = ()
    streamable: bool = False
    needs_torch: bool = False
    reference: bool = False

    def defaults(self) -> dict:
        return {o.name: o.default for o in self.options}


_REGISTRY: dict[str, Detector] = {}
DEFAULT_DETECTOR = "rx"  # global RX (eq. 17), the paper's parameter-free detector


def register(detector: Detector) -> Detector:
    """Add ``detector`` (replacing one of the same name); returns it."""
    _REGISTRY[detector.name] = detector
    return detector


def unregister(name: str) -> None:
    _REGISTRY.pop(name, None)


def names() -> tuple:
    """Registered detector names, in registration order (the built-in ones first)."""
    return tuple(_REGISTRY)


def get(name: str) -> Detector:
    """The detector called ``name``; a one-line :class:`FersInputError` naming the choices otherwise."""
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise FersInputError(f"unknown detector {name!r}; choose one of {', '.join(_REGISTRY)}") from None


def all_options() -> dict:
    """``{option name: Option}`` over every detector (the command line offers each once)."""
    out: dict = {}
    for d in _REGISTRY.values():
        for o in d.options:
            out.setdefault(o.name, o)
    return out
