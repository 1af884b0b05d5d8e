"""Readers for the non-MATLAB formats: ``.npy``, ENVI (``.hdr`` + data), multi-band GeoTIFF, and
ground-truth images (``.png`` and friends).

Each reader returns arrays as stored (no float conversion) so that ``mmap=True`` can hand back a
memory map; :mod:`fers.io.cube` validates and converts. Cubes are ``(H, W, B)``, bands last.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fers.errors import FersInputError

# The file types FERS reads (one home; the app's upload filter and the HAD100 reader use them too).
ENVI_DATA_EXTS = ("", ".img", ".dat", ".raw", ".bin", ".bsq", ".bil", ".bip", ".IMG", ".DAT")
CUBE_FILE_EXTS = (".mat", ".npy", ".hdr", ".tif", ".tiff")  # the file that names a cube (ENVI: its .hdr)
CUBE_EXTS = CUBE_FILE_EXTS + tuple(e for e in ENVI_DATA_EXTS if e)
GT_EXTS = (".png", ".bmp", ".gif", ".jpg", ".jpeg", ".mat", ".npy", ".tif", ".tiff")


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


def find_envi_pair(path) -> tuple[Path, Path]:
    """``(header, data file)`` for an ENVI image given either the ``.hdr`` or the data file."""
    path = Path(path)
    if path.suffix.lower() == ".hdr":
        hdr = path
        data = None
        for ext in ENVI_DATA_EXTS:
            cand = path.with_suffix(ext)
            if cand != hdr and cand.is_file():
                data = cand
                break
        if data is None:
            raise FersInputError("ENVI header found but no data file beside it (.img/.dat/.raw/none)", path)
        return hdr, data
    for hdr in (Path(str(path) + ".hdr"), path.with_suffix(".hdr"), path.with_suffix(".HDR")):
        if hdr.is_file():
            return hdr, path
    raise FersInputError("no ENVI header (.hdr) beside this data file", path)


def read_envi(path, mmap=False) -> tuple[np.ndarray, np.ndarray | None]:
    """ENVI image -> ``(cube (H, W, B), wavelengths (B,) or None)`` via :func:`spectral.envi.open`."""
    import spectral.io.envi as envi

    hdr, data = find_envi_pair(path)
    try:
        img = envi.open(str(hdr), str(data))
    except Exception as e:
        raise FersInputError(f"cannot read ENVI image: {why(e)}", hdr) from None
    if not hasattr(img, "open_memmap"):
        raise FersInputError("ENVI header describes a spectral library, not an image cube", hdr)
    rows, cols, bands = img.nrows, img.ncols, img.nbands
    expected = int(rows) * int(cols) * int(bands) * int(np.dtype(img.dtype).itemsize) + int(img.offset)
    actual = data.stat().st_size
    if actual < expected:
        raise FersInputError(
            f"ENVI data file is truncated: {actual} bytes, header needs {expected} ({rows}x{cols}x{bands})", data
        )
    try:
        cube = img.open_memmap(interleave="bip", writable=False) if mmap else np.asarray(img.load())
    except Exception as e:
        raise FersInputError(f"cannot read ENVI data: {why(e)}", data) from None
    centers = getattr(getattr(img, "bands", None), "centers", None)
    wl = np.asarray(centers, dtype=np.float64) if centers is not None and len(centers) == bands else None
    return cube, wl


def bands_last(arr: np.ndarray, layout=None, path=None) -> np.ndarray:
    """Move the band axis of a 3-D image last.

    ``layout``: ``"bands_first"`` ``(B, H, W)``, ``"bands_last"`` ``(H, W, B)``, or None to take the
    smallest axis as the band axis (axis 0 or 2; ties keep bands last).
    """
    if layout not in (None, "bands_first", "bands_last"):
        raise FersInputError(f"layout must be 'bands_first' or 'bands_last', not {layout!r}", path)
    if arr.ndim != 3:
        return arr
    if layout == "bands_first":
        return np.moveaxis(arr, 0, -1)
    if layout == "bands_last":
        return arr
    s = arr.shape
    if s[0] < s[2] and s[0] <= s[1]:
        return np.moveaxis(arr, 0, -1)
    if s[1] < s[0] and s[1] < s[2]:
        raise FersInputError(f"cannot tell the band axis of shape {s}; pass layout='bands_first' or 'bands_last'",
                             path)
    return arr


def read_tiff(path, mmap=False, layout=None) -> np.ndarray:
    """Multi-band (Geo)TIFF -> ``(H, W, B)`` (band axis detected, see :func:`bands_last`)."""
    import tifffile

    arr = None
    try:
        if mmap:
            try:
                arr = tifffile.memmap(str(path), mode="r")
            except Exception:
                arr = None  # compressed or tiled: fall back to a normal read
        if arr is None:
            arr = tifffile.imread(str(path))
    except Exception as e:
        raise FersInputError(f"cannot read TIFF (corrupt or truncated): {why(e)}", path) from None
    arr = np.asarray(arr) if not isinstance(arr, np.memmap) else arr
    while arr.ndim > 3 and 1 in arr.shape:  # e.g. (1, B, H, W) pages/samples axes
        arr = arr.reshape(arr.shape[: arr.shape.index(1)] + arr.shape[arr.shape.index(1) + 1 :])
    return bands_last(arr, layout, path)


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
