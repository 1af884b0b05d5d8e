"""Readers for the non-MATLAB formats: ``.npy``, ENVI (``.hdr`` + data), multi-band GeoTIFF, and
ground-truth images (``.png`` and friends).

Each reader returns arrays as stored (no float conversion) so that ``mmap=True`` can hand back a
memory map; :mod:`fers.io.cube` validates and converts. Cubes are ``(H, W, B)``, bands last.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from fers.errors import FersInputError
from fers.io.wavelengths import to_nm

# The file types FERS reads (one home; the app's upload filter and the HAD100 reader use them too).
ENVI_DATA_EXTS = ("", ".img", ".dat", ".raw", ".bin", ".bsq", ".bil", ".bip", ".IMG", ".DAT")
# the file that names a cube (ENVI: its .hdr; EMIT .nc and PRISMA .he5: read by fers.io.products)
CUBE_FILE_EXTS = (".mat", ".npy", ".hdr", ".tif", ".tiff", ".nc", ".he5")
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
    ``nodata`` (the header's ``data ignore value``, or None), the header's spectral fields
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
    info["nodata"] = _nodata_value(header.get("data ignore value"), hdr, "ENVI 'data ignore value'")
    info.update(envi_spectral_meta(header, bands))
    if "map info" in header or "coordinate system string" in header:
        info["georef"] = gdal_georef(data, rows, cols, "ENVI header 'map info' (read by GDAL)")
    return cube, info


def _numbers(values, n: int, what: str, notes: list):
    """``values`` (a list of header strings) as ``(n,)`` float64, or None with a note saying why."""
    if values is None:
        return None
    items = values if isinstance(values, (list, tuple)) else str(values).strip().strip("{}").split(",")
    try:
        arr = np.array([float(str(v).strip()) for v in items if str(v).strip()], dtype=np.float64)
    except ValueError:
        notes.append(f"{what}: not a list of numbers; left out")
        return None
    if arr.size != n:
        notes.append(f"{what}: {arr.size} values for {n} bands; left out")
        return None
    return arr


def _spectral_meta(wl, units, fwhm, bbl, notes: list) -> dict:
    """``wavelengths``/``fwhm`` in nm and ``bad_bands`` (``bbl == 0``) from per-band values ``(B,)``.

    ``units``: one unit for all bands, or a per-band list. FWHMs are in the wavelengths' unit.
    Values :func:`fers.io.wavelengths.to_nm` refuses are left out, with a note."""
    out: dict = {}
    if wl is not None:
        try:
            if isinstance(units, (list, tuple)):
                nm = np.concatenate([to_nm([v], u) for v, u in zip(wl, units)])
            else:
                nm = to_nm(wl, units)
        except FersInputError as e:
            notes.append(f"wavelengths left out: {e}")
            nm = None
        if nm is not None:
            out["wavelengths"] = nm
            if fwhm is not None:
                if np.all(np.isfinite(fwhm)) and np.all(fwhm > 0):
                    out["fwhm"] = fwhm * (nm / wl)  # the wavelengths' unit -> nm, band by band
                else:
                    notes.append("fwhm: not all positive numbers; left out")
    if bbl is not None:
        out["bad_bands"] = bbl == 0
    return out


def _with_notes(meta: dict, notes: list) -> dict:
    if notes:
        meta["metadata_notes"] = list(meta.get("metadata_notes", [])) + notes
    return meta


def envi_spectral_meta(header: dict, n_bands: int) -> dict:
    """``wavelengths`` and ``fwhm`` ``(B,)`` in nm (the header's ``wavelength units``; ``Index``
    means band numbers: no wavelengths) and ``bad_bands (B,)`` bool (``bbl`` 0 = bad) from an ENVI
    header; each field only when it holds one number per band, otherwise a ``metadata_notes`` entry."""
    notes: list = []
    units = str(header.get("wavelength units", "") or "").strip()
    wl = _numbers(header.get("wavelength"), n_bands, "ENVI 'wavelength'", notes)
    if wl is not None and units.lower() == "index":
        notes.append("ENVI 'wavelength units = Index': band numbers, not wavelengths; left out")
        wl = None
    fwhm = _numbers(header.get("fwhm"), n_bands, "ENVI 'fwhm'", notes)
    bbl = _numbers(header.get("bbl"), n_bands, "ENVI 'bbl'", notes)
    return _with_notes(_spectral_meta(wl, units or None, fwhm, bbl, notes), notes)


def _gdal_open(path):
    """``rasterio.open(path)`` with GDAL's warnings silenced, or None when GDAL cannot open it."""
    import warnings

    try:
        import rasterio

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return rasterio.open(str(path))
    except Exception:
        return None


def _georef_of(ds, rows: int, cols: int, source: str):
    """:class:`~fers.io.georef.Georef` of an open rasterio dataset whose grid is ``rows x cols``;
    None without a projected or geographic CRS or with an identity (i.e. absent) transform."""
    from fers.io.georef import Georef

    try:
        if (ds.height, ds.width) != (rows, cols) or ds.crs is None or ds.transform.is_identity:
            return None
        if not (ds.crs.is_projected or ds.crs.is_geographic):  # e.g. ENVI "Arbitrary": a local pixel grid
            return None
        return Georef(crs=ds.crs.to_wkt(), transform=tuple(ds.transform)[:6], source=source)
    except Exception:
        return None


def gdal_georef(path, rows: int, cols: int, source: str):
    """Georeference of a raster file as GDAL reads it (ENVI ``map info`` incl. ``rotation``,
    GeoTIFF keys) for a ``rows x cols`` grid, or None; never raises (a cube reads without one)."""
    ds = _gdal_open(path)
    if ds is None:
        return None
    with ds:
        return _georef_of(ds, rows, cols, source)


def _nodata_value(text, path, what: str):
    """A no-data value from a header field (None when absent or NaN: NaN pixels are masked anyway)."""
    if text is None or not str(text).strip():
        return None
    try:
        v = float(str(text).strip())
    except ValueError:
        raise FersInputError(f"{what} {str(text).strip()!r} is not a number", path) from None
    return None if np.isnan(v) else v


LAYOUTS = ("bands_first", "bands_last")
# TIFF axis letters (tifffile) that say what an axis is; "Q" (unknown) and "I" (a plain stack of
# pages) do not, and neither do Y and X, which are always the image rows and columns.
_UNNAMED_AXES = "QI"


def tiff_band_axis(shape: tuple, axes: str, layout=None, path=None) -> tuple[int, str]:
    """Which axis of a 3-D TIFF array ``shape`` (tifffile ``axes``, e.g. ``"YXS"``) holds the bands.

    Returns ``(axis, how)``; ``how`` says where the answer came from. The rule (docs/formats.md,
    "TIFF band axis"):

    1. the file records it: the one axis besides Y and X has a name (GeoTIFF / plain multi-band
       ``S`` samples per pixel: contiguous ``YXS`` = bands last, separate planes ``SYX`` = bands
       first; ImageJ or OME ``C``, ``Z``, ``T`` ...). ``layout`` must then agree.
    2. else ``layout`` (``"bands_first"`` = ``(B, H, W)``, ``"bands_last"`` = ``(H, W, B)``);
    3. else the shape: the axis whose length is unique when the other two are equal (a square
       scene: ``(100, 100, 205)`` has 205 bands), otherwise the strictly smallest axis; all three
       equal: bands last. When this points at the middle axis, or the first and last have the
       same length, the file is refused and ``layout`` asked for.
    """
    if layout not in (None, *LAYOUTS):
        raise FersInputError(f"layout must be 'bands_first' or 'bands_last', not {layout!r}", path)
    want = {"bands_first": 0, "bands_last": 2}.get(layout)
    named = [i for i, a in enumerate(axes) if a not in "YX" + _UNNAMED_AXES] if len(axes) == 3 else []
    if len(named) == 1 and named[0] in (0, 2) and sorted(axes[i] for i in range(3) if i != named[0]) == ["X", "Y"]:
        ax = named[0]
        if want is not None and want != ax:
            raise FersInputError(f"layout={layout!r} contradicts the file, whose axes {axes} {tuple(shape)} put the "
                                 f"bands {'first' if ax == 0 else 'last'}", path)
        return ax, f"{LAYOUTS[ax // 2]} (recorded in the file: axes {axes})"
    if want is not None:
        return want, f"{layout} (given)"
    a, b, c = shape
    if a == b == c:
        return 2, "bands_last (all axes equal; rule of docs/formats.md)"
    if a == b or b == c:
        ax = 2 if a == b else 0
    elif a == c:
        ax = 1
    else:
        ax = int(np.argmin(shape))
    if ax == 1:
        raise FersInputError(f"cannot tell the band axis of shape {tuple(shape)} (the file does not record it); "
                             "pass --layout bands_first or bands_last", path)
    return ax, f"{LAYOUTS[ax // 2]} (not recorded in the file; shape rule of docs/formats.md)"


def read_tiff(path, mmap=False, layout=None) -> tuple[np.ndarray, dict]:
    """Multi-band (Geo)TIFF -> ``(cube (H, W, B), info)``; the band axis by :func:`tiff_band_axis`.

    ``info``: ``layout`` (how the band axis was found), ``nodata`` (the GDAL_NODATA tag, or None) and,
    as GDAL reads the file (:func:`tiff_gdal_meta`), ``georef`` (CRS + transform), ``wavelengths``
    and ``fwhm`` in nm and ``bad_bands`` from per-band metadata. An EnMAP ``SPECTRAL_IMAGE`` with its
    ``METADATA.XML`` beside it takes wavelengths, FWHM and gain/offset from the XML
    (:mod:`fers.io.products.enmap`).
    """
    import tifffile

    arr = None
    try:
        with tifffile.TiffFile(str(path)) as tf:
            series = tf.series[0]
            axes, shape = series.axes, tuple(series.shape)
            page = tf.pages[0]
            tag = page.tags.get("GDAL_NODATA")
            nodata_text = tag.value if tag is not None else None
            if mmap:
                try:
                    arr = tifffile.memmap(str(path), mode="r")
                except Exception:
                    arr = None  # compressed or tiled: fall back to a normal read
            if arr is None:
                arr = series.asarray()
    except Exception as e:
        raise FersInputError(f"cannot read TIFF (corrupt or truncated): {why(e)}", path) from None
    arr = np.asarray(arr) if not isinstance(arr, np.memmap) else arr
    if arr.shape != shape:
        arr = arr.reshape(shape)
    if arr.ndim > 3:  # e.g. ImageJ hyperstacks (ZCYX): more than one non-image axis
        raise FersInputError(f"TIFF has {arr.ndim} axes {axes} {shape}; expected one band axis besides Y and X", path)
    info = {"nodata": _nodata_value(nodata_text, path, "GeoTIFF GDAL_NODATA tag")}
    if arr.ndim == 3:
        ax, info["layout"] = tiff_band_axis(shape, axes, layout, path)
        arr = np.moveaxis(arr, ax, -1) if ax != 2 else arr
        info.update(tiff_gdal_meta(path, arr.shape))
        from fers.io.products import enmap

        xml = enmap.find_metadata_xml(path)
        if xml is not None:
            arr, extra = enmap.apply_metadata(arr, xml, info["nodata"], path)
            notes = extra.pop("metadata_notes", [])
            _with_notes(info, notes).update(extra)
    return arr, info


# "Band 1 (450.5 nm)", "0.45 Micrometers", "wl=450.5nm": the number right before a wavelength unit
_DESCRIPTION_WAVELENGTH = re.compile(
    r"(\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)\s*(nm|nanomet(?:er|re)s?|um|µm|μm|micromet(?:er|re)s?|microns?)(?![a-z])",
    re.IGNORECASE)


def _wavelength_in(text: str):
    """``(value, unit)`` of the last wavelength written in a band description, or None."""
    found = _DESCRIPTION_WAVELENGTH.findall(text or "")
    return (float(found[-1][0]), found[-1][1]) if found else None


def tiff_gdal_meta(path, hwb: tuple) -> dict:
    """What GDAL (rasterio) reads from a TIFF whose decoded cube is ``(H, W, B)``: ``georef`` and,
    when every band has one, ``wavelengths``/``fwhm`` (nm) and ``bad_bands``. Sources in order: the
    band items ``wavelength`` + ``wavelength_units`` (and ``fwhm``, ``bbl``) that GDAL writes when
    converting ENVI; the ``IMAGERY`` domain ``CENTRAL_WAVELENGTH_UM`` / ``FWHM_UM``; band
    descriptions such as ``"Band 1 (450.5 nm)"``. {} when GDAL cannot open the file or sees another
    band count or grid (e.g. a plain multi-page TIFF)."""
    h, w, b = hwb
    ds = _gdal_open(path)
    if ds is None:
        return {}
    notes: list = []
    with ds:
        try:
            if ds.count != b or (ds.height, ds.width) != (h, w):
                return {}
            meta = {"georef": _georef_of(ds, h, w, "GeoTIFF (read by GDAL)")}
            band = [{**ds.tags(i, ns="ENVI"), **ds.tags(i)} for i in range(1, b + 1)]
            imagery = [ds.tags(i, ns="IMAGERY") for i in range(1, b + 1)]
            descriptions = list(ds.descriptions or [None] * b)
            units_all = ds.tags().get("wavelength_units")
        except Exception:
            return {}
    wl = units = fwhm = None
    if all("wavelength" in t for t in band):
        wl = _numbers([t["wavelength"] for t in band], b, "GDAL band item 'wavelength'", notes)
        per_band = [t.get("wavelength_units") or units_all for t in band]
        units = per_band if all(per_band) else None
        if all("fwhm" in t for t in band):
            fwhm = _numbers([t["fwhm"] for t in band], b, "GDAL band item 'fwhm'", notes)
    elif all("CENTRAL_WAVELENGTH_UM" in t for t in imagery):
        wl = _numbers([t["CENTRAL_WAVELENGTH_UM"] for t in imagery], b, "GDAL CENTRAL_WAVELENGTH_UM", notes)
        units = "um"
    elif all(_wavelength_in(d) for d in descriptions):
        found = [_wavelength_in(d) for d in descriptions]
        wl, units = np.array([v for v, _ in found]), [u for _, u in found]
    bbl = None
    if all("bbl" in t for t in band):
        bbl = _numbers([t["bbl"] for t in band], b, "GDAL band item 'bbl'", notes)
    meta.update(_spectral_meta(wl, units, fwhm, bbl, notes))
    if "wavelengths" in meta and "fwhm" not in meta and all("FWHM_UM" in t for t in imagery):
        fwhm = _numbers([t["FWHM_UM"] for t in imagery], b, "GDAL FWHM_UM", notes)
        if fwhm is not None and np.all(np.isfinite(fwhm)) and np.all(fwhm > 0):
            meta["fwhm"] = fwhm * 1e3
    return _with_notes(meta, notes)


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
