"""Jobs for the worker-pool tests (run inside :mod:`fers.ui.worker` processes)."""

import os
import time

import numpy as np


def allocate(n_bytes: int) -> int:
    """Allocate and touch ``n_bytes``; returns the number of bytes held."""
    a = np.ones(int(n_bytes), dtype=np.uint8)
    return int(a.sum())


def keep(n_bytes: int) -> int:
    """Allocate ``n_bytes`` and keep them referenced after returning (a leak)."""
    global _KEPT
    _KEPT = np.ones(int(n_bytes), dtype=np.uint8)
    return os.getpid()


def die() -> None:
    os._exit(3)  # as a C library aborting under the memory limit would


def sleep(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


def pid() -> int:
    return os.getpid()


def refuse(kind: str, message: str) -> None:
    """Raise the :mod:`fers.errors` kind named ``kind``."""
    from fers import errors

    raise getattr(errors, kind)(message)


def refuse_model(message: str) -> None:
    from fers.enhance import ModelUnavailable

    raise ModelUnavailable(message)
