"""What every reader shares: the file types FERS reads, ``.npy`` and ground-truth images (``.png``
and friends), one-line error text, header no-data values. ENVI is read in :mod:`fers.io.envi`,
(Geo)TIFF in :mod:`fers.io.tiff`, ``.mat`` in :mod:`fers.io.mat`, products in :mod:`fers.io.products`.

Each reader returns arrays as stored (no float conversion) so that ``mmap=True`` can hand back a
memory map; :mod:`fers.io.cube` validates and converts. Cubes are ``(H, W, B)``, bands last.
"""

from __future__ import annotations

import numpy as np

from fers.errors import FersInputError

# The file types FERS reads (one home; the app's upload filter and the HAD100 reader use them too).
ENVI_DATA_EXTS = ("", ".img", ".dat", ".raw", ".bin", ".bsq", ".bil", ".bip", ".IMG", ".DAT")
# The cube formats FERS reads, in the words of help texts and messages, each with the extensions of the
# file that names the cube (ENVI: its .hdr; EMIT .nc and PRISMA .he5: fers.io.products; an EnMAP L2A
# product is a GeoTIFF whose METADATA.XML is found beside it, so it adds no extension of its own).
CUBE_FORMATS = (
    ("MATLAB .mat", (".mat",)),
    ("NumPy .npy", (".npy",)),
    ("ENVI .hdr + data file", (".hdr",)),
    ("GeoTIFF .tif/.tiff", (".tif", ".tiff")),
    ("EnMAP L2A SPECTRAL_IMAGE.TIF + METADATA.XML", ()),
    ("EMIT L2A/L1B .nc", (".nc",)),
    ("PRISMA L2 .he5", (".he5",)),
)
CUBE_FILE_EXTS = tuple(e for _, exts in CUBE_FORMATS for e in exts)
CUBE_EXTS = CUBE_FILE_EXTS + tuple(e for e in ENVI_DATA_EXTS if e)
GT_EXTS = (".png", ".bmp", ".gif", ".jpg", ".jpeg", ".mat", ".npy", ".tif", ".tiff")


def formats_text() -> str:
    """Every cube format FERS reads, comma-separated (the CLI's help, the readers' refusals)."""
    return ", ".join(name for name, _ in CUBE_FORMATS)


def why(e: BaseException) -> str:
    msg = " ".join(str(e).split())
    return f"{type(e).__name__}: {msg}" if msg else type(e).__name__


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
            raise FersInputError("the .npy holds Python objects (pickled); only plain numeric arrays are read",
                                 path) from None
        raise FersInputError(f"cannot read .npy (corrupt or truncated): {why(e)}", path) from None
    except Exception as e:
        raise FersInputError(f"cannot read .npy (corrupt or truncated): {why(e)}", path) from None
    return arr


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
