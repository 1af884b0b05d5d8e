"""Anomaly detectors: a cube ``(H, W, B)`` -> a score map ``(H, W)``.

Each detector module declares and registers itself (:mod:`fers.detectors.registry`):

* global RX (eq. 17), :mod:`fers.detectors.rx`; streamed for large scenes in
  :mod:`fers.detectors.rx_stream`;
* local (dual-window) RX, :mod:`fers.detectors.lrx`;
* a small per-scene autoencoder, :mod:`fers.detectors.ae` (needs torch).

Importing this package fills the registry; :func:`get` and :func:`names` read it.
"""

from __future__ import annotations

from importlib import import_module

from fers.detectors.registry import DEFAULT_DETECTOR, Detector, Option, all_options, get, names, register, unregister

for _module in ("rx", "lrx", "ae"):  # the built-in detectors register themselves, in this order
    import_module(f"fers.detectors.{_module}")

__all__ = ["DEFAULT_DETECTOR", "Detector", "Option", "all_options", "get", "names", "register", "unregister"]
