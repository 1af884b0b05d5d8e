"""What :func:`fers.io.load_cube` does to a cube's bands once a reader has handed it over: the
``<stem>.wavelengths.npy`` sidecar, the file's scale/offset, and the band order.

* :func:`sidecar_wavelengths` -- ``(B,)`` nm from ``<stem>.wavelengths.npy`` beside a cube, refused
  in one line when it holds anything but finite positive numbers;
* :func:`apply_scale` -- ``value = stored x scale + offset`` per band ``(B,)`` (GDAL band scale /
  offset, ENVI ``data gain values`` / ``data offset values``);
* :func:`wavelength_order` / :func:`sort_bands` -- bands in ascending wavelength, whatever order the
  file stores them in (the same data then gives the same maps).

Cubes are ``(H, W, B)``, bands last.
"""

from __future__ import annotations

import errno
from pathlib import Path

import numpy as np

from fers.errors import FersInputError


def sidecar_wavelengths(path: Path, n_bands: int):
    """``(B,)`` float64 nm from ``<stem>.wavelengths.npy`` beside ``path``, or None when there is
    none or it has another length than ``n_bands``. Strings, NaN, Inf, zero or negative values are
    refused in one line (they would reach the JSON output as ``NaN``)."""
    from fers.io.npy import read_npy
    from fers.io.wavelengths import to_nm

    cand = path.with_name(path.stem + ".wavelengths.npy")
    try:
        if not cand.is_file():
            return None
    except OSError as e:
        if e.errno == errno.ENAMETOOLONG:  # a cube name near the limit: no sidecar can have that name
            return None
        raise FersInputError(f"cannot look for the wavelength sidecar: {e.strerror or e}", path) from None
    arr = read_npy(cand)
    if arr.dtype.kind not in "iuf":
        raise FersInputError(f"wavelength sidecar holds {arr.dtype} values; expected numbers (nm)", cand)
    wl = arr.astype(np.float64).ravel()
    if wl.size != n_bands:
        return None
    return to_nm(wl, "nm", cand, what="sidecar wavelengths")


def scale_offset(scale, offset, n_bands: int):
    """``(scale (B,), offset (B,))`` float64, or None when they change nothing (all 1 and 0) or are
    not usable (wrong length, non-finite, a zero scale)."""
    s = np.ones(n_bands) if scale is None else np.asarray(scale, dtype=np.float64).ravel()
    o = np.zeros(n_bands) if offset is None else np.asarray(offset, dtype=np.float64).ravel()
    if s.size != n_bands or o.size != n_bands or not (np.all(np.isfinite(s)) and np.all(np.isfinite(o))):
        return None
    if np.any(s == 0) or (np.all(s == 1) and np.all(o == 0)):
        return None
    return s, o


def describe_scale(s: np.ndarray, o: np.ndarray, source: str) -> str:
    """``"x 0.0001 + 0 (GDAL band scale/offset)"``: what was applied, for ``Scene.info``."""
    one = np.unique(s).size == 1 and np.unique(o).size == 1
    what = f"x {s[0]:g} + {o[0]:g}" if one else f"x {s.min():g}..{s.max():g} + {o.min():g}..{o.max():g} (per band)"
    return f"{what} ({source})"


def apply_scale(cube: np.ndarray, s: np.ndarray, o: np.ndarray, rows_per_block: int = 256) -> None:
    """``cube (H, W, B)`` float32, in place: ``cube * s + o`` per band (NaN stays NaN)."""
    s32, o32 = s.astype(np.float32), o.astype(np.float32)
    for r0 in range(0, cube.shape[0], rows_per_block):
        blk = cube[r0 : r0 + rows_per_block]
        blk *= s32
        blk += o32


def uniform_scale(s: np.ndarray, o: np.ndarray) -> bool:
    """True when one positive scale and one offset apply to every band: min-max normalisation then
    gives the same cube with or without them (so a streamed memory map may stay as stored)."""
    return bool(np.unique(s).size == 1 and np.unique(o).size == 1 and s[0] > 0)


def wavelength_order(wavelengths) -> np.ndarray | None:
    """Band indices ``(B,)`` that sort ``wavelengths (B,)`` ascending (stable), or None when they
    already are."""
    wl = np.asarray(wavelengths, dtype=np.float64).ravel()
    if wl.size < 2 or np.all(np.diff(wl) >= 0):
        return None
    return np.argsort(wl, kind="stable")


def sort_bands(cube, order: np.ndarray):
    """``cube (H, W, B)`` with its bands in ``order``: a view when the order simply reverses them (a
    memory map stays one), else a copy in memory."""
    b = cube.shape[2]
    if np.array_equal(order, np.arange(b)[::-1]):
        return cube[..., ::-1]
    return np.take(cube, order, axis=2)
