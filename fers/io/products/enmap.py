"""EnMAP L2A: the band table of ``...-METADATA.XML`` applied to ``...-SPECTRAL_IMAGE.TIF``.

An EnMAP L2A product folder holds the reflectance GeoTIFF
``ENMAP01-____L2A-DT..._Z-SPECTRAL_IMAGE.TIF`` (``(B, H, W)`` planes, int16 reflectance x 10000,
no-data -32768, UTM CRS and transform in the GeoTIFF keys) and ``...-METADATA.XML``, whose
``specific/bandCharacterisation/bandID[@number]`` elements give each band's
``wavelengthCenterOfBand`` and ``FWHMOfBand`` (nm) and ``GainOfBand`` / ``OffsetOfBand``
(value = DN x gain + offset).

The reader (:data:`READER`) claims a ``.tif`` / ``.tiff`` when :func:`find_metadata_xml` finds its
XML: :func:`fers.io.tiff.read_tiff` reads the GeoTIFF (data, CRS, transform, no-data), then
:func:`apply_metadata` applies the band table. Bands filled entirely with the no-data value
(EnMAP L2A has a few) are reported as bad bands and set to 0, so that they do not mask every pixel.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from fers.errors import FersInputError
from fers.io.formats import TIFF_EXTS
from fers.io.header import Header
from fers.io.registry import Reader
from fers.io.tiff import read_tiff, tiff_header
from fers.io.wavelengths import to_nm, with_notes

MAX_XML_BYTES = 64 * 2**20  # a real METADATA.XML is well under 1 MiB
IMAGE_PART = "SPECTRAL_IMAGE"
XML_PART = "METADATA.XML"
XML_EXTS = (".xml",)


def find_metadata_xml(path) -> Path | None:
    """The ``METADATA.XML`` of an EnMAP image: the same name with ``SPECTRAL_IMAGE...`` and the
    extension replaced by ``METADATA.XML``, else the only ``*METADATA.XML`` in the folder; or None."""
    path = Path(path)
    upper = path.name.upper()
    if IMAGE_PART in upper:
        stem = path.name[: upper.rindex(IMAGE_PART)]
        for name in (stem + "METADATA.XML", stem + "METADATA.xml"):
            if (path.parent / name).is_file():
                return path.parent / name
    try:
        found = [p for p in path.parent.iterdir() if p.name.upper().endswith("METADATA.XML") and p.is_file()]
    except OSError:
        return None
    return found[0] if len(found) == 1 else None


def _local(tag) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _number(text, what: str, xml) -> float:
    try:
        return float(str(text).strip())
    except (TypeError, ValueError):
        raise FersInputError(f"EnMAP metadata: {what} {str(text).strip()!r} is not a number", xml) from None


def read_band_characterisation(xml) -> dict | None:
    """``{"number", "wavelength", "fwhm", "gain", "offset"}`` arrays ``(B,)`` (by band number; fwhm,
    gain and offset None when a band lacks them) from ``specific/bandCharacterisation``; None when the
    XML has no band table (not an EnMAP product). A malformed XML is refused in one line."""
    xml = Path(xml)
    try:
        if xml.stat().st_size > MAX_XML_BYTES:
            raise FersInputError(f"EnMAP metadata larger than {MAX_XML_BYTES // 2**20} MiB; not read", xml)
        root = ET.parse(str(xml)).getroot()
    except FersInputError:
        raise
    except Exception as e:
        msg = " ".join(str(e).split())
        raise FersInputError(f"cannot read EnMAP metadata (not well-formed XML): {type(e).__name__}: {msg}",
                             xml) from None
    table = [el for el in root.iter() if _local(el.tag) == "bandCharacterisation"]
    if not table:
        return None
    rows = []
    for el in table[0]:
        if _local(el.tag) != "bandID":
            continue
        fields = {_local(c.tag): c.text for c in el}
        number = _number(el.get("number", len(rows) + 1), "bandID number", xml)
        if "wavelengthCenterOfBand" not in fields:
            raise FersInputError(f"EnMAP metadata: bandID {int(number)} has no wavelengthCenterOfBand", xml)
        rows.append((number, *(_number(fields[k], k, xml) if k in fields else np.nan
                               for k in ("wavelengthCenterOfBand", "FWHMOfBand", "GainOfBand", "OffsetOfBand"))))
    if not rows:
        return None
    a = np.array(sorted(rows), dtype=np.float64)
    out = {"number": a[:, 0].astype(int), "wavelength": a[:, 1]}
    for i, k in enumerate(("fwhm", "gain", "offset"), start=2):
        out[k] = None if np.isnan(a[:, i]).any() else a[:, i]
    return out


def _level(name: str) -> str:
    for level in ("L2A", "L1C", "L1B"):
        if level in name.upper():
            return f"EnMAP {level}"
    return "EnMAP"


def apply_metadata(arr: np.ndarray, xml, nodata, path) -> tuple[np.ndarray, dict]:
    """Apply an EnMAP band table to ``arr (H, W, B)`` as read from the GeoTIFF -> ``(cube, meta)``.

    ``meta``: ``wavelengths``/``fwhm`` (nm), ``bad_bands`` (True = the band holds only ``nodata``),
    ``product``, ``enmap_metadata`` (the XML's name), ``scaling`` (what was done to the values) and
    ``metadata_notes``. Integer data with a gain other than 1 or an offset other than 0 become float32
    ``DN x gain + offset`` (the no-data value itself is kept, so it still masks its pixels); bands
    that are entirely ``nodata`` become 0. A table whose band count differs from the image is not
    used, with a note; for an L1B image (a VNIR or SWIR part of a pair) that is a one-line
    refusal saying to pass the L2A/L1C image, which holds VNIR and SWIR in one cube."""
    xml = Path(xml)
    table = read_band_characterisation(xml)
    h, w, b = arr.shape
    if table is None:
        return arr, {"metadata_notes": [f"{xml.name} has no EnMAP band table (specific/bandCharacterisation); "
                                        "not used"]}
    if len(table["wavelength"]) != b and _level(Path(path).name) == "EnMAP L1B":
        part = next((p for p in ("VNIR", "SWIR") if p in Path(path).name.upper()), "VNIR or SWIR")
        raise FersInputError(f"EnMAP L1B {part} image: {xml.name} describes {len(table['wavelength'])} bands "
                             f"(VNIR and SWIR together), this image has {b}; L1B keeps VNIR and SWIR as separate, "
                             "not co-registered images, which FERS does not read as one cube: pass the L2A "
                             "(or L1C) ...-SPECTRAL_IMAGE.TIF with its METADATA.XML", path)
    if len(table["wavelength"]) != b:
        return arr, {"metadata_notes": [f"{xml.name} describes {len(table['wavelength'])} bands, the image has {b}; "
                                        "its band table is not used"]}
    meta: dict = {"product": _level(Path(path).name), "enmap_metadata": xml.name}
    meta["wavelengths"] = to_nm(table["wavelength"], "nm", xml)
    if table["fwhm"] is not None:
        meta["fwhm"] = to_nm(table["fwhm"], "nm", xml, what="FWHM values")
    gain, offset = table["gain"], table["offset"]
    scale = (arr.dtype.kind in "iu" and gain is not None and offset is not None
             and (np.any(gain != 1) or np.any(offset != 0)))
    fill = [] if nodata is None else [i for i in range(b) if np.all(arr[..., i] == nodata)]
    if len(fill) == b:
        fill = []  # no valid value anywhere: load_cube refuses the file with its own message
    meta["bad_bands"] = np.isin(np.arange(b), fill)
    if fill:
        meta["fill_bands"] = [i + 1 for i in fill]
    if not (scale or fill):
        meta["scaling"] = ("none: the values are stored as floats" if arr.dtype.kind == "f"
                           else "none: gain 1 and offset 0 (or not given)")
        return arr, meta
    out = np.empty(arr.shape, dtype=np.float32 if scale else arr.dtype)  # C order: no copy in load_cube
    for i in range(b):
        band = np.asarray(arr[..., i])
        if i in fill:
            out[..., i] = 0
        elif scale:
            v = band.astype(np.float32) * np.float32(gain[i]) + np.float32(offset[i])
            if nodata is not None:
                v[band == nodata] = nodata
            out[..., i] = v
        else:
            out[..., i] = band
    if scale:
        g, o = np.unique(gain), np.unique(offset)
        meta["scaling"] = ("DN x GainOfBand + OffsetOfBand from the metadata XML (gain "
                           f"{g[0]:g}{'...' if g.size > 1 else ''}, offset {o[0]:g}{'...' if o.size > 1 else ''}); "
                           f"no-data {nodata:g} kept as is")
    else:
        meta["scaling"] = "none"
    if fill:
        meta["metadata_notes"] = [f"bands {meta['fill_bands']} hold only the no-data value: marked bad and set to 0"]
    return out, meta


def read(path, opts) -> tuple[np.ndarray, dict]:
    """An EnMAP GeoTIFF -> ``(cube (H, W, B), meta)``: :func:`fers.io.tiff.read_tiff`, then the
    ``METADATA.XML`` band table (:func:`apply_metadata`: wavelengths, FWHM, gain/offset, fill bands)."""
    arr, info = read_tiff(path, mmap=opts.mmap, layout=opts.layout)
    xml = find_metadata_xml(path)
    if arr.ndim != 3 or xml is None:
        return arr, info
    arr, extra = apply_metadata(arr, xml, info["nodata"], path)
    if str(extra.get("scaling", "")).startswith("DN x"):  # the XML's gain/offset: not applied twice
        for k in ("scale", "offset", "scale_source"):
            info.pop(k, None)
    if "wavelengths" in extra:
        extra["wavelength_source"] = f"EnMAP {xml.name}"
    notes = extra.pop("metadata_notes", [])
    with_notes(info, notes).update(extra)
    return arr, info


def peek(path, key=None) -> Header | None:
    """The GeoTIFF's header; integer DN are not mappable (the reader scales them in memory)."""
    return tiff_header(path, map_integers=False)


def sniff(path: Path) -> bool:
    """A GeoTIFF with an EnMAP ``METADATA.XML`` beside it (:func:`find_metadata_xml`)."""
    return path.suffix.lower() in TIFF_EXTS and find_metadata_xml(path) is not None


def pair(path: Path):
    """An EnMAP ``<name>-SPECTRAL_IMAGE.TIF`` and ``<name>-METADATA.XML`` share ``<name>-``."""
    ext, upper = path.suffix.lower(), path.name.upper()
    if ext in XML_EXTS and upper.endswith(XML_PART):
        return upper[: -len(XML_PART)]
    if ext in TIFF_EXTS and IMAGE_PART in upper:
        return upper[: upper.rindex(IMAGE_PART)]
    return None


READER = Reader(name="enmap", title="EnMAP L2A SPECTRAL_IMAGE.TIF + METADATA.XML", extensions=(), peek=peek,
                read=read, mmap="map", sniff=sniff, companions=XML_EXTS, options=frozenset({"layout"}),
                noun="TIFF", pair=pair)
