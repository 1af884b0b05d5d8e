"""Load a hyperspectral scene from any supported file in one call.

``load_cube(path)`` -> :class:`Scene` with ``cube (H, W, B)`` float32 (bands last), optional ground
truth ``gt (H, W)`` bool and ``wavelengths (B,)``.

| extension | reader | notes |
|---|---|---|
| ``.mat`` | scipy.io (v4-v7), h5py (v7.3) | cube = the 3-D array, GT = 2-D array of the same (H, W) |
| ``.npy`` | ``np.load(allow_pickle=False)`` | bands last; ``mmap=True`` memory-maps |
| ``.hdr`` / ENVI data file | ``spectral.envi.open`` | any interleave; wavelengths from the header |
| ``.tif`` / ``.tiff`` | tifffile | band axis = smallest axis unless ``layout`` is given |

Ground truth (``gt_path``): ``.png`` (any channel layout; mask in channel 1 for RGB, as HAD100),
``.mat``, ``.npy``, ``.tif``; binarised as ``> 0``. Every failure is a one-line
:class:`~fers.errors.FersInputError` naming the file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import fers.io.formats as fmt
import fers.io.mat as io_mat
from fers.budget import release_pages
from fers.errors import FersInputError
from fers.io.formats import CUBE_EXTS, GT_EXTS
from fers.io.mat import list_mat_keys  # noqa: F401  (public: the app's key chooser)
from fers.progress import bar

FINITE_CHUNK_BYTES = 64 * 2**20


@dataclass
class Scene:
    """A loaded scene: ``cube (H, W, B)`` float32 (a read-only memmap in the stored dtype when
    loaded with ``mmap=True``), ``gt (H, W)`` bool or None, ``wavelengths (B,)`` or None."""

    cube: np.ndarray
    gt: np.ndarray | None
    wavelengths: np.ndarray | None
    name: str
    path: Path
    info: dict = field(default_factory=dict)

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


def _check_array_bytes(shape, itemsize, max_bytes, path):
    need = int(np.prod(shape, dtype=np.int64)) * max(int(itemsize), 4)
    if max_bytes is not None and need > max_bytes:
        raise FersInputError(
            f"array {tuple(shape)} needs {need / 2**20:.1f} MiB in memory, the limit is {max_bytes / 2**20:.1f} MiB",
            path,
        )


def check_finite(arr: np.ndarray, path=None, what="cube") -> None:
    """Raise when a float array holds NaN/Inf; scans ~64 MiB row blocks so a memmap is never copied whole."""
    if arr.dtype.kind not in "fc":
        return
    rows = arr.shape[0] if arr.ndim else 1
    per_row = max(int(arr[:1].nbytes), 1) if arr.ndim else arr.nbytes
    step = max(1, FINITE_CHUNK_BYTES // per_row)
    for r0 in bar(range(0, rows, step), desc="checking values", unit="block"):
        block = arr[r0 : r0 + step] if arr.ndim else arr
        finite = np.isfinite(block).all()
        release_pages(arr)  # a memory-mapped cube is scanned, not kept resident
        if not finite:
            bad = int(np.count_nonzero(~np.isfinite(np.asarray(block))))
            raise FersInputError(f"{what} contains NaN or Inf values ({bad}+ entries, first in rows {r0}..)", path)


def validate_cube(cube: np.ndarray, path=None) -> None:
    """Raise FersInputError unless ``cube`` is a finite numeric ``(H, W, B)`` array with B >= 2."""
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
    check_finite(cube, path)


def _to_float32(cube: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):  # overflow to Inf is reported by check_finite
        return np.ascontiguousarray(cube, dtype=np.float32)


def _sibling_wavelengths(path: Path, n_bands: int):
    """``<stem>.wavelengths.npy`` beside a cube file, when it has ``n_bands`` values."""
    cand = path.with_name(path.stem + ".wavelengths.npy")
    if not cand.is_file():
        return None
    wl = fmt.read_npy(cand).astype(np.float64).ravel()
    return wl if wl.size == n_bands else None


def load_cube(path, key=None, gt_path=None, gt_key=None, layout=None, mmap=False, max_bytes=None) -> Scene:
    """Read a cube file (see module table) -> :class:`Scene` with ``cube (H, W, B)``.

    key/gt_key: variable names inside a ``.mat`` (auto-detected when None). gt_path: a separate
    ground-truth file (``.png``/``.mat``/``.npy``/``.tif``); for ``.mat`` cubes an in-file GT is used
    when no gt_path is given. layout: TIFF band axis. mmap: memory-map ``.npy``/ENVI/TIFF instead of
    loading (the cube then keeps its stored dtype). max_bytes: refuse larger files/arrays.
    """
    path = Path(path)
    if not path.exists():
        raise FersInputError("file not found", path)
    if path.is_dir():
        raise FersInputError("is a folder, not a cube file", path)
    ext = path.suffix.lower()
    if ext not in CUBE_EXTS and not (ext == "" and Path(str(path) + ".hdr").is_file()):
        raise FersInputError(
            f"unknown cube file type {ext or '(no extension)'!r}; supported: .mat, .npy, ENVI .hdr + data, .tif", path
        )
    if ext != ".mat" and key is not None:
        raise FersInputError(f"key={key!r} only applies to .mat files", path)
    check_size(path, max_bytes)
    gt = None
    wl = None
    info: dict = {"format": ext.lstrip(".") or "envi"}
    if ext == ".mat":
        keys = io_mat.list_mat_keys(path)
        cube_key, in_gt, wl_key = io_mat.choose_keys(path, keys, key, gt_key if gt_path is None else None)
        shapes = {k: s for k, s, _ in keys}
        _check_array_bytes(shapes[cube_key], 4, max_bytes, path)
        want = [cube_key] + ([in_gt] if gt_path is None and in_gt else []) + ([wl_key] if wl_key else [])
        arrays = io_mat.read_mat_arrays(path, want)
        cube = arrays[cube_key]
        info.update(key=cube_key, format="mat-v7.3" if io_mat.is_hdf5_mat(path) else "mat")
        if gt_path is None and in_gt:
            gt = _binarise(arrays[in_gt], cube.shape[:2], path, in_gt)
            info["gt_key"] = in_gt
        if wl_key:
            wl = arrays[wl_key].astype(np.float64).ravel()
    elif ext == ".npy":
        cube = fmt.read_npy(path, mmap=mmap)
    elif ext in (".tif", ".tiff"):
        cube = fmt.read_tiff(path, mmap=mmap, layout=layout)
    else:
        cube, wl = fmt.read_envi(path, mmap=mmap)
        info["format"] = "envi"
    validate_cube(cube, path)
    info["source_dtype"] = str(cube.dtype)
    if not (mmap and isinstance(cube, np.memmap)):
        _check_array_bytes(cube.shape, 4, max_bytes, path)
        wide_float = cube.dtype.kind == "f" and cube.dtype.itemsize > 4
        cube = _to_float32(cube)
        if wide_float:  # values beyond float32's range would become Inf
            check_finite(cube, path, "cube (converted to float32)")
    if wl is None and ext == ".npy":
        wl = _sibling_wavelengths(path, cube.shape[2])
    if gt_path is not None:
        gt = load_gt(gt_path, shape=cube.shape[:2], key=gt_key)
    name = path.stem if ext != ".hdr" else path.with_suffix("").name
    return Scene(cube=cube, gt=gt, wavelengths=wl, name=name, path=path, info=info)


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
        arr = fmt.read_npy(path)
    elif ext in (".tif", ".tiff"):
        import tifffile

        try:
            arr = tifffile.imread(str(path))
        except Exception as e:
            raise FersInputError(f"cannot read TIFF (corrupt or truncated): {fmt.why(e)}", path) from None
    else:
        arr = fmt.read_image(path)
    return _binarise(arr, shape, path)
