"""A cube file's shape and data type from its header alone, before anything is decoded.

:func:`peek_cube` reads only headers -- the ``.npy`` header, the ENVI ``.hdr``, the TIFF page
directory (tifffile exposes series shapes and dtypes without decoding), the ``.mat`` variable table,
the HDF5 dataset headers of EMIT ``.nc`` and PRISMA ``.he5`` products -- so a memory estimate
(:mod:`fers.budget`) can refuse a request before a reader decodes, say, a 3.6 MB zlib TIFF into 2 GB.
:func:`peek_gt` does the same for ground-truth files.

Both return None when the header cannot be read; the reader then reports the problem in its own
words (this module never replaces the readers' checks). The one refusal made here is a pickled
``.npy`` (object dtype), with the same message as :func:`fers.io.formats.read_npy`, so the app,
which memory-maps, says what the command line says instead of NumPy's memory-map error.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fers.errors import FersInputError
from fers.io.georef import check_glt_size

PICKLED_NPY = "the .npy holds Python objects (pickled); only plain numeric arrays are read"

# ENVI "data type" codes (ENVI header documentation) -> NumPy dtype
ENVI_DTYPES = {1: "u1", 2: "i2", 3: "i4", 4: "f4", 5: "f8", 6: "c8", 9: "c16", 12: "u2", 13: "u4",
               14: "i8", 15: "u8"}
# MATLAB classes as scipy.io.whosmat names them -> bytes per value
MAT_ITEMSIZE = {"double": 8, "single": 4, "int8": 1, "uint8": 1, "int16": 2, "uint16": 2, "int32": 4,
                "uint32": 4, "int64": 8, "uint64": 8, "logical": 1}


@dataclass(frozen=True)
class Header:
    """What a header says: ``shape`` as stored, bytes per value, whether the reader can memory-map
    the data (no decoding: ``.npy``, ENVI, uncompressed contiguous TIFF), the format name, the bytes of
    auxiliary arrays the reader decodes whatever the cube's path (``aux_bytes``), and a ``problem``
    that refuses the file before anything is decoded."""

    shape: tuple
    itemsize: int
    mappable: bool
    fmt: str
    aux_bytes: int = 0  # arrays the reader decodes beside the cube (an EMIT GLT), in bytes
    problem: str | None = None  # a refusal found in the header (a GLT out of proportion to the cube)

    @property
    def values(self) -> int:
        n = 1
        for s in self.shape:
            n *= int(s)
        return n

    @property
    def nbytes(self) -> int:
        """Decoded size in bytes."""
        return self.values * self.itemsize

    def hwb(self) -> tuple[int, int, int]:
        """``(H, W, B)`` for estimates: singleton axes dropped; for a TIFF the smallest axis is taken as
        the band axis (the reader's default rule), other formats store bands last."""
        s = [int(v) for v in self.shape if int(v) != 1]
        s = [1] * (3 - len(s)) + s if len(s) < 3 else s
        if self.fmt == "tiff":
            s.append(s.pop(s.index(min(s))))
        w = 1
        for v in s[1:-1]:
            w *= v
        return s[0], w, s[-1]


def _npy(path: Path) -> Header | None:
    try:
        with open(path, "rb") as fh:
            major, _ = np.lib.format.read_magic(fh)
            read = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
            shape, _fortran, dtype = read(fh)
    except Exception:
        return None
    if dtype.hasobject:
        raise FersInputError(PICKLED_NPY, path)
    return Header(tuple(shape), dtype.itemsize, True, "npy")


def _envi(path: Path) -> Header | None:
    from fers.io.envi import find_envi_pair

    try:
        import spectral.io.envi as envi

        hdr, _ = find_envi_pair(path)
        h = envi.read_envi_header(str(hdr))
        shape = (int(h["lines"]), int(h["samples"]), int(h["bands"]))
        itemsize = np.dtype(ENVI_DTYPES[int(h["data type"])]).itemsize
    except Exception:
        return None
    return Header(shape, itemsize, True, "envi")


def _tiff(path: Path) -> Header | None:
    try:
        import tifffile

        with tifffile.TiffFile(str(path)) as tif:
            s = tif.series[0]
            shape, dtype, offset = tuple(s.shape), np.dtype(s.dtype), s.dataoffset
    except Exception:
        return None
    mappable = offset is not None
    if mappable and dtype.kind in "iu":
        from fers.io.products.enmap import find_metadata_xml

        mappable = find_metadata_xml(path) is None  # EnMAP DN: the reader scales them in memory
    return Header(shape, dtype.itemsize, mappable, "tiff")


def _mat(path: Path, key=None, ndim=3) -> Header | None:
    from fers.io.mat import list_mat_keys

    try:
        keys = list_mat_keys(path)
    except FersInputError:
        return None
    arrays = [(k, s, d) for k, s, d in keys if (k == key if key is not None else len(s) == ndim)]
    if len(arrays) != 1:
        return None  # ambiguous or absent: the reader says so
    _, shape, label = arrays[0]
    try:
        itemsize = MAT_ITEMSIZE.get(label) or np.dtype(label).itemsize
    except TypeError:
        return None
    return Header(tuple(shape), itemsize, False, "mat")


def _envi_file(path: Path) -> Header | None:
    from fers.io.formats import ENVI_DATA_EXTS

    return _envi(path) if path.suffix.lower() == ".hdr" or path.suffix in ENVI_DATA_EXTS else None


def _netcdf(path: Path) -> Header | None:
    """EMIT NetCDF4: the shape of its ``reflectance`` (or ``radiance``) variable, read from the HDF5
    object header (NetCDF-3 files: None, left to the reader)."""
    try:
        import h5py

        from fers.io.products.emit import cube_variable

        with h5py.File(path, "r") as f:
            name, _ = cube_variable(list(f.keys()))
            ds = f[name]
            shape, itemsize = tuple(ds.shape), np.dtype(ds.dtype).itemsize
            glt = _glt_shapes(f)
    except Exception:
        return None
    if len(shape) != 3:
        return None
    # mappable: with mmap the reader spills a big cube into a temporary memory map (fers.memmap.spill)
    problem = check_glt_size(glt[0], shape[0], shape[1]) if glt else None
    aux = sum(8 * int(np.prod(s)) for s in glt)  # decoded as int64 at most
    return Header(shape, itemsize, True, "netcdf", aux_bytes=aux, problem=problem)


def _glt_shapes(f) -> list[tuple]:
    """Shapes of the ``location`` group's ``glt_x`` and ``glt_y`` (empty when there is no GLT)."""
    from fers.io.products.emit import LOCATION_GROUP

    loc = f.get(LOCATION_GROUP)
    if loc is None or "glt_x" not in loc or "glt_y" not in loc:
        return []
    return [tuple(loc["glt_x"].shape), tuple(loc["glt_y"].shape)]


def _he5(path: Path) -> Header | None:
    """PRISMA L2 HDF-EOS5: ``(rows, cols, bands)`` of VNIR + SWIR together (bands with a wavelength
    above 0, as the reader keeps them), from the dataset headers and root attributes."""
    try:
        import h5py

        from fers.io.products.prisma import PARTS, find_swath

        with h5py.File(path, "r") as f:
            _, fields = find_swath(f)
            rows = cols = None
            bands = 0
            for name, key in PARTS:
                if f"{name}_Cube" not in fields:
                    continue
                rows, nb, cols = fields[f"{name}_Cube"].shape
                cw = np.asarray(f.attrs.get(f"List_Cw_{key}", []), dtype=np.float64).ravel()
                bands += int((cw > 0).sum()) if cw.size == nb else nb
    except Exception:
        return None
    return Header((rows, cols, bands), 2, False, "he5") if rows is not None else None


def _image(path: Path) -> Header | None:
    try:
        from PIL import Image

        with Image.open(str(path)) as im:  # reads the header only
            w, h = im.size
            bands = len(im.getbands())
    except Exception:
        return None
    return Header((h, w, bands), 1, False, "image")


def _peek(path, key, ndim: int, other) -> Header | None:
    path = Path(path)
    if not path.is_file():
        return None
    ext = path.suffix.lower()
    if ext == ".npy":
        return _npy(path)
    if ext in (".tif", ".tiff"):
        return _tiff(path)
    if ext == ".mat":
        return _mat(path, key, ndim)
    if ndim == 3 and ext == ".nc":
        return _netcdf(path)
    if ndim == 3 and ext == ".he5":
        return _he5(path)
    return other(path)


def peek_cube(path, key=None) -> Header | None:
    """The :class:`Header` of a cube file (``.npy``, ENVI ``.hdr`` or data file, ``.tif``, ``.mat``
    with ``key`` or its only 3-D array, EMIT ``.nc``, PRISMA ``.he5``); None when it cannot be read or
    the file type is unknown."""
    return _peek(path, key, 3, _envi_file)


def peek_gt(path, key=None) -> Header | None:
    """The :class:`Header` of a ground-truth file (``.npy``, ``.tif``, ``.mat``, images through Pillow's
    lazy open)."""
    return _peek(path, key, 2, _image)
