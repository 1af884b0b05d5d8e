"""The built-in cube readers, registered in the order the help lists them (:mod:`fers.io.registry`).

A new built-in format is one module that declares ``READER`` and one line here; a reader from
elsewhere calls :func:`fers.io.registry.register` itself.
"""

from __future__ import annotations

from fers.io import envi, mat, npy, tiff
from fers.io.products import emit, enmap, prisma
from fers.io.registry import register

BUILT_IN = (mat, npy, envi, tiff, enmap, emit, prisma)

for _module in BUILT_IN:
    register(_module.READER)
