"""Reading cubes and ground truth: ``.mat`` (v5 and v7.3), ``.npy``, ENVI, TIFF, HAD100 folders.

Cubes come back as :class:`Scene` objects with ``cube (H, W, B)`` float32, bands last.
"""

from fers.io.cube import Scene, load_cube, load_gt  # noqa: F401
from fers.io.formats import CUBE_EXTS, CUBE_FILE_EXTS, GT_EXTS  # noqa: F401
from fers.io.mat import list_mat_keys  # noqa: F401
