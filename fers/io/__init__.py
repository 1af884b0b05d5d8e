"""Reading cubes and ground truth: the readers of :mod:`fers.io.registry` (``.mat``, ``.npy``, ENVI, TIFF,
products), HAD100 folders.

Cubes come back as :class:`Scene` objects with ``cube (H, W, B)`` float32, bands last.
"""

import fers.io.readers  # noqa: F401  (registers the built-in readers, fers.io.registry)
from fers.io.cube import Scene, load_cube, load_gt  # noqa: F401
from fers.io.formats import GT_EXTS  # noqa: F401
from fers.io.mat import list_mat_keys  # noqa: F401
from fers.io.registry import Reader, register, unregister  # noqa: F401


def __getattr__(name):  # CUBE_EXTS, CUBE_FILE_EXTS: the registry's, current when asked for
    if name in ("CUBE_EXTS", "CUBE_FILE_EXTS"):
        import fers.io.formats as fmt

        return getattr(fmt, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
