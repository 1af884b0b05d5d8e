"""NumPy ``.npy`` cubes: ``np.load`` with ``allow_pickle=False``, memory-mapped on request.

Cubes are ``(H, W, B)``, bands last, as stored; :mod:`fers.io.cube` validates and converts.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fers.errors import FersInputError
from fers.io.formats import why
from fers.io.header import Header
from fers.io.registry import Reader

PICKLED_NPY = "the .npy holds Python objects (pickled); only plain numeric arrays are read"


def read_npy(path, mmap=False) -> np.ndarray:
    """``np.load`` with ``allow_pickle=False``; ``mmap=True`` gives a read-only memory map."""
    try:
        with open(path, "rb") as fh:
            magic = fh.read(6)
    except OSError as e:
        raise FersInputError(f"cannot open file: {e.strerror or e}", path) from None
    if magic != b"\x93NUMPY":
        raise FersInputError("cannot read .npy: not a NumPy .npy file (no NumPy header)", path)
    try:
        arr = np.load(str(path), allow_pickle=False, mmap_mode="r" if mmap else None)
    except ValueError as e:
        if "pickle" in str(e).lower():
            raise FersInputError(PICKLED_NPY, path) from None
        raise FersInputError(f"cannot read .npy (corrupt or truncated): {why(e)}", path) from None
    except Exception as e:
        raise FersInputError(f"cannot read .npy (corrupt or truncated): {why(e)}", path) from None
    return arr


def peek_npy(path, key=None) -> Header | None:
    """The ``.npy`` header: shape and dtype; a pickled array (object dtype) is refused here, with the
    reader's message, so a memory map says what a plain read says."""
    try:
        with open(path, "rb") as fh:
            major, _ = np.lib.format.read_magic(fh)
            read = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
            shape, _fortran, dtype = read(fh)
    except Exception:
        return None
    if dtype.hasobject:
        raise FersInputError(PICKLED_NPY, path)
    return Header(tuple(shape), dtype.itemsize, True, "npy")


def _read(path: Path, opts) -> tuple[np.ndarray, dict]:
    return read_npy(path, mmap=opts.mmap), {}


READER = Reader(name="npy", title="NumPy .npy", extensions=(".npy",), peek=peek_npy, read=_read, mmap="map")
