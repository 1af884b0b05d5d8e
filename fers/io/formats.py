"""What every reader shares: the ENVI data-file and ground-truth file types, the output file types,
one-line error text, header no-data values, images. The cube formats themselves are the readers of
:mod:`fers.io.registry` (ENVI in :mod:`fers.io.envi`, (Geo)TIFF in :mod:`fers.io.tiff`, ``.mat`` in
:mod:`fers.io.mat`, ``.npy`` in :mod:`fers.io.npy`, products in :mod:`fers.io.products`);
``CUBE_FORMATS``, ``CUBE_FILE_EXTS`` and ``CUBE_EXTS`` here are read from it when asked for.

Each reader returns arrays as stored (no float conversion) so that ``mmap=True`` can hand back a
memory map; :mod:`fers.io.cube` validates and converts. Cubes are ``(H, W, B)``, bands last.
"""

from __future__ import annotations

import numpy as np

from fers.errors import FersInputError
from fers.io import registry

# The data files of an ENVI image (the .hdr names the cube; "" = no extension).
ENVI_DATA_EXTS = ("", ".img", ".dat", ".raw", ".bin", ".bsq", ".bil", ".bip", ".IMG", ".DAT")
TIFF_EXTS = (".tif", ".tiff")
GT_EXTS = (".png", ".bmp", ".gif", ".jpg", ".jpeg", ".mat", ".npy", *TIFF_EXTS)
# What FERS writes, by the output path's extension (fers.outputs): anything else is an .npz.
OUTPUT_EXTS = {"geotiff": TIFF_EXTS, "geojson": (".geojson",)}
GEOTIFF_EXT = TIFF_EXTS[0]  # the GeoTIFF written beside a batch output


def __getattr__(name):  # the registry's view, current when asked for (a reader may be added later)
    if name == "CUBE_FORMATS":
        return tuple((r.title, r.extensions) for r in registry.readers())
    if name == "CUBE_FILE_EXTS":
        return registry.cube_file_exts()
    if name == "CUBE_EXTS":
        return registry.cube_exts()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def formats_text() -> str:
    """Every cube format FERS reads, comma-separated (the CLI's help, the readers' refusals, the app)."""
    return registry.formats_text()


def gt_formats_text() -> str:
    """The ground-truth file types, for refusals (``.png, .bmp, ...``)."""
    return ", ".join(GT_EXTS)


def check_array_bytes(shape, itemsize, max_bytes, path) -> None:
    """Refuse an array ``shape`` of at least 4 bytes per value (its float32 copy) above ``max_bytes``."""
    need = int(np.prod(shape, dtype=np.int64)) * max(int(itemsize), 4)
    if max_bytes is not None and need > max_bytes:
        raise FersInputError(
            f"array {tuple(shape)} needs {need / 2**20:.1f} MiB in memory, the limit is {max_bytes / 2**20:.1f} MiB",
            path,
        )


def why(e: BaseException) -> str:
    msg = " ".join(str(e).split())
    return f"{type(e).__name__}: {msg}" if msg else type(e).__name__


def nodata_value(text, path, what: str):
    """A no-data value from a header field (None when absent or NaN: NaN pixels are masked anyway)."""
    if text is None or not str(text).strip():
        return None
    try:
        v = float(str(text).strip())
    except ValueError:
        raise FersInputError(f"{what} {str(text).strip()!r} is not a number", path) from None
    return None if np.isnan(v) else v


def read_image(path) -> np.ndarray:
    """A 2-D label image (PNG, BMP, JPEG, ...) via Pillow -> ``(H, W)`` or ``(H, W, C)`` array."""
    from PIL import Image

    try:
        with Image.open(str(path)) as im:
            im.load()
            if im.mode == "P":
                im = im.convert("RGBA" if "transparency" in im.info else "RGB")
            return np.asarray(im)
    except Exception as e:
        raise FersInputError(f"cannot read image (corrupt, truncated or not an image): {why(e)}", path) from None


def mask_from_channels(arr: np.ndarray, path=None) -> np.ndarray:
    """Reduce a label image to ``(H, W)`` values.

    ``(H, W)``: as is. ``(H, W, C)`` with C >= 3 (RGB/RGBA): channel 1 (HAD100 keeps the mask in the
    second channel); if channel 1 is all zero, any non-zero colour channel. C = 1 or 2 (L, LA):
    channel 0. A leading singleton axis is dropped.
    """
    a = np.asarray(arr)
    if a.ndim == 3 and a.shape[0] == 1:
        a = a[0]
    if a.ndim == 2:
        return a
    if a.ndim != 3:
        raise FersInputError(f"ground truth has shape {a.shape}; expected (H, W) or (H, W, channels)", path)
    c = a.shape[2]
    if c in (1, 2):
        return a[..., 0]
    if c in (3, 4):
        g = a[..., 1]
        if np.any(g):
            return g
        return np.any(a[..., :3] != 0, axis=2)
    raise FersInputError(f"ground truth has shape {a.shape}; expected (H, W) or (H, W, channels)", path)
