"""How many threads this process's numerical work may use, and BLAS held to one thread.

:func:`compute_threads` is ``$FERS_THREADS`` when set (``fers batch`` sets it to cores / workers in
each worker, so N workers never start N x cores threads), else the CPUs this process may run on.
Work that is a loop of small dense problems (local RX: one ``(B + 2)^2`` Cholesky per pixel) runs
its row blocks on that many Python threads while BLAS runs single-threaded (:func:`single_blas`):
OpenBLAS's own threads spin while they wait, which on small matrices, or on a shared CPU, costs
far more than they save.
"""

from __future__ import annotations

import os
from functools import lru_cache


def cpu_count() -> int:
    """CPUs this process may run on (its affinity mask when the OS says, else ``os.cpu_count()``)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def compute_threads() -> int:
    """``$FERS_THREADS`` (a positive integer) or :func:`cpu_count`."""
    from fers.settings import settings

    return settings().threads or cpu_count()


@lru_cache(maxsize=1)
def _blas_controller():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def single_blas():
    """Context manager: BLAS (OpenBLAS/MKL through threadpoolctl) on one thread inside the block."""
    return _blas_controller().limit(limits=1, user_api="blas")
