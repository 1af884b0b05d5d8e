"""Turning the app's uploads into a loaded scene (all reading goes through :mod:`fers.io.cube`).

* :func:`settle_upload` decides what the cube box keeps after an upload (an upload replaces an example or
  an earlier file; an ENVI header and its data file stay together, and so do an EnMAP
  ``SPECTRAL_IMAGE.TIF`` and its ``METADATA.XML``).
* :func:`pick_cube_file` checks an upload and picks its cube file; :func:`staged_cube` links the
  request's files into a per-request temp dir (the two files of an ENVI or EnMAP pair side by side).
* :func:`check_upload` refuses a file from its header (value limit, pickled ``.npy``) before decoding.
* :func:`band_summary` / :func:`wavelength_text`: the one-line band metadata of a loaded scene and its
  wavelength span in the band-spec grammar, for the page after an upload.
* :func:`mat_key_choices` lists a ``.mat`` file's arrays for the key dropdowns.
* :func:`load_scene` loads cube (+ GT) and refuses cubes above :mod:`fers.ui.limits`.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from fers.errors import FersInputError
from fers.io import registry
from fers.io.envi import HEADER_EXT
from fers.io.formats import GT_EXTS, TIFF_EXTS, formats_text
from fers.io.products.enmap import XML_EXTS
from fers.io.products.enmap import XML_PART as ENMAP_XML
from fers.ui.limits import check_cube_size
from fers.ui.tempdirs import link_or_copy, request_dir

AUTO = "(auto)"
NONE = "(none)"


def as_paths(files) -> list[Path]:
    if files is None:
        return []
    if isinstance(files, (str, Path)):
        files = [files]
    out = []
    for f in files:
        p = getattr(f, "name", f) if not isinstance(f, (str, Path, dict)) else f
        if isinstance(p, dict):
            p = p.get("path") or p.get("name")
        if p:
            out.append(Path(p))
    return out


def pick_cube_file(files) -> Path:
    """Check an upload and return its cube file (the ``.hdr`` of an ENVI pair, the ``.tif`` of an
    EnMAP ``SPECTRAL_IMAGE.TIF`` + ``METADATA.XML`` pair) where it was uploaded."""
    paths = as_paths(files)
    if not paths:
        raise FersInputError(f"no cube file: upload a cube ({formats_text()}) or click an example")
    headers = [p for p in paths if p.suffix.lower() == HEADER_EXT]
    if headers:
        if len(headers) > 1:
            raise FersInputError("several ENVI headers uploaded; upload one .hdr together with its data file")
        if len(paths) < 2:
            raise FersInputError("ENVI header uploaded alone; upload the .hdr together with its data file",
                                 path=headers[0].name)
        return headers[0]
    xmls = [p for p in paths if p.suffix.lower() in XML_EXTS]
    if xmls:
        return _enmap_image(paths, xmls)
    cubes = [p for p in paths if p.suffix.lower() in registry.cube_file_exts()]
    if len(paths) > 1:
        raise FersInputError(
            f"{len(paths)} files uploaded; upload one cube file (or an ENVI .hdr together with its data file, "
            "or an EnMAP SPECTRAL_IMAGE.TIF together with its METADATA.XML)")
    if not cubes:
        raise FersInputError(
            f"unsupported cube format {paths[0].suffix or '(no extension)'}; use {formats_text()}",
            path=paths[0].name)
    return cubes[0]


def _enmap_image(paths: list[Path], xmls: list[Path]) -> Path:
    """The GeoTIFF of an EnMAP pair (one ``.tif`` and one ``...METADATA.XML``), or a one-line refusal."""
    xml = xmls[0]
    if len(xmls) > 1:
        raise FersInputError("several XML files uploaded; upload one EnMAP METADATA.XML together with its "
                             "SPECTRAL_IMAGE.TIF")
    if not xml.name.upper().endswith(ENMAP_XML):
        raise FersInputError(f"{xml.suffix} is not a cube format; an XML file is read only as an EnMAP "
                             f"...{ENMAP_XML} beside its SPECTRAL_IMAGE.TIF", path=xml.name)
    if len(paths) == 1:
        raise FersInputError("EnMAP METADATA.XML uploaded alone; upload it together with its SPECTRAL_IMAGE.TIF",
                             path=xml.name)
    tifs = [p for p in paths if p.suffix.lower() in TIFF_EXTS]
    if len(paths) != 2 or len(tifs) != 1:
        raise FersInputError(f"{len(paths)} files uploaded with an EnMAP METADATA.XML; upload the XML together "
                             "with its one SPECTRAL_IMAGE.TIF")
    return tifs[0]


@contextmanager
def staged_cube(files, gt=None):
    """``(cube path, GT path or None)`` to load, for the duration of the block: every file of this
    request (checked by :func:`pick_cube_file`) is linked (copied where links are not possible) into a
    directory of this request's own, removed when the block ends.

    So concurrent requests on the same upload never share or remove each other's files, and an ENVI
    ``.hdr`` and its data file, or an EnMAP ``SPECTRAL_IMAGE.TIF`` and its ``METADATA.XML`` (Gradio
    keeps each upload in a folder of its own), sit side by side, where the reader looks for them.
    """
    cube = pick_cube_file(files)
    paths = as_paths(files)
    gt_paths = as_paths(gt)
    with request_dir("request") as stage:
        for p in paths:
            link_or_copy(p, stage / p.name)
        staged_gt = None
        if gt_paths:
            (stage / "gt").mkdir()
            staged_gt = stage / "gt" / gt_paths[0].name
            link_or_copy(gt_paths[0], staged_gt)
        yield stage / cube.name, staged_gt


def pair_key(p: Path) -> tuple | None:
    """What ties the two files of a pair together: an ENVI header and its data file share a stem; an
    EnMAP ``<name>-SPECTRAL_IMAGE.TIF`` and ``<name>-METADATA.XML`` share ``<name>-``. None for a file
    that is not half of a pair."""
    return registry.pair_key(p)


def _complete(paths: list[Path]) -> bool:
    """One cube file, one ENVI header with its data file, or one GeoTIFF with an EnMAP METADATA.XML."""
    exts = sorted(p.suffix.lower() for p in paths)
    if len(paths) == 1:
        return exts[0] in registry.cube_file_exts() and exts[0] != HEADER_EXT
    if len(paths) != 2:
        return False
    if exts[0] in TIFF_EXTS and exts[1] in XML_EXTS:
        return paths[[p.suffix.lower() for p in paths].index(exts[1])].name.upper().endswith(ENMAP_XML)
    keys = {pair_key(p) for p in paths}
    return len(keys) == 1 and None not in keys and next(iter(keys))[0] == "envi" and exts.count(HEADER_EXT) == 1


def half_pair(paths) -> str | None:
    """``"envi"`` for an ENVI header or data file alone, ``"enmap"`` for an EnMAP METADATA.XML alone
    (its partner can come with the next upload); None otherwise. An EnMAP GeoTIFF alone is a complete
    cube (read as a plain GeoTIFF)."""
    paths = as_paths(paths)
    if len(paths) != 1 or (key := pair_key(paths[0])) is None:
        return None
    if key[0] == "enmap" and paths[0].suffix.lower() in TIFF_EXTS:
        return None
    return key[0]


def settle_upload(files, previous=(), examples=()) -> tuple[list[Path], list[Path]]:
    """``(kept, replaced)``: what the multi-file cube box should hold after an upload.

    The box takes several files only for a pair (an ENVI header and its data file; an EnMAP
    ``SPECTRAL_IMAGE.TIF`` and its ``METADATA.XML``), so an upload replaces what was there before: a
    bundled example (``examples``: its file names) goes as soon as any other file is present, and of the
    user's own files those not in ``previous`` (the box before this upload) are kept, plus earlier files
    that complete a pair with them (the two halves uploaded one after the other; for EnMAP the names
    must share the part before ``SPECTRAL_IMAGE`` / ``METADATA``)."""
    every = as_paths(files)
    paths = [p for p in every if p.name not in set(examples)] or every
    before = {str(p) for p in as_paths(previous)}
    new = [p for p in paths if str(p) not in before] or paths
    keys = {pair_key(p) for p in new} - {None}
    if len(new) < len(paths) and keys:
        partners = [p for p in paths if p not in new and pair_key(p) in keys]
        if not _complete(new) or (len(new) == 1 and _complete(new + partners)):
            new += partners  # (an EnMAP TIF alone is complete, but a METADATA.XML before it belongs to it)
    return new, [p for p in every if p not in new]


def check_upload(cube_path, key=None) -> None:
    """Refuse a cube file from its header alone, before anything is decoded: over the app's value limit
    (:mod:`fers.ui.limits`), or a pickled ``.npy`` (:mod:`fers.io.peek`)."""
    from fers.io.peek import peek_cube

    cube_path = Path(cube_path)
    if _is_mat(cube_path):
        _mat_precheck(cube_path, _key_or_none(key))
        return
    head = peek_cube(cube_path)
    if head is not None:
        check_cube_size(head.hwb(), cube_path.name)


def mat_key_choices(path) -> tuple[list[str], list[str], str]:
    """``(cube key choices, GT key choices, description)`` for a ``.mat`` file; non-.mat -> empty lists."""
    from fers.io.cube import list_mat_keys

    path = Path(path)
    if not _is_mat(path):
        return [], [], ""
    keys = list_mat_keys(path)
    cubes = [k for k, s, _ in keys if len(s) == 3]
    planes = [k for k, s, _ in keys if len(s) == 2]
    desc = ", ".join(f"`{k}` {'x'.join(str(i) for i in s)} {d}" for k, s, d in keys)
    return cubes, planes, desc


def _mat_precheck(path: Path, key) -> None:
    """Refuse an oversized ``.mat`` cube from its header alone, before loading it."""
    from fers.io.cube import list_mat_keys

    keys = list_mat_keys(path)
    shapes = {k: s for k, s, _ in keys if len(s) == 3}
    if key in shapes:
        check_cube_size(shapes[key], path.name)
    elif len(shapes) >= 1:
        check_cube_size(max(shapes.values(), key=lambda s: int(np.prod(s))), path.name)


def _is_mat(path) -> bool:
    """A ``.mat`` file (its reader, :mod:`fers.io.mat`, takes variable names as keys)."""
    return registry.reader_name(path) == "mat"


def _key_or_none(value):
    return None if value in (None, "", AUTO, NONE) else str(value)


def load_scene(cube_path, key=None, gt_file=None, gt_key=None):
    """Load ``(H, W, B)`` cube and optional GT via :func:`fers.io.cube.load_cube`; returns its ``Scene``.

    ``gt_key`` names a GT array inside the cube's own ``.mat`` (used when no separate GT file is given);
    ``(none)`` ignores a GT stored in the cube file.
    """
    from fers.io.cube import load_cube

    cube_path = Path(cube_path)
    key = _key_or_none(key)
    check_upload(cube_path, key)
    gt_paths = as_paths(gt_file)
    if gt_paths:
        g = gt_paths[0]
        if g.suffix.lower() not in GT_EXTS:
            raise FersInputError(
                f"unsupported ground-truth format {g.suffix or '(no extension)'}; use .png, .mat, .npy, .tif",
                path=g.name)
        # a separate GT .mat: its 2-D array of the cube's (H, W) is found automatically
        scene = load_cube(cube_path, key=key, gt_path=g, mmap=True)
    elif _is_mat(cube_path):
        scene = load_cube(cube_path, key=key, gt_key=_key_or_none(gt_key), mmap=True)
        if gt_key == NONE:
            scene.gt = None
    else:
        scene = load_cube(cube_path, key=key, mmap=True)
    check_cube_size(scene.cube.shape, cube_path.name)
    scene.cube = np.ascontiguousarray(scene.cube, dtype=np.float32)
    return scene


def upload_scene(cube_path):
    """The scene of an upload, read for its band metadata right after the upload (memory-mapped where
    the format allows; the app's limits bound the rest), or None for a ``.mat`` with several 3-D
    arrays (the cube is chosen later, in the key dropdown)."""
    from fers.io.cube import load_cube

    cube_path = Path(cube_path)
    if _is_mat(cube_path) and len(mat_key_choices(cube_path)[0]) > 1:
        return None
    scene = load_cube(cube_path, mmap=True)
    check_cube_size(scene.cube.shape, cube_path.name)
    return scene


def wavelength_text(wavelengths) -> str | None:
    """The span of ``wavelengths (B,)`` (nm) as a band spec, ``"381-2493nm"`` (rounded outwards to
    whole nm so every band is inside); None without wavelengths."""
    if wavelengths is None or len(wavelengths) == 0:
        return None
    wl = np.asarray(wavelengths, dtype=np.float64)
    return f"{math.floor(np.nanmin(wl))}-{math.ceil(np.nanmax(wl))}nm"


def band_summary(scene) -> str:
    """One line on a scene's bands and georeference, e.g. ``"60 bands, 381-2493 nm, 2 marked bad, 8 in
    the water-vapour windows; georeferenced (GeoTIFF (read by GDAL))"``."""
    from fers.bands import WATER_WINDOWS_NM, band_masks

    h, w, b = scene.cube.shape
    parts = [f"{h} x {w} pixels, {b} bands"]
    wl, bad = scene.wavelengths, scene.bad_bands
    if wl is not None and len(wl) == b:
        parts.append(f"{np.nanmin(wl):.0f}-{np.nanmax(wl):.0f} nm")
    else:
        parts.append("no wavelengths in the file")
        wl = None
    bad, water, _ = band_masks(b, wl, None if bad is None or len(bad) != b else bad)
    if bad.any():
        parts.append(f"{int(bad.sum())} marked bad")
    if water.any():
        windows = ", ".join(f"{lo:g}-{hi:g}" for lo, hi in WATER_WINDOWS_NM)
        parts.append(f"{int(water.sum())} in the water-vapour windows ({windows} nm)")
    g = scene.georef
    where = f"georeferenced ({g.describe()})" if g is not None else "no georeference"
    return ", ".join(parts) + "; " + where
