"""Load a hyperspectral scene from any supported file in one call.

``load_cube(path)`` -> :class:`Scene` with ``cube (H, W, B)`` float32 (bands last), optional ground
truth ``gt (H, W)`` bool and ``wavelengths (B,)``.

The file's reader comes from :mod:`fers.io.registry` (``.mat``, ``.npy``, ENVI, (Geo)TIFF, EnMAP L2A,
EMIT ``.nc``, PRISMA ``.he5``; the table in docs/formats.md is written from it): it claims the file,
reads it as stored, and this module validates, masks no-data, converts to float32 and sorts bands.

Ground truth (``gt_path``): ``.png`` (any channel layout; mask in channel 1 for RGB, as HAD100),
``.mat``, ``.npy``, ``.tif``; binarised as ``> 0``. Every failure is a one-line
:class:`~fers.errors.FersInputError` naming the file.

No-data pixels (a NaN/Inf band, or a band equal to the no-data value: ``nodata=``, else the ENVI
``data ignore value`` or the GeoTIFF ``GDAL_NODATA`` tag) are counted in ``Scene.info["masked_pixels"]``
and set to NaN in an in-memory cube; a file with no valid pixel is refused. See :mod:`fers.nodata`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import fers.io.formats as fmt
import fers.io.mat as io_mat
from fers.errors import FersInputError
from fers.io import registry
from fers.io.bands_in import (
    apply_scale,
    describe_scale,
    scale_offset,
    sidecar_wavelengths,
    sort_bands,
    uniform_scale,
    wavelength_order,
)
from fers.io.formats import GT_EXTS, TIFF_EXTS
from fers.io.georef import check_georef
from fers.io.mat import list_mat_keys  # noqa: F401  (public: the app's key chooser)
from fers.io.npy import read_npy
from fers.io.registry import Reader, ReadOptions
from fers.nodata import describe, empty_bands, release_for, scan_cube

# reader meta keys that become Scene fields (every other key is reported in Scene.info)
SCENE_META = ("nodata", "nodata_source", "wavelengths", "fwhm", "bad_bands", "georef")


@dataclass
class Scene:
    """A loaded scene (what :func:`load_cube` returns).

    Attributes
    ----------
    cube : numpy.ndarray
        ``(H, W, B)`` float32 (a read-only memmap in the stored dtype when loaded with ``mmap=True``).
    gt : numpy.ndarray or None
        ``(H, W)`` bool ground truth.
    wavelengths : numpy.ndarray or None
        ``(B,)`` band centres in nm.
    name, path
        The scene's name (the file stem) and file.
    info : dict
        How the file was read (``format``, ``source_dtype``, ``masked_pixels``, ``nodata`` and
        ``nodata_source``; ENVI ``byte_order``, ``interleave``, ``data_type``; TIFF ``layout``; ``.mat``
        ``key``, ``gt_key``).
    nodata : float or None
        The no-data value in effect; pass it on as ``fers.detect(..., nodata=scene.nodata)`` (an
        in-memory cube already has NaN there, a memory map does not).
    bad_bands : numpy.ndarray or None
        ``(B,)`` bool, True where the file marks the band bad (ENVI ``bbl`` 0, EMIT
        ``good_wavelengths`` 0, ...).
    fwhm : numpy.ndarray or None
        ``(B,)`` band widths in nm.
    georef : fers.io.georef.Georef or None
        Map coordinates (None: the output maps carry none).
    """

    cube: np.ndarray
    gt: np.ndarray | None
    wavelengths: np.ndarray | None
    name: str
    path: Path
    info: dict = field(default_factory=dict)
    nodata: float | None = None
    bad_bands: np.ndarray | None = None
    fwhm: np.ndarray | None = None
    georef: object | None = None

    @property
    def shape(self) -> tuple:
        return tuple(self.cube.shape)


def check_size(path, max_bytes=None) -> int:
    """File size in bytes; FersInputError when it exceeds ``max_bytes`` (None = no limit)."""
    try:
        size = os.path.getsize(path)
    except OSError as e:
        raise FersInputError(f"cannot open file: {e.strerror or e}", path) from None
    if max_bytes is not None and size > max_bytes:
        raise FersInputError(f"file too large: {size / 2**20:.1f} MiB, the limit is {max_bytes / 2**20:.1f} MiB", path)
    return size


_check_array_bytes = fmt.check_array_bytes


def validate_cube(cube: np.ndarray, path=None) -> None:
    """Raise FersInputError unless ``cube`` is a real numeric ``(H, W, B)`` array with B >= 2 (NaN/Inf
    pixels are allowed: they are no-data, see :mod:`fers.nodata`)."""
    if not isinstance(cube, np.ndarray):
        raise FersInputError(f"expected an array, got {type(cube).__name__}", path)
    if cube.ndim != 3:
        raise FersInputError(f"cube has {cube.ndim} dimension(s) {tuple(cube.shape)}; expected 3 (H, W, B)", path)
    if cube.dtype.kind not in "biuf":
        raise FersInputError(f"cube has non-numeric or complex dtype {cube.dtype}", path)
    h, w, b = cube.shape
    if h < 1 or w < 1:
        raise FersInputError(f"cube is empty: shape {tuple(cube.shape)}", path)
    if b < 2:
        raise FersInputError(f"cube has {b} band(s); at least 2 are needed (shape {tuple(cube.shape)})", path)


def _to_float32(cube: np.ndarray, path) -> np.ndarray:
    """``cube`` as C-contiguous float32; refuses finite values beyond float32's range (they would
    become Inf, i.e. no-data)."""
    copy = True if isinstance(cube, np.memmap) else None  # a (read-only) memory map is always copied
    with np.errstate(over="ignore"):
        out = np.array(cube, dtype=np.float32, order="C", copy=copy)
    if cube.dtype.kind == "f" and cube.dtype.itemsize > 4:
        over = np.isinf(out) & np.isfinite(cube)
        if over.any():
            raise FersInputError(f"cube (converted to float32) has {int(over.sum())} values beyond float32's range "
                                 "(about 3.4e38)", path)
    return out


def _nodata_in_effect(nodata, file_nodata, source) -> tuple[float | None, str]:
    """``(value, where it came from)``: the caller's ``nodata`` wins over the file's own value
    (``source``: the reader's words for where it found it)."""
    if nodata is not None:
        v = float(nodata)
        return (None if np.isnan(v) else v), "given"
    if file_nodata is not None:
        return file_nodata, source or "the file's no-data value"
    return None, ""


def load_cube(path, key=None, gt_path=None, gt_key=None, layout=None, mmap=False, max_bytes=None,
              nodata=None) -> Scene:
    """Read a cube file (any reader of :mod:`fers.io.registry`) -> :class:`Scene` with ``cube (H, W, B)``.

    Parameters
    ----------
    path : str or os.PathLike
        The cube file: any format of the reader registry (``fers.io.formats_text()``).
    key, gt_key : str, optional
        Variable names inside a ``.mat`` (auto-detected when None).
    gt_path : str or os.PathLike, optional
        A separate ground-truth file (``.png``/``.mat``/``.npy``/``.tif``); for ``.mat`` cubes an
        in-file GT is used when none is given.
    layout : {"bands_first", "bands_last"}, optional
        TIFF only: where the band axis is (see :func:`fers.io.tiff.tiff_band_axis`).
    mmap : bool, optional
        Memory-map ``.npy``/ENVI/TIFF instead of loading: the cube then keeps its stored dtype; with a
        no-data value it is read into memory unless its float32 copy exceeds
        ``fers.memmap.LARGE_MEMMAP_BYTES``.
    max_bytes : int, optional
        Refuse larger files/arrays.
    nodata : float, optional
        The no-data value (overrides the file's own); masked pixels become NaN.

    Returns
    -------
    Scene
        ``cube (H, W, B)`` float32 (or the memory map), ``gt (H, W)`` bool or None, the band metadata.

    Raises
    ------
    FersInputError
        The file is missing, unreadable or not a valid cube (one line naming it).
    """
    path = Path(path)
    reader = _reader_of(path)
    _check_options(reader, path, key=key, layout=layout)
    check_size(path, max_bytes)
    opts = ReadOptions(mmap=mmap, max_bytes=max_bytes, key=key, layout=layout, gt_key=gt_key,
                       want_gt=gt_path is None)
    cube, meta = reader.read(path, opts)
    gt = _binarise(meta["gt"], cube.shape[:2], path, meta["gt_key"]) if "gt" in meta else None
    info, wl = _describe(reader, path, meta)
    validate_cube(cube, path)
    info["source_dtype"] = str(cube.dtype)
    if wl is None and reader.sidecar:
        wl = sidecar_wavelengths(path, cube.shape[2])
        if wl is not None:
            info["wavelength_source"] = f"sidecar {path.stem}.wavelengths.npy"
    value, source = _nodata_in_effect(nodata, meta.get("nodata"), meta.get("nodata_source"))
    bad, scan = _scan(cube, value, meta.get("bad_bands"), info, path)
    info.update(nodata=value, masked_pixels=scan.n_invalid if scan is not None else 0)
    if source:
        info["nodata_source"] = source
    cube, wl, bad = _finish_cube(cube, wl, bad, scan, value, meta, info, mmap, max_bytes, path)
    if gt_path is not None:
        gt = load_gt(gt_path, shape=cube.shape[:2], key=gt_key)
    return Scene(cube=cube, gt=gt, wavelengths=wl, name=path.stem, path=path, info=info, nodata=value,
                 bad_bands=bad, fwhm=meta.get("fwhm"), georef=_georef(meta, cube, info))


def _reader_of(path: Path) -> Reader:
    """The reader of an existing cube file; one-line refusals for a missing file, a folder or a file
    type no reader takes."""
    try:
        if not path.exists():
            raise FersInputError("file not found", path)
    except OSError as e:  # e.g. "File name too long"
        raise FersInputError(f"cannot open file: {e.strerror or e}", path) from None
    if path.is_dir():
        raise FersInputError("is a folder, not a cube file", path)
    reader = registry.reader_for(path)
    if reader is None:
        ext = path.suffix.lower()
        raise FersInputError(
            f"unknown cube file type {ext or '(no extension)'!r}; supported: {fmt.formats_text()}", path)
    return reader


def _check_options(reader: Reader, path: Path, **given) -> None:
    """Refuse a reader option (``key``, ``layout``) given for a file whose reader does not take it."""
    for option, value in given.items():
        if value is not None and option not in reader.options:
            nouns = " or ".join(dict.fromkeys(r.noun or r.title for r in registry.taking(option)))
            why = " (other formats record their band layout)" if option == "layout" else ""
            raise FersInputError(f"{option}={value!r} only applies to {nouns} files{why}", path)


def _describe(reader: Reader, path: Path, meta: dict) -> tuple[dict, np.ndarray | None]:
    """``(Scene.info as read, wavelengths or None)``: the format, where the wavelengths came from,
    and every key of the reader's ``meta`` that is not a Scene field."""
    info: dict = {"format": meta.get("format") or reader.format or path.suffix.lower().lstrip(".")}
    wl = meta.get("wavelengths")
    if wl is not None:
        info["wavelength_source"] = meta.get("wavelength_source") or f"the file's band table ({info['format']})"
    skip = SCENE_META + ("scale", "offset", "wavelength_source", "format", "gt")
    info.update({k: v for k, v in meta.items() if k not in skip})
    return info, wl


def _scan(cube, value, bad, info: dict, path):
    """``(bad bands (B,) bool or None, no-data scan or None)``: bands of fill only become bad bands;
    the no-data pixels are found on the bands that are not bad (:func:`fers.nodata.scan_cube`). A
    file with nothing but no-data is refused."""
    bad = None if bad is None or np.size(bad) != cube.shape[2] else np.asarray(bad, dtype=bool).ravel()
    release = release_for(cube)
    empty = empty_bands(cube, value, release=release)
    if empty.all():
        raise FersInputError(f"every pixel is no-data ({describe(value)}); there is nothing to detect", path)
    if empty.any():  # a band of fill is a bad band, not a reason to mask every pixel
        info["empty_bands"] = [int(i) + 1 for i in np.flatnonzero(empty)]
        _note(info, f"band(s) {info['empty_bands']} hold only no-data ({describe(value)}): bad bands")
        bad = empty if bad is None else (bad | empty)
    used = ~bad if bad is not None and not bad.all() else np.ones(cube.shape[2], dtype=bool)
    if cube.dtype.kind != "f" and value is None:
        return bad, None  # integers without a no-data value cannot have masked pixels: no pass over the data
    from fers.bands import take_bands

    part = cube if used.all() else take_bands(cube, tuple(int(i) for i in np.flatnonzero(used)), lazy=True)
    scan = scan_cube(part, value, release=release)
    if scan.n_valid == 0:
        raise FersInputError(f"every pixel is no-data ({describe(value)}) in the {int(used.sum())} bands that "
                             "are not bad; there is nothing to detect", path)
    return bad, scan


def _finish_cube(cube, wl, bad, scan, value, meta, info, mmap, max_bytes, path):
    """``(cube, wavelengths, bad bands)`` as the Scene holds them: kept a memory map where that
    changes nothing, else float32 in memory with NaN at no-data and the file's band scales applied;
    bands sorted by wavelength when the file stores them in another order."""
    masked = info["masked_pixels"]
    scaling = scale_offset(meta.get("scale"), meta.get("offset"), cube.shape[2])
    order = wavelength_order(wl) if wl is not None else None
    keep_mmap = mmap and isinstance(cube, np.memmap) and not (masked and value is not None and _fits_in_memory(cube))
    if keep_mmap and scaling is not None and not uniform_scale(*scaling):
        keep_mmap = False  # per-band scales change the result: applied in memory
    if keep_mmap and order is not None and not np.array_equal(order, np.arange(len(order))[::-1]):
        keep_mmap = False  # a shuffled band order cannot stay a memory map
    if not keep_mmap:
        _check_array_bytes(cube.shape, 4, max_bytes, path)
        cube = _to_nan_float32(cube, value, None if not masked else scan.valid, path)
        if scaling is not None:
            apply_scale(cube, *scaling)
    if scaling is not None:
        info["scaling"] = describe_scale(*scaling, meta.get("scale_source", "the file's band scale/offset"))
        if keep_mmap:
            info["scaling"] += ("; the memory map keeps the stored values (one scale for every band leaves the "
                                "maps unchanged)")
    if order is None:
        return cube, wl, bad
    if meta.get("fwhm") is not None:
        meta["fwhm"] = np.asarray(meta["fwhm"])[order]
    info["band_order"] = "sorted by wavelength (the file stores them in another order)"
    _note(info, "bands sorted by ascending wavelength (the file stores them in another order)")
    return (sort_bands(cube, order), np.asarray(wl, dtype=np.float64)[order],
            None if bad is None else bad[order])


def _georef(meta: dict, cube, info: dict):
    """The reader's georeference, checked against the cube's grid (dropped, with a note, when it does
    not fit: the outputs are then in pixel coordinates)."""
    georef = meta.get("georef")
    if georef is None:
        return None
    georef, problem = check_georef(georef, cube.shape[0], cube.shape[1])
    if problem:
        info["georef_dropped"] = problem
        _note(info, f"georeference dropped ({problem}): outputs in pixel coordinates")
    return georef


def _note(info: dict, text: str) -> None:
    info["metadata_notes"] = list(info.get("metadata_notes", [])) + [text]


def _to_nan_float32(cube, value, valid, path) -> np.ndarray:
    """``cube (H, W, B)`` as C-contiguous float32, NaN (the in-memory no-data marker) at the pixels
    where ``valid (H, W)`` is False (no-data in a band that is not bad) and at any other value
    equal to ``value`` (fill inside a bad band, masked only if that band is used)."""
    out = _to_float32(cube, path)
    if valid is not None:
        out[~valid] = np.nan
    if value is not None:
        step = max(1, (64 * 2**20) // max(1, cube.shape[1] * cube.shape[2] * cube.dtype.itemsize))
        for r0 in range(0, cube.shape[0], step):
            src = np.asarray(cube[r0 : r0 + step])
            out[r0 : r0 + step][src == value] = np.nan  # compared in the stored precision
    return out


def _fits_in_memory(cube) -> bool:
    """True when a memory-mapped cube's float32 copy is small enough that :func:`fers.detect` would
    read it into memory anyway (so its no-data pixels can be set to NaN here)."""
    from fers.memmap import LARGE_MEMMAP_BYTES

    return int(np.prod(cube.shape, dtype=np.int64)) * 4 <= LARGE_MEMMAP_BYTES


def _binarise(arr: np.ndarray, shape, path, what="ground truth") -> np.ndarray:
    a = fmt.mask_from_channels(arr, path)  # always (H, W)
    if a.dtype.kind not in "biuf":
        raise FersInputError(f"{what} is not numeric (dtype {a.dtype})", path)
    if shape is not None and tuple(a.shape) != tuple(shape):
        raise FersInputError(f"{what} shape {tuple(a.shape)} does not match the cube's (H, W) {tuple(shape)}", path)
    return np.nan_to_num(a, nan=0.0) > 0 if a.dtype.kind == "f" else a > 0


def load_gt(path, shape=None, key=None) -> np.ndarray:
    """Ground-truth file -> ``(H, W)`` bool (``> 0``); ``shape`` = the cube's ``(H, W)`` to check against."""
    path = Path(path)
    if not path.is_file():
        raise FersInputError("ground-truth file not found", path)
    ext = path.suffix.lower()
    if ext not in GT_EXTS:
        raise FersInputError(f"unknown ground-truth file type {ext!r}; supported: .png, .mat, .npy, .tif", path)
    if ext == ".mat":
        keys = io_mat.list_mat_keys(path)
        key = io_mat.choose_gt_key(path, keys, shape, gt_key=key)
        if key is None:
            raise FersInputError(f"no 2-D array{'' if shape is None else f' of shape {tuple(shape)}'} in the file; "
                                 f"variables: {io_mat.format_keys(keys)}", path)
        arr = io_mat.read_mat_arrays(path, [key])[key]
    elif ext == ".npy":
        arr = read_npy(path)
    elif ext in TIFF_EXTS:
        import tifffile

        try:
            arr = tifffile.imread(str(path))
        except Exception as e:
            raise FersInputError(f"cannot read TIFF (corrupt or truncated): {fmt.why(e)}", path) from None
    else:
        arr = fmt.read_image(path)
    return _binarise(arr, shape, path)
