"""Large scenes in bounded memory: streamed normalisation and global RX, tiled / streamed enhancement.

:func:`detect_large` (:mod:`fers.large.scene`) is what :func:`fers.detect` calls for scenes of
``fers.memmap.LARGE_PIXELS`` pixels or more; :mod:`fers.large.tiling` and
:mod:`fers.large.spa_stream` compute the features block by block.
"""

from fers.large.scene import detect_large  # noqa: F401
