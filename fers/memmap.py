"""Memory-mapped cubes: when a scene is streamed instead of loaded, how its pages are let go, and
how a compressed cube too big to decode becomes one (:func:`spill`).

The thresholds are one home for the CLI (which files to memory-map), the loader (which small maps
to read into memory) and the pipeline (which scenes take the streamed path of :mod:`fers.large`).
"""

from __future__ import annotations

import mmap
import os
import shutil
import tempfile

import numpy as np

LARGE_PIXELS = 1_000_000  # this many pixels or more: streamed path (fers.large); lrx / ae refused
LARGE_MEMMAP_BYTES = 512 * 2**20  # files / memory maps whose float32 copy would exceed this: memory-mapped, streamed


def large_pixels() -> int:
    """:data:`LARGE_PIXELS`, read when called: callers use this, so a test patches the one constant."""
    return LARGE_PIXELS


def large_memmap_bytes() -> int:
    """:data:`LARGE_MEMMAP_BYTES`, read when called (see :func:`large_pixels`)."""
    return LARGE_MEMMAP_BYTES


def is_mapped(cube) -> bool:
    """A ``np.memmap``, or a lazy view of one that exposes its map (:class:`fers.bands.select.BandView`)."""
    return isinstance(cube, np.memmap) or getattr(cube, "_mmap", None) is not None


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


def spill(shape: tuple, read_rows, chunk_rows: int, what: str = "cube", path=None) -> np.memmap:
    """A read-only float32 memory map ``shape (H, W, B)`` filled by ``read_rows(r0, r1) -> (r1 - r0,
    W, B)`` block by block, for a compressed or chunked cube (NetCDF/HDF5) too big to decode in memory:
    the streamed path (:mod:`fers.large`) then reads it like an uncompressed file.

    The file is created in ``<cache>/spill`` (:func:`fers.cache.cache_dir`) and unlinked as soon as
    it is mapped, so nothing is left behind even if the process is killed; the disk space is freed
    when the map is. Refused in one line when the folder lacks the space."""
    from fers.cache import cache_dir
    from fers.errors import FersInputError, FersResourceError

    folder = cache_dir() / "spill"
    need = int(np.prod(shape, dtype=np.int64)) * 4
    try:
        folder.mkdir(parents=True, exist_ok=True)
        free = shutil.disk_usage(folder).free
    except OSError as e:
        raise FersResourceError(f"cannot use the cache folder {folder} to stream the {what}: {e.strerror or e}",
                                path) from None
    if free < need + 2**28:
        raise FersResourceError(f"streaming the {what} needs {need / 2**30:.1f} GiB of disk in {folder}, which has "
                                f"{free / 2**30:.1f} GiB free; set FERS_CACHE to a larger disk", path)
    fd, tmp = tempfile.mkstemp(prefix="spill-", dir=folder)
    os.close(fd)
    try:
        with open(tmp, "wb") as fh:  # written as a stream: the process never holds more than one block
            np.lib.format.write_array_header_1_0(fh, {"descr": "<f4", "fortran_order": False,
                                                      "shape": tuple(int(n) for n in shape)})
            for r0 in range(0, shape[0], chunk_rows):
                r1 = min(shape[0], r0 + chunk_rows)
                blk = np.ascontiguousarray(read_rows(r0, r1), dtype="<f4")
                if blk.shape != (r1 - r0, *shape[1:]):
                    raise FersInputError(f"the {what}'s rows {r0}:{r1} read as {blk.shape}", path)
                fh.write(blk.tobytes())
        return np.load(tmp, mmap_mode="r")
    finally:
        os.unlink(tmp)
