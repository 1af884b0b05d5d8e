"""Memory-mapped cubes: when a scene is streamed instead of loaded, and how its pages are let go.

The thresholds are one home for the CLI (which files to memory-map), the loader (which small maps
to read into memory) and the pipeline (which scenes take the streamed path of :mod:`fers.large`).
"""

from __future__ import annotations

import mmap

LARGE_PIXELS = 1_000_000  # this many pixels or more: streamed path (fers.large); lrx / ae refused
LARGE_MEMMAP_BYTES = 512 * 2**20  # files / memory maps whose float32 copy would exceed this: memory-mapped, streamed


def release_pages(cube) -> None:
    """Drop the resident pages of a *read-only* ``np.memmap`` from this process (no-op otherwise).

    Safe for data: the mapping is file-backed and unmodified, later reads fault the pages back in
    from the page cache. Keeps the process's RSS from growing by the whole file as it is streamed.
    """
    mm = getattr(cube, "_mmap", None)
    if mm is None or getattr(cube, "mode", None) != "r" or not hasattr(mmap, "MADV_DONTNEED"):
        return
    try:
        mm.madvise(mmap.MADV_DONTNEED)
    except (OSError, ValueError, AttributeError):
        pass
