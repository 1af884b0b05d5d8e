"""Multi-band (Geo)TIFF: the cube via tifffile (band axis from the file, ``layout``, or the shape
rule), band metadata and georeference from GDAL's view of the file (rasterio), and EnMAP L2A's
``METADATA.XML`` when it lies beside the image (:mod:`fers.io.products.enmap`).

Cubes are ``(H, W, B)``, bands last, as stored; :mod:`fers.io.cube` validates and converts.
"""

from __future__ import annotations


import numpy as np

from fers.errors import FersInputError
from fers.io.formats import nodata_value, why
from fers.io.georef import gdal_open, georef_of
from fers.io.wavelengths import per_band_numbers, spectral_meta, wavelength_in_text, with_notes

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
    info = {"nodata": nodata_value(nodata_text, path, "GeoTIFF GDAL_NODATA tag")}
    if arr.ndim == 3:
        ax, info["layout"] = tiff_band_axis(shape, axes, layout, path)
        arr = np.moveaxis(arr, ax, -1) if ax != 2 else arr
        info.update(tiff_gdal_meta(path, arr.shape))
        from fers.io.products import enmap

        xml = enmap.find_metadata_xml(path)
        if xml is not None:
            arr, extra = enmap.apply_metadata(arr, xml, info["nodata"], path)
            if str(extra.get("scaling", "")).startswith("DN x"):  # the XML's gain/offset: not applied twice
                for k in ("scale", "offset", "scale_source"):
                    info.pop(k, None)
            if "wavelengths" in extra:
                extra["wavelength_source"] = f"EnMAP {xml.name}"
            notes = extra.pop("metadata_notes", [])
            with_notes(info, notes).update(extra)
    return arr, info


_wavelength_in = wavelength_in_text  # the rule lives in fers.io.wavelengths (ENVI band names use it too)


def _aux_has_wavelengths(path) -> bool:
    """True when GDAL's ``<file>.aux.xml`` sidecar beside ``path`` carries wavelength items (GDAL
    merges it into the band metadata, so this tells which of the two the wavelengths came from)."""
    from pathlib import Path

    aux = Path(str(path) + ".aux.xml")
    try:
        return aux.is_file() and aux.stat().st_size < 64 * 2**20 and "wavelength" in aux.read_text(errors="replace")
    except OSError:
        return False


def tiff_gdal_meta(path, hwb: tuple) -> dict:
    """What GDAL (rasterio) reads from a TIFF whose decoded cube is ``(H, W, B)``: ``georef`` and,
    when every band has one, ``wavelengths``/``fwhm`` (nm) and ``bad_bands``. Sources in order: the
    band items ``wavelength`` + ``wavelength_units`` (and ``fwhm``, ``bbl``) that GDAL writes when
    converting ENVI; the ``IMAGERY`` domain ``CENTRAL_WAVELENGTH_UM`` / ``FWHM_UM``; band
    descriptions such as ``"Band 1 (450.5 nm)"``. {} when GDAL cannot open the file or sees another
    band count or grid (e.g. a plain multi-page TIFF)."""
    h, w, b = hwb
    ds = gdal_open(path)
    if ds is None:
        return {}
    notes: list = []
    with ds:
        try:
            if ds.count != b or (ds.height, ds.width) != (h, w):
                return {}
            meta = {"georef": georef_of(ds, h, w, "GeoTIFF (read by GDAL)")}
            band = [{**ds.tags(i, ns="ENVI"), **ds.tags(i)} for i in range(1, b + 1)]
            imagery = [ds.tags(i, ns="IMAGERY") for i in range(1, b + 1)]
            descriptions = list(ds.descriptions or [None] * b)
            units_all = ds.tags().get("wavelength_units")
            scales, offsets = ds.scales, ds.offsets
        except Exception:
            return {}
    if scales is not None and offsets is not None and len(scales) == b and len(offsets) == b:
        meta.update(scale=np.asarray(scales, dtype=np.float64), offset=np.asarray(offsets, dtype=np.float64),
                    scale_source="GDAL band scale/offset")
    wl = units = fwhm = None
    source = None
    if all("wavelength" in t for t in band):
        wl = per_band_numbers([t["wavelength"] for t in band], b, "GDAL band item 'wavelength'", notes)
        source = ("GDAL .aux.xml sidecar" if _aux_has_wavelengths(path)
                  else "GDAL band metadata 'wavelength'")
        per_band = [t.get("wavelength_units") or units_all for t in band]
        units = per_band if all(per_band) else None
        if all("fwhm" in t for t in band):
            fwhm = per_band_numbers([t["fwhm"] for t in band], b, "GDAL band item 'fwhm'", notes)
    elif all("CENTRAL_WAVELENGTH_UM" in t for t in imagery):
        wl = per_band_numbers([t["CENTRAL_WAVELENGTH_UM"] for t in imagery], b, "GDAL CENTRAL_WAVELENGTH_UM", notes)
        units, source = "um", "GDAL IMAGERY CENTRAL_WAVELENGTH_UM"
    elif all(_wavelength_in(d) for d in descriptions):
        found = [_wavelength_in(d) for d in descriptions]
        wl, units = np.array([v for v, _ in found]), [u for _, u in found]
        source = "band descriptions/names (e.g. 'Band 1 (450.5 nm)')"
    bbl = None
    if all("bbl" in t for t in band):
        bbl = per_band_numbers([t["bbl"] for t in band], b, "GDAL band item 'bbl'", notes)
    meta.update(spectral_meta(wl, units, fwhm, bbl, notes))
    if "wavelengths" in meta:
        meta["wavelength_source"] = source
    if "wavelengths" in meta and "fwhm" not in meta and all("FWHM_UM" in t for t in imagery):
        fwhm = per_band_numbers([t["FWHM_UM"] for t in imagery], b, "GDAL FWHM_UM", notes)
        if fwhm is not None and np.all(np.isfinite(fwhm)) and np.all(fwhm > 0):
            meta["fwhm"] = fwhm * 1e3
    return with_notes(meta, notes)
