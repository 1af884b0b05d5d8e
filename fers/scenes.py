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
    ``LARGE_MEMMAP_BYTES`` or more (an ENVI cube: its data file, however it is named,
    :func:`fers.io.registry.data_file`), or, for a reader that spills (``Reader.mmap == "spill"``: a
    compressed NetCDF is decoded into a temporary map, see :func:`fers.memmap.spill`), one whose
    header says it decodes to that much and can be mapped."""
    from fers.io.peek import peek_cube
    from fers.io.registry import data_file, reader_for
    from fers.memmap import LARGE_MEMMAP_BYTES

    try:
        if data_file(path).stat().st_size >= LARGE_MEMMAP_BYTES:
            return True
    except (OSError, FersError):
        return False  # load_cube reports the problem
    reader = reader_for(path)
    head = peek_cube(path) if reader is not None and reader.mmap == "spill" else None
    return head is not None and head.mappable and head.values * 4 >= LARGE_MEMMAP_BYTES


def detect_file(path, scene, options, layout=None):
    """``fers.detect`` on a loaded scene with ``options`` (:class:`fers.pipeline.DetectOptions`) and the
    scene's band metadata (wavelengths, bad bands, no-data value, name); a problem it reports is
    re-raised naming the file. The result's ``options`` are :func:`result_options`."""
    from fers.pipeline import detect

    try:
        res = detect(scene.cube, scene.gt, wavelengths=scene.wavelengths, bad_bands=scene.bad_bands,
                     options=options.with_(name=scene.name, nodata=scene.nodata))
    except FersError as e:
        raise with_path(e, path) from None
    res.options = result_options(options, layout)
    return res


def result_options(options, layout=None) -> dict:
    """Every option that changes a result, as JSON values (:meth:`fers.pipeline.DetectOptions.as_json`)
    and the TIFF layout. Stored in the output's meta; ``batch --resume`` keeps an output only when they
    are all the same."""
    return {**options.as_json(), "layout": layout}


def precheck(options, cube_path, key=None, gt_path=None, gt_key=None) -> bool:
    """Refuse the request from the files' headers before decoding them (the memory budget,
    :mod:`fers.budget`); returns whether to memory-map the cube. ``options``: as for :func:`detect_file`."""
    from fers.pipeline import check_file_request

    mmap = mmap_for(cube_path)
    check_file_request(cube_path, key=key, gt_path=gt_path, gt_key=gt_key, mmap=mmap, options=options)
    return mmap
