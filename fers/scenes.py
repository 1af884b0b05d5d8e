"""Scenes as files: what ``fers bench`` and ``fers batch`` share to turn a path into a result.

``scene_files`` expands inputs (HAD100 folders into ``(cube, gt)`` pairs), ``mmap_for`` decides which
files are memory-mapped (the pipeline then streams them), ``detect_file`` runs :func:`fers.detect` on a
loaded :class:`fers.io.Scene` and names the file in any error.
"""

from __future__ import annotations

from pathlib import Path

from fers.errors import FersError, with_path


def scene_files(items):
    """Expand HAD100 folders into (cube, gt) pairs; plain files stay (file, None)."""
    out = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            from fers.io.had100 import HAD100

            out.extend(HAD100(p).test_pairs())
        else:
            out.append((p, None))
    return out


def mmap_for(path) -> bool:
    """Memory-map big files (the pipeline then streams them, see fers.large): a file of
    ``LARGE_MEMMAP_BYTES`` or more (an ENVI cube: its data file, however it is named), or one whose
    header says it decodes to that much and can be mapped (a compressed NetCDF is then spilled to a temporary map, see :func:`fers.memmap.spill`)."""
    from fers.io.peek import peek_cube
    from fers.memmap import LARGE_MEMMAP_BYTES

    try:
        if _data_file(Path(path)).stat().st_size >= LARGE_MEMMAP_BYTES:
            return True
    except (OSError, FersError):
        return False  # load_cube reports the problem
    head = peek_cube(path) if Path(path).suffix.lower() == ".nc" else None
    return head is not None and head.mappable and head.values * 4 >= LARGE_MEMMAP_BYTES


def _data_file(path: Path) -> Path:
    """The file that holds the values: an ENVI image named by its ``.hdr`` is decided by its data
    file (the header is a few KB whatever the cube's size), every other file by itself."""
    if path.suffix.lower() == ".hdr":
        from fers.io.envi import find_envi_pair

        return find_envi_pair(path)[1]
    return path


def detect_file(path, scene, a):
    """``fers.detect`` on a loaded scene with the options of ``a`` (``bands``, ``backend``, ``detector``,
    ``windows``, ``weights``, ``adapter``, ``keep_bad_bands``: the CLI's names) and the scene's band
    metadata (wavelengths, bad bands); a problem it reports is re-raised naming the file."""
    from fers.pipeline import detect

    try:
        res = detect(scene.cube, scene.gt, bands=a.bands, backend=a.backend, detector=a.detector,
                      windows=a.windows, weights=a.weights, name=scene.name, adapter=a.adapter,
                      nodata=scene.nodata, wavelengths=scene.wavelengths, bad_bands=scene.bad_bands,
                     keep_bad_bands=getattr(a, "keep_bad_bands", False))
    except FersError as e:
        raise with_path(e, path) from None
    res.options = result_options(a)
    return res


def result_options(a) -> dict:
    """Every option of ``a`` that changes a result, as JSON values: band spec, backend (resolved),
    detector, windows, weights, adapter, TIFF layout, no-data value, keep-bad-bands. Stored in the
    output's meta; ``batch --resume`` keeps an output only when they are all the same."""
    from fers.bands import parse_band_spec
    from fers.detectors import parse_windows
    from fers.enhance import resolve_backend

    nodata = getattr(a, "nodata", None)
    return {"bands": parse_band_spec(a.bands).describe(), "backend": resolve_backend(a.backend, a.weights),
            "detector": a.detector, "windows": list(parse_windows(a.windows)),
            "weights": str(a.weights) if a.weights else "shipped", "adapter": a.adapter,
            "layout": getattr(a, "layout", None), "nodata": None if nodata is None else float(nodata),
            "keep_bad_bands": bool(getattr(a, "keep_bad_bands", False))}


def precheck(a, cube_path, key=None, gt_path=None, gt_key=None) -> bool:
    """Refuse the request from the files' headers before decoding them (the memory budget,
    :mod:`fers.budget`); returns whether to memory-map the cube. ``a``: the options as for
    :func:`detect_file`."""
    from fers.pipeline import check_file_request

    mmap = mmap_for(cube_path)
    check_file_request(cube_path, key=key, gt_path=gt_path, gt_key=gt_key, mmap=mmap, bands=a.bands,
                       backend=a.backend, detector=a.detector, weights=a.weights, adapter=a.adapter)
    return mmap
