"""MATLAB ``.mat`` reading: v4/v5/v7 through :mod:`scipy.io`, v7.3 (HDF5) through :mod:`h5py`.

Cubes come back ``(H, W, B)`` as MATLAB shows them. HDF5 stores MATLAB's column-major arrays with
the axes reversed, so every v7.3 array is transposed (``arr.T``) on reading.

Key choice: the cube is the only 3-D numeric array (or the one named by ``key``); the ground truth
is the 2-D array whose shape is the cube's ``(H, W)`` (ABU files use ``data`` / ``map``). When that
is ambiguous a :class:`~fers.errors.FersInputError` lists the candidates and asks for a key.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from fers.errors import FersInputError
from fers.io.formats import check_array_bytes, why
from fers.io.header import Header
from fers.io.registry import Reader

# Names that mark an array as the anomaly map when several 2-D arrays fit the cube's (H, W).
GT_NAMES = ("map", "gt", "groundtruth", "ground_truth", "mask", "hsi_gt", "label", "labels", "anomaly_map")
WAVELENGTH_NAMES = ("wavelength", "wavelengths", "wl", "wavelength_nm", "lambda", "centers")

_NUMERIC_KINDS = "biuf"


_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def is_hdf5_mat(path) -> bool:
    """True for a v7.3 (HDF5) MAT-file; v7.3 files carry a 512-byte userblock before the HDF5 data.

    Reads the HDF5 signature where the format allows it (offset 0, 512, 1024, 2048, ...), as
    ``h5py.is_hdf5`` does, without importing h5py (a v5 file is then read with no h5py at all)."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            offset = 0
            while offset + 8 <= size:
                f.seek(offset)
                if f.read(8) == _HDF5_SIGNATURE:
                    return True
                offset = 512 if offset == 0 else offset * 2
    except OSError:
        return False
    return False


def list_mat_keys(path) -> list[tuple[str, tuple, str]]:
    """``[(key, shape, dtype), ...]`` of the variables in a ``.mat`` file, without loading them.

    Shapes are as MATLAB shows them (v7.3 shapes are reversed back). ``dtype`` is a NumPy dtype name
    for v7.3 files and the MATLAB class (``uint16``, ``double``, ``logical``, ...) for v5 files.
    """
    path = Path(path)
    if is_hdf5_mat(path):
        import h5py

        out = []
        try:
            with h5py.File(path, "r") as f:
                for name, obj in f.items():
                    if isinstance(obj, h5py.Dataset) and not name.startswith("#"):
                        dt = obj.dtype
                        cls = obj.attrs.get("MATLAB_class", None)
                        if isinstance(cls, bytes):
                            cls = cls.decode("ascii", "replace")
                        label = "logical" if cls == "logical" else str(dt)
                        out.append((name, tuple(reversed(obj.shape)), label))
        except Exception as e:  # corrupt HDF5 structure
            raise FersInputError(f"cannot read MATLAB v7.3 (HDF5) file: {type(e).__name__}: {e}", path) from None
        return out
    import scipy.io

    try:
        info = scipy.io.whosmat(str(path))
    except Exception as e:
        raise FersInputError(f"cannot read MATLAB file (corrupt, truncated or not a .mat): {why(e)}", path) from None
    return [(name, tuple(int(s) for s in shape), str(cls)) for name, shape, cls in info]


_NUMERIC_CLASSES = {
    "double", "single", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64", "logical",
}


def is_numeric_label(label: str) -> bool:
    if label in _NUMERIC_CLASSES:
        return True
    try:
        return np.dtype(label).kind in _NUMERIC_KINDS
    except TypeError:
        return False


def choose_keys(path, keys, key=None, gt_key=None) -> tuple[str, str | None, str | None]:
    """Pick ``(cube_key, gt_key or None, wavelength_key or None)`` from :func:`list_mat_keys` output."""
    numeric = [(k, s, d) for k, s, d in keys if is_numeric_label(d)]
    names = [k for k, _, _ in keys]
    if key is not None:
        if key not in names:
            raise FersInputError(f"no variable {key!r} in the file; variables: {format_keys(keys)}", path)
        shape = dict((k, s) for k, s, _ in keys)[key]
        if len(shape) != 3:
            raise FersInputError(f"variable {key!r} has shape {shape}; a cube needs 3 dimensions (H, W, B)", path)
        cube_key = key
    else:
        cubes = [k for k, s, _ in numeric if len(s) == 3]
        if not cubes:
            raise FersInputError(f"no 3-D array (H, W, B) in the file; variables: {format_keys(keys)}", path)
        if len(cubes) > 1:
            raise FersInputError(
                f"several 3-D arrays ({', '.join(cubes)}); choose one with key=... (--key); variables: {format_keys(keys)}",
                path,
            )
        cube_key = cubes[0]
    cube_shape = dict((k, s) for k, s, _ in keys)[cube_key]
    hw, nb = tuple(cube_shape[:2]), cube_shape[2]

    chosen_gt = choose_gt_key(path, keys, hw, exclude=cube_key, gt_key=gt_key)
    wl = [k for k, s, _ in numeric if k.lower() in WAVELENGTH_NAMES and int(np.prod(s)) == nb]
    return cube_key, chosen_gt, (wl[0] if wl else None)


def choose_gt_key(path, keys, shape=None, exclude=None, gt_key=None) -> str | None:
    """The ground-truth variable among :func:`list_mat_keys` output: ``gt_key`` when given (checked),
    else the one numeric 2-D array of the cube's ``shape`` (H, W), else the one such array with a
    usual GT name (:data:`GT_NAMES`); None when there is none; an error when several are equally likely."""
    if gt_key is not None:
        if gt_key not in [k for k, _, _ in keys]:
            raise FersInputError(f"no variable {gt_key!r} in the file; variables: {format_keys(keys)}", path)
        return gt_key
    fits = [k for k, s, d in keys if len(s) == 2 and is_numeric_label(d) and k != exclude
            and (shape is None or tuple(s) == tuple(shape))]
    named = [k for k in fits if k.lower() in GT_NAMES]
    if len(fits) == 1:
        return fits[0]
    if len(named) == 1:
        return named[0]
    if not fits:
        return None
    raise FersInputError(f"several 2-D arrays{'' if shape is None else f' of the cube size {tuple(shape)}'} "
                         f"({', '.join(fits)}); choose the ground truth with gt_key=... (--gt-key)", path)


def format_keys(keys) -> str:
    return ", ".join(f"{k} {tuple(s)} {d}" for k, s, d in keys) or "none"


def read_mat_arrays(path, names) -> dict:
    """Load the named variables ``{name: ndarray}`` (v7.3 arrays transposed back to MATLAB order)."""
    path = Path(path)
    names = [n for n in names if n is not None]
    if is_hdf5_mat(path):
        import h5py

        out = {}
        try:
            with h5py.File(path, "r") as f:
                for n in names:
                    obj = f[n]
                    arr = obj[()]
                    if arr.dtype.names:  # MATLAB complex: compound (real, imag)
                        raise FersInputError(f"variable {n!r} is complex; a real-valued cube is needed", path)
                    out[n] = np.asarray(arr).T
        except FersInputError:
            raise
        except Exception as e:
            raise FersInputError(f"cannot read MATLAB v7.3 (HDF5) file (corrupt or truncated): {why(e)}",
                                 path) from None
        return out
    import scipy.io

    try:
        d = scipy.io.loadmat(str(path), variable_names=names, squeeze_me=False)
    except Exception as e:
        raise FersInputError(f"cannot read MATLAB file (corrupt or truncated): {why(e)}", path) from None
    missing = [n for n in names if n not in d]
    if missing:
        raise FersInputError(f"cannot read variable(s) {', '.join(missing)} (file truncated or corrupt?)", path)
    for n in names:
        if np.iscomplexobj(d[n]):
            raise FersInputError(f"variable {n!r} is complex; a real-valued cube is needed", path)
        if d[n].dtype.kind not in _NUMERIC_KINDS:
            raise FersInputError(f"variable {n!r} is not a numeric array (MATLAB {d[n].dtype})", path)
    return {n: d[n] for n in names}


# MATLAB classes as scipy.io.whosmat names them -> bytes per value
MAT_ITEMSIZE = {"double": 8, "single": 4, "int8": 1, "uint8": 1, "int16": 2, "uint16": 2, "int32": 4,
                "uint32": 4, "int64": 8, "uint64": 8, "logical": 1}


def peek_mat(path, key=None, ndim=3) -> Header | None:
    """The variable table's entry for ``key``, or for the only ``ndim``-D array (None when that is
    ambiguous or absent: the reader says so)."""
    try:
        keys = list_mat_keys(path)
    except FersInputError:
        return None
    arrays = [(k, s, d) for k, s, d in keys if (k == key if key is not None else len(s) == ndim)]
    if len(arrays) != 1:
        return None
    _, shape, label = arrays[0]
    try:
        itemsize = MAT_ITEMSIZE.get(label) or np.dtype(label).itemsize
    except TypeError:
        return None
    return Header(tuple(shape), itemsize, False, "mat")


def read_mat_cube(path, opts) -> tuple[np.ndarray, dict]:
    """A ``.mat`` cube -> ``(cube (H, W, B), meta)``: ``key``, ``format`` (``mat`` / ``mat-v7.3``), the
    in-file ground truth (``gt`` as stored and ``gt_key``) when ``opts.want_gt`` and one is found, and
    ``wavelengths`` from a variable with a usual name (:data:`WAVELENGTH_NAMES`) of one value per band."""
    keys = list_mat_keys(path)
    cube_key, in_gt, wl_key = choose_keys(path, keys, opts.key, opts.gt_key if opts.want_gt else None)
    check_array_bytes(dict((k, s) for k, s, _ in keys)[cube_key], 4, opts.max_bytes, path)
    in_gt = in_gt if opts.want_gt else None
    arrays = read_mat_arrays(path, [cube_key, in_gt, wl_key])
    meta: dict = {"key": cube_key, "format": "mat-v7.3" if is_hdf5_mat(path) else "mat"}
    if in_gt:
        meta.update(gt=arrays[in_gt], gt_key=in_gt)
    if wl_key:
        meta.update(wavelengths=arrays[wl_key].astype(np.float64).ravel(),
                    wavelength_source=f".mat variable {wl_key!r}")
    return arrays[cube_key], meta


READER = Reader(name="mat", title="MATLAB .mat", extensions=(".mat",), peek=peek_mat, read=read_mat_cube,
                options=frozenset({"key"}), noun=".mat", sidecar=False)
