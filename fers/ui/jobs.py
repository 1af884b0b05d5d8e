"""The work of the app's requests that reads client files: run in a worker process (:mod:`fers.ui.worker`)
when the app is served, in the caller's process otherwise. No Gradio here: a worker imports only
NumPy, the readers, the pipeline and ONNX Runtime.

Every function takes paths the gate (:mod:`fers.ui.gate`) has accepted and staged into a per-request
folder, and returns plain picklable values. Shapes: cubes ``(H, W, B)``, maps and GT ``(H, W)``.
"""

from __future__ import annotations

import time
from pathlib import Path

from fers.errors import FersError, with_path
from fers.ui.inputs import (
    AUTO,
    NONE,
    band_summary,
    check_upload,
    load_scene,
    mat_key_choices,
    upload_scene,
    wavelength_text,
)
from fers.ui.tempdirs import trim_memory

WARM_BANDS = (50, 100, 200)  # the shipped ONNX models, opened once per worker


def warm_up() -> None:
    """Import what a request needs and open the shipped ONNX models, so no request pays for it."""
    import fers.io.cube  # noqa: F401 -- the readers
    import fers.pipeline  # noqa: F401
    from fers.enhance import ModelUnavailable, make_enhancer

    for n in WARM_BANDS:
        try:
            make_enhancer(n, "onnx")
        except (ModelUnavailable, ImportError):
            pass


def trim() -> None:
    trim_memory()


def describe_upload(cube_path) -> dict:
    """What the page shows right after an upload: the ``.mat`` key choices, the file line (bands,
    wavelengths, bad bands, georeference) and the wavelength span. Header checks first (the app's value
    limit, :func:`fers.ui.inputs.check_upload`; the memory budget, :func:`fers.pipeline.check_file_request`),
    then the file is read for its band metadata."""
    from fers.pipeline import check_file_request

    check_upload(cube_path)
    # the cheapest request on this file (plain RX on every band) must fit: what it decodes, from its header
    check_file_request(cube_path, mmap=True, bands="all", backend="onnx")
    cubes, planes, desc = mat_key_choices(cube_path)
    scene = upload_scene(cube_path)
    return {"cubes": cubes, "planes": planes, "desc": desc,
            "summary": band_summary(scene) if scene is not None else None,
            "wavelengths": wavelength_text(scene.wavelengths) if scene is not None else None}


def detect_upload(cube_path, cube_key, gt_path, gt_key, options):
    """Check, load and detect -> ``(scene, result)``; ``result.seconds`` starts with ``load``.

    ``options``: :class:`fers.pipeline.DetectOptions`. Before anything is decoded the files' headers are
    checked against the app's limits and the memory budget (:func:`fers.pipeline.check_file_request`).
    The scene's band metadata goes to :func:`fers.pipeline.detect` as the command line passes it:
    wavelengths, bad bands, no-data value."""
    from fers.pipeline import check_file_request, detect

    t = time.perf_counter()
    key = None if cube_key in (None, "", AUTO, NONE) else cube_key
    check_upload(cube_path, key)
    check_file_request(cube_path, key=key, gt_path=gt_path, mmap=True, options=options)
    scene = load_scene(cube_path, cube_key, gt_path, gt_key)
    load_s = time.perf_counter() - t
    try:
        result = detect(scene.cube, scene.gt, wavelengths=scene.wavelengths, bad_bands=scene.bad_bands,
                        options=options.with_(name=scene.name, nodata=scene.nodata))
    except FersError as e:
        raise with_path(e, Path(cube_path).name) from None
    result.seconds = {"load": load_s, **result.seconds}
    return scene, result
