"""ENVI images (``.hdr`` + data file): header checks, the cube via :mod:`spectral`, band metadata
(wavelength, fwhm, bbl) and the georeference (``map info``, read by GDAL through rasterio).

Cubes are ``(H, W, B)``, bands last, as stored (no float conversion: ``mmap=True`` hands back a
memory map); :mod:`fers.io.cube` validates and converts.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fers.errors import FersInputError
from fers.io.formats import ENVI_DATA_EXTS, nodata_value, why
from fers.io.georef import gdal_georef
from fers.io.header import Header
from fers.io.registry import Reader
from fers.io.wavelengths import per_band_numbers, spectral_meta, wavelength_in_text, with_notes


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


ENVI_BYTE_ORDERS = {"0": "little-endian", "1": "big-endian"}
ENVI_INTERLEAVES = ("bsq", "bil", "bip")
# Plausibility of the byte order: real spectra are smooth from band to band; read with the wrong
# byte order they turn into noise. See envi_byte_order_check.
BYTE_ORDER_SAMPLE_PIXELS = 4096
BYTE_ORDER_RATIO = 4.0


def _envi_int(header: dict, key: str, hdr, minimum: int) -> int:
    try:
        v = int(str(header[key]).strip())
    except KeyError:
        raise FersInputError(f"ENVI header has no '{key}' field", hdr) from None
    except ValueError:
        raise FersInputError(f"ENVI header field '{key} = {header[key]}' is not a whole number", hdr) from None
    if v < minimum:
        raise FersInputError(f"ENVI header field '{key} = {v}' must be at least {minimum}", hdr)
    return v


def check_envi_header(header: dict, hdr) -> dict:
    """Check the fields that decide how the data file is read -> ``{samples, lines, bands, offset,
    dtype (with byte order), byte_order, interleave}``; one-line FersInputError for a missing or
    unsupported field. (spectral would treat an unknown interleave as BSQ and any byte order other
    than the machine's as swapped, so these are checked here first.)"""
    from spectral.io.envi import envi_to_dtype

    out = {k: _envi_int(header, k, hdr, 1) for k in ("samples", "lines", "bands")}
    out["offset"] = _envi_int(header, "header offset", hdr, 0) if "header offset" in header else 0
    code = str(header.get("data type", "")).strip()
    if not code:
        raise FersInputError("ENVI header has no 'data type' field", hdr)
    if code in ("6", "9"):
        raise FersInputError(f"ENVI 'data type = {code}' is complex; only real-valued cubes are read", hdr)
    if code not in envi_to_dtype:
        raise FersInputError(f"ENVI 'data type = {code}' is not a known numeric type "
                             f"(supported: {', '.join(k for k in envi_to_dtype if k not in ('6', '9'))})", hdr)
    order = str(header.get("byte order", "")).strip()
    if order not in ENVI_BYTE_ORDERS:
        raise FersInputError(f"ENVI header field 'byte order' is {order or 'missing'!r}; it must be 0 "
                             "(little-endian) or 1 (big-endian)", hdr)
    inter = str(header.get("interleave", "")).strip().lower()
    if inter not in ENVI_INTERLEAVES:
        raise FersInputError(f"ENVI header field 'interleave' is {inter or 'missing'!r}; it must be bsq, bil or bip",
                             hdr)
    dt = np.dtype(envi_to_dtype[code]).newbyteorder("<" if order == "0" else ">")
    out.update(dtype=dt, byte_order=order, interleave=inter)
    return out


def check_envi_size(fields: dict, data: Path) -> None:
    """Refuse a data file whose size differs from samples x lines x bands x bytes + header offset."""
    need = fields["samples"] * fields["lines"] * fields["bands"] * fields["dtype"].itemsize + fields["offset"]
    have = data.stat().st_size
    if have == need:
        return
    shape = (f"{fields['lines']} lines x {fields['samples']} samples x {fields['bands']} bands x "
             f"{fields['dtype'].itemsize} bytes + {fields['offset']} offset")
    if have < need:
        raise FersInputError(f"ENVI data file is truncated: {have} bytes, the header needs {need} ({shape})", data)
    raise FersInputError(f"ENVI data file has {have} bytes but the header describes {need} ({shape}); "
                         "check samples, lines, bands, data type and header offset", data)


def _roughness(x: np.ndarray) -> float:
    """Mean absolute band-to-band step of spectra ``(P, B)`` relative to their spread (NaN when flat).

    Pixels with a non-finite or absurd (> 1e30) value are left out (no-data pixels of a correctly read
    file); when that leaves fewer than half of them, the reading is garbage: infinite roughness."""
    with np.errstate(invalid="ignore", over="ignore"):
        x = x.astype(np.float64)
        ok = (np.isfinite(x) & (np.abs(x) <= 1e30)).all(axis=1)
    if ok.sum() * 2 < len(ok) or not ok.any():
        return np.inf
    x = x[ok]
    spread = np.abs(x - x.mean()).mean()
    return float(np.abs(np.diff(x, axis=1)).mean() / spread) if spread > 0 else np.nan


def envi_byte_order_check(sample: np.ndarray, fields: dict, data) -> None:
    """Refuse when spectra ``(P, B)`` read with the header's byte order are much rougher (band to
    band, relative to their spread) than the same bytes read the other way round.

    Hand-written because no library checks this: a wrong ``byte order`` field turns smooth spectra
    into noise (issue 11: AUC ~0.45), while on correctly ordered data the swapped reading is the
    noisy one, so only a clear ratio (:data:`BYTE_ORDER_RATIO`) refuses. One-byte types and cubes
    with fewer than 3 bands are not checked.
    """
    if fields["dtype"].itemsize == 1 or sample.shape[1] < 3:
        return
    sample = np.ascontiguousarray(sample)
    as_given = _roughness(sample)
    swapped = _roughness(sample.view(sample.dtype.newbyteorder()))  # the same bytes, the other byte order
    if np.isfinite(swapped) and not np.isnan(as_given) and as_given > BYTE_ORDER_RATIO * swapped:
        order = ENVI_BYTE_ORDERS[fields["byte_order"]]
        other = ENVI_BYTE_ORDERS["1" if fields["byte_order"] == "0" else "0"]
        how = ("mostly NaN/Inf or beyond 1e30" if np.isinf(as_given)
               else f"{as_given / swapped:.0f}x rougher from band to band")
        raise FersInputError(f"the header's 'byte order = {fields['byte_order']}' ({order}) looks wrong: read that way "
                             f"the spectra are {how} than read as {other}; fix the header's byte order", data)


def _sample_pixels(img, rows: int, cols: int) -> np.ndarray:
    """Up to :data:`BYTE_ORDER_SAMPLE_PIXELS` pixels ``(P, B)`` on a regular grid, read from the memmap."""
    mm = img.open_memmap(interleave="bip", writable=False)
    k = max(1, int(np.sqrt(rows * cols / BYTE_ORDER_SAMPLE_PIXELS)))
    return np.asarray(mm[::k, ::k]).reshape(-1, mm.shape[2])


def read_envi(path, mmap=False) -> tuple[np.ndarray, dict]:
    """ENVI image -> ``(cube (H, W, B), info)`` via :func:`spectral.envi.open`.

    The header's size, data type, byte order and interleave are checked before reading; ``info``
    reports ``byte_order`` ("little-endian (byte order = 0)"), ``interleave``, ``data_type``,
    ``nodata`` (the header's ``data ignore value``, or None) and ``nodata_source``, the header's spectral fields
    (:func:`envi_spectral_meta`: ``wavelengths`` and ``fwhm`` in nm, ``bad_bands (B,)`` from ``bbl``)
    and ``georef``: ``map info`` / ``coordinate system string`` as GDAL's ENVI driver reads them
    (:func:`gdal_georef`; None without them, when GDAL finds no CRS or transform, or cannot open
    the file). Fields that cannot be used are left out and said in ``metadata_notes``.
    """
    import spectral.io.envi as envi

    hdr, data = find_envi_pair(path)
    try:
        header = envi.read_envi_header(str(hdr))
    except Exception as e:
        raise FersInputError(f"cannot read ENVI header: {why(e)}", hdr) from None
    if str(header.get("file type", "")).strip().lower() == "envi spectral library":
        raise FersInputError("ENVI header describes a spectral library, not an image cube", hdr)
    fields = check_envi_header(header, hdr)
    check_envi_size(fields, data)
    try:
        img = envi.open(str(hdr), str(data))
    except Exception as e:
        raise FersInputError(f"cannot read ENVI image: {why(e)}", hdr) from None
    if not hasattr(img, "open_memmap"):
        raise FersInputError("ENVI header describes a spectral library, not an image cube", hdr)
    rows, cols, bands = img.nrows, img.ncols, img.nbands
    try:
        envi_byte_order_check(_sample_pixels(img, rows, cols), fields, data)
        cube = img.open_memmap(interleave="bip", writable=False) if mmap else np.asarray(img.load())
        if not mmap and not cube.flags.writeable:  # spectral hands BIP files over as a read-only buffer
            cube = cube.copy()
    except FersInputError:
        raise
    except Exception as e:
        raise FersInputError(f"cannot read ENVI data: {why(e)}", data) from None
    info = {"byte_order": f"{ENVI_BYTE_ORDERS[fields['byte_order']]} (byte order = {fields['byte_order']})",
            "interleave": fields["interleave"], "data_type": str(fields["dtype"].newbyteorder("="))}
    info["nodata"] = nodata_value(header.get("data ignore value"), hdr, "ENVI 'data ignore value'")
    info["nodata_source"] = "ENVI header 'data ignore value'"
    info.update(envi_spectral_meta(header, bands))
    if "wavelengths" not in info:  # GDAL's view: its .aux.xml sidecar, if one carries them
        from fers.io.tiff import tiff_gdal_meta

        gdal = tiff_gdal_meta(data, (rows, cols, bands))
        for k in ("wavelengths", "fwhm", "wavelength_source"):
            if k in gdal:
                info[k] = gdal[k]
    if "map info" in header or "coordinate system string" in header:
        info["georef"] = gdal_georef(data, rows, cols, "ENVI header 'map info' (read by GDAL)")
    return cube, info


def envi_spectral_meta(header: dict, n_bands: int) -> dict:
    """``wavelengths`` and ``fwhm`` ``(B,)`` in nm (the header's ``wavelength units``; ``Index``
    means band numbers: no wavelengths) and ``bad_bands (B,)`` bool (``bbl`` 0 = bad) from an ENVI
    header; each field only when it holds one number per band, otherwise a ``metadata_notes`` entry."""
    notes: list = []
    units = str(header.get("wavelength units", "") or "").strip()
    wl = per_band_numbers(header.get("wavelength"), n_bands, "ENVI 'wavelength'", notes)
    if wl is not None and units.lower() == "index":
        notes.append("ENVI 'wavelength units = Index': band numbers, not wavelengths; left out")
        wl = None
    fwhm = per_band_numbers(header.get("fwhm"), n_bands, "ENVI 'fwhm'", notes)
    bbl = per_band_numbers(header.get("bbl"), n_bands, "ENVI 'bbl'", notes)
    source = "ENVI header 'wavelength'"
    names = header.get("band names")
    if wl is None and isinstance(names, list) and len(names) == n_bands:
        found = [wavelength_in_text(n) for n in names]
        if all(found):  # AVIRIS-NG L1B: wavelengths only as "... (376.86 nm)" band names
            wl, units, source = np.array([v for v, _ in found]), [u for _, u in found], "ENVI 'band names'"
    meta = spectral_meta(wl, units or None, fwhm if source.endswith("'wavelength'") else None, bbl, notes)
    if "wavelengths" in meta:
        meta["wavelength_source"] = source
    gain = per_band_numbers(header.get("data gain values"), n_bands, "ENVI 'data gain values'", notes)
    offset = per_band_numbers(header.get("data offset values"), n_bands, "ENVI 'data offset values'", notes)
    if gain is not None or offset is not None:
        meta.update(scale=gain, offset=offset, scale_source="ENVI 'data gain values' / 'data offset values'")
    return with_notes(meta, notes)


# ENVI "data type" codes (ENVI header documentation) -> NumPy dtype
ENVI_DTYPES = {1: "u1", 2: "i2", 3: "i4", 4: "f4", 5: "f8", 6: "c8", 9: "c16", 12: "u2", 13: "u4",
               14: "i8", 15: "u8"}
HEADER_EXT = ".hdr"


def peek_envi(path, key=None) -> Header | None:
    """``(lines, samples, bands)`` and the bytes per value from the ``.hdr`` (given it or its data file)."""
    import spectral.io.envi as envi

    try:
        hdr, _ = find_envi_pair(path)
        h = envi.read_envi_header(str(hdr))
        shape = (int(h["lines"]), int(h["samples"]), int(h["bands"]))
        itemsize = np.dtype(ENVI_DTYPES[int(h["data type"])]).itemsize
    except Exception:
        return None
    return Header(shape, itemsize, True, "envi")


def envi_header_of(path) -> Path | None:
    """The ``.hdr`` of an ENVI image named by its header or its data file (existing), else None."""
    p = Path(path)
    if p.suffix.lower() == HEADER_EXT:
        return p
    if p.suffix not in ENVI_DATA_EXTS and p.suffix.lower() not in ENVI_DATA_EXTS:
        return None
    for hdr in (Path(str(p) + HEADER_EXT), p.with_suffix(HEADER_EXT), p.with_suffix(HEADER_EXT.upper())):
        if hdr.is_file():
            return hdr
    return None


def _sniff(path: Path) -> bool:
    """A data file without an extension whose ``<name>.hdr`` lies beside it."""
    return path.suffix == "" and Path(str(path) + HEADER_EXT).is_file()


def _pair(path: Path):
    """An ENVI header and its data file share a stem."""
    ext = path.suffix.lower()
    return path.stem if ext == HEADER_EXT or ext in ENVI_DATA_EXTS else None


def _data_file(path: Path) -> Path:
    return find_envi_pair(path)[1] if path.suffix.lower() == HEADER_EXT else path


def _read(path: Path, opts) -> tuple[np.ndarray, dict]:
    return read_envi(path, mmap=opts.mmap)


READER = Reader(name="envi", title="ENVI .hdr + data file", extensions=(HEADER_EXT,), peek=peek_envi, read=_read,
                mmap="map", sniff=_sniff, data_extensions=tuple(dict.fromkeys(e.lower() for e in ENVI_DATA_EXTS if e)),
                format="envi", pair=_pair, data_file=_data_file)
