"""Anomaly detectors: a cube ``(H, W, B)`` -> a score map ``(H, W)``.

* ``rx``  global RX (eq. 17), :mod:`fers.detectors.rx`; streamed for large scenes in
  :mod:`fers.detectors.rx_stream`;
* ``lrx`` local (dual-window) RX, :mod:`fers.detectors.lrx`;
* ``ae``  a small per-scene autoencoder, :mod:`fers.detectors.ae` (needs torch).

:func:`detector_fn` is the registry; :func:`parse_windows` is the one parser of local-RX windows.
"""

from __future__ import annotations

from fers.errors import FersInputError

DETECTORS = ("rx", "lrx", "ae")
DEFAULT_WINDOWS = (5, 15)


def parse_windows(value) -> tuple[int, int]:
    """``"5,15"`` or ``(5, 15)`` -> ``(inner, outer)``: odd widths with ``1 <= inner < outer``."""
    try:
        parts = str(value).replace(" ", "").strip("()[]").split(",") if isinstance(value, str) else list(value)
        inner, outer = (int(t) for t in parts)
    except (TypeError, ValueError):
        raise FersInputError(f"windows {value!r}: write two odd widths INNER,OUTER, e.g. 5,15") from None
    if not (1 <= inner < outer and inner % 2 == 1 and outer % 2 == 1):
        raise FersInputError(f"windows must be odd with 1 <= inner < outer, got {inner},{outer}")
    return inner, outer


def detector_fn(name: str, windows=DEFAULT_WINDOWS):
    """``cube (H, W, N) -> (H, W)`` scoring function of detector ``name``."""
    if name == "rx":
        from fers.detectors.rx import rx

        return rx
    if name not in DETECTORS:
        raise FersInputError(f"unknown detector {name!r}; choose one of {', '.join(DETECTORS)}")
    try:
        if name == "lrx":
            from fers.detectors.lrx import local_rx
        else:
            from fers.detectors.ae import ae_scores  # needs torch
    except ImportError as e:
        raise FersInputError(f"detector {name} not available ({e})") from None
    if name == "lrx":
        inner, outer = parse_windows(windows)
        return lambda c: local_rx(c, inner, outer)
    return lambda c: ae_scores(c, seed=0, threads=1)  # 1 torch thread: much faster than 2 on a busy CPU
