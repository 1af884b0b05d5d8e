"""A cube file's shape and data type from its header alone, before anything is decoded.

:func:`peek_cube` asks the file's reader (:mod:`fers.io.registry`: every reader declares a ``peek``)
-- the ``.npy`` header, the ENVI ``.hdr``, the TIFF page directory, the ``.mat`` variable table, the
HDF5 dataset headers of EMIT ``.nc`` and PRISMA ``.he5`` products -- so a memory estimate
(:mod:`fers.budget`) can refuse a request before a reader decodes, say, a 3.6 MB zlib TIFF into 2 GB.
:func:`peek_gt` does the same for ground-truth files.

Both return None when the header cannot be read; the reader then reports the problem in its own
words (this module never replaces the readers' checks). The one refusal made here is a pickled
``.npy`` (object dtype), with the same message as :func:`fers.io.npy.read_npy`, so the app,
which memory-maps, says what the command line says instead of NumPy's memory-map error.
"""

from __future__ import annotations

from pathlib import Path

from fers.io.formats import TIFF_EXTS
from fers.io.header import Header
from fers.io.mat import peek_mat
from fers.io.npy import PICKLED_NPY, peek_npy  # noqa: F401  (PICKLED_NPY: the message, public)
from fers.io.registry import reader_for
from fers.io.tiff import peek_tiff

__all__ = ["Header", "peek_cube", "peek_gt"]


def peek_cube(path, key=None) -> Header | None:
    """The :class:`Header` of a cube file, from its reader's ``peek`` (``key``: the ``.mat`` variable;
    the only 3-D array when None); None when it cannot be read or the file type is unknown."""
    path = Path(path)
    if not path.is_file():
        return None
    reader = reader_for(path)
    return reader.peek(path, key) if reader is not None else None


def _image(path: Path) -> Header | None:
    try:
        from PIL import Image

        with Image.open(str(path)) as im:  # reads the header only
            w, h = im.size
            bands = len(im.getbands())
    except Exception:
        return None
    return Header((h, w, bands), 1, False, "image")


def peek_gt(path, key=None) -> Header | None:
    """The :class:`Header` of a ground-truth file (``.npy``, ``.tif``, ``.mat`` with ``key`` or its only
    2-D array, images through Pillow's lazy open)."""
    path = Path(path)
    if not path.is_file():
        return None
    ext = path.suffix.lower()
    if ext in TIFF_EXTS:
        return peek_tiff(path)
    by_reader = {"npy": peek_npy, "mat": lambda p, k: peek_mat(p, k, ndim=2)}
    reader = reader_for(path)
    if reader is not None and reader.name in by_reader:
        return by_reader[reader.name](path, key)
    return _image(path)
