"""Input check shared by both enhancers (``TorchEnhancer``, ``OnnxEnhancer``); no torch import.

``check_enhance_input(x, ndim, n_bands, where)`` accepts a normalised cube ``(H, W, N)`` (``ndim=3``)
or a batch ``(K, H, W, N)`` (``ndim=4``), bands last, and raises a one-line
:class:`~fers.errors.FersInputError` naming ``where`` otherwise.
"""

from __future__ import annotations

import numpy as np

from fers.errors import FersInputError

MIN_SIZE = 8  # smallest H and W the FENs accept


def check_enhance_input(x, ndim: int, n_bands: int, where=None) -> np.ndarray:
    """``x`` as an ndarray after checking rank, band count, ``H, W >= MIN_SIZE`` and finiteness."""
    x = np.asarray(x)
    if x.ndim != ndim:
        raise FersInputError(f"enhance expects a {ndim}-D array with bands last, got shape {x.shape}", where)
    if x.shape[-1] != n_bands:
        raise FersInputError(f"cube has {x.shape[-1]} bands but the model needs {n_bands}", where)
    if min(x.shape[-3:-1]) < MIN_SIZE:
        raise FersInputError(
            f"cube is {x.shape[-3]}x{x.shape[-2]} pixels; the networks need at least {MIN_SIZE}x{MIN_SIZE}", where
        )
    if not np.all(np.isfinite(x)):
        raise FersInputError("cube contains NaN or Inf values", where)
    return x
