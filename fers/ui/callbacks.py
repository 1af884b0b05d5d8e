"""Event handlers of the app. Each handler turns every problem into a one-line ``gr.Error`` (never a
traceback in the page). Output tuples follow the name lists ``RUN_OUTPUTS`` etc. that the layout uses.

Shapes: cubes ``(H, W, B)``, maps and GT ``(H, W)``.
"""

import functools
import html
import logging
import re
import time
from contextlib import contextmanager
from pathlib import Path

import gradio as gr
import numpy as np
from gradio import FileData

import fers.ui.plots as plots
from fers import methods as M
from fers import progress as fers_progress
from fers.detectors import DEFAULT_WINDOWS, parse_windows
from fers.errors import FersInputError
from fers.ui import analysis, results
from fers.ui.inputs import (AUTO, NONE, as_paths, check_upload, half_envi_pair, load_scene, mat_key_choices,
                            pick_cube_file, settle_upload, staged_cube)
from fers.ui.tempdirs import discard_uploads, trim_memory

log = logging.getLogger("fers.app")

EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "examples"
EXAMPLES = {
    "Airport-4 (AVIRIS, 191 bands)": "abu-airport-4.mat",
    "Urban-3 (AVIRIS, 191 bands)": "abu-urban-3.mat",
    "Beach-4 crop (ROSIS, 102 bands)": "abu-beach-4-crop100.mat",
}
BAND_MODES = ("model bands from start", "band range", "all bands (RX only)", "auto (measured default)")
DEFAULT_BAND_MODE = BAND_MODES[3]  # bands "auto": RX on every band, the models on the adapted cube
DETECTORS = (("global RX", "rx"), ("local RX (dual window)", "lrx"))

RUN_OUTPUTS = ("status", "preview", "map_rx", "map_spectral", "map_spatial", "map_fused", "auc_table",
               "roc_plot", "timing_table", "downloads", "mask_image", "mask_text", "state")
KEY_OUTPUTS = ("cube_key", "gt_key", "file_info")
UPLOAD_OUTPUTS = ("cube_files", "cube_seen") + KEY_OUTPUTS
EXAMPLE_OUTPUTS = ("cube_files", "gt_file", "cube_seen") + KEY_OUTPUTS
FAILURE_OUTPUTS = ("cube_files", "gt_file") + RUN_OUTPUTS

_DIR_PART = re.compile(r"(?<![\w.])(?:[A-Za-z]:)?[/\\](?:[^\s/\\:'\"]+[/\\])+")


def _plain(msg) -> str:
    """Strip directories from paths (uploads live in temp dirs) and keep a single line."""
    return " ".join(_DIR_PART.sub("", str(msg)).split())


def _for_page(msg) -> str:
    """:func:`_plain` with ``<``, ``>``, ``&`` escaped: the page's toast renders ``gr.Error`` as HTML, so
    ``<f4`` would vanish as a tag; escaped, the reader sees ``<f4``. (The API sends the plain line.)"""
    return html.escape(_plain(msg), quote=False)


def user_errors(fn=None, *, page: bool = True):
    """Decorator: FersInputError / MemoryError / anything else -> ``gr.Error`` with a one-line message,
    escaped for the page's HTML toast (``page=True``) or plain text for the API (``page=False``)."""
    if fn is None:
        return functools.partial(user_errors, page=page)
    line = _for_page if page else _plain

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except FersInputError as e:
            raise gr.Error(line(e), duration=None, print_exception=False) from None
        except MemoryError:
            raise gr.Error("not enough memory for this scene; crop it or select fewer bands",
                           duration=None, print_exception=False) from None
        except Exception as e:  # unexpected: log the traceback on the server, show one line in the page
            log.exception("unexpected error in %s", fn.__name__)
            raise gr.Error(line(f"unexpected error ({type(e).__name__}): {e}"), duration=None,
                           print_exception=False) from None
        finally:
            trim_memory()  # a big request's freed memory goes back to the system, not kept by the server

    return wrapper


def band_spec_from_controls(mode: str, model_n, start, band_range: str) -> str:
    """The ``bands`` string for :func:`fers.pipeline.detect` from the band controls."""
    if mode == BAND_MODES[3]:
        return "auto"
    if mode == BAND_MODES[2]:
        return "all"
    if mode == BAND_MODES[1]:
        text = (band_range or "").strip()
        if ":" not in text:
            raise FersInputError(f"band range {text!r}: write START:STOP, e.g. 10:110")
        return text
    try:
        n, s = int(model_n), int(start or 0)
    except (TypeError, ValueError):
        raise FersInputError(f"model bands {model_n!r} / start {start!r} must be whole numbers") from None
    if s < 0:
        raise FersInputError(f"start band {s} must be >= 0")
    return str(n) if s == 0 else f"{s}:{s + n}"


def _key_updates(path):
    cubes, planes, desc = mat_key_choices(path) if path is not None else ([], [], "")
    cube_up = gr.update(choices=[AUTO] + cubes, value=AUTO, interactive=len(cubes) > 1)
    gt_up = gr.update(choices=[AUTO, NONE] + planes, value=AUTO, interactive=bool(planes))
    return cube_up, gt_up, (f"Arrays in the file: {desc}" if desc else "")


def _box(kept, files):
    """The cube box's update: its new file list when :func:`settle_upload` dropped files, else no change."""
    return gr.update(value=[str(p) for p in kept] or None) if len(kept) != len(as_paths(files)) else gr.update()


@user_errors
def on_cube_upload(files, seen=None):
    """An upload replaces what the cube box held before (an example, an earlier file; an ENVI header and
    its data file stay together, see :func:`fers.ui.inputs.settle_upload`); ``seen`` is the box's list
    after the previous upload (a ``gr.State``). The file is checked from its header and refused ones
    are deleted at once. Fills the key dropdowns from a ``.mat`` (other formats: keys disabled).
    Outputs: ``UPLOAD_OUTPUTS``."""
    if not files:
        return (gr.update(), []) + _key_updates(None)
    kept, replaced = settle_upload(files, seen, EXAMPLES.values())
    _discard(replaced)
    box, now = _box(kept, files), [str(p) for p in kept]
    if half_envi_pair(kept):
        return (box, now) + _key_updates(None)[:2] + (
            "ENVI: now add the header's data file (or the .hdr of the data file)",)
    try:
        cube = pick_cube_file(kept)
        check_upload(cube)
        keys = _key_updates(cube)
    except FersInputError:
        _discard(kept)  # refused: deleted now, not when the cache is next cleaned
        raise
    return (box, now) + keys


def _discard(paths) -> None:
    """Delete uploads now (:func:`fers.ui.tempdirs.discard_uploads`), except the bundled examples' cached
    copies: Gradio keeps one copy per content for every session, so the examples stay."""
    discard_uploads(p for p in map(Path, paths) if not _is_example_copy(p))


def _is_example_copy(p: Path) -> bool:
    """A bundled example as Gradio shows it (its cached copy): never deleted, other sessions share it."""
    src = EXAMPLES_DIR / p.name
    try:
        return p.name in EXAMPLES.values() and p.stat().st_size == src.stat().st_size
    except OSError:
        return False


def load_example(name: str):
    """Put a bundled example into the upload boxes (detection runs right after). Outputs: ``EXAMPLE_OUTPUTS``."""
    path = EXAMPLES_DIR / EXAMPLES[name]
    return ([str(path)], None, []) + _key_updates(path)


def after_failure(files, gt_file):
    """After a failed upload or run: the boxes drop files that were deleted (refused), and the results
    panel is cleared, so the previous scene's maps are not shown as if they were the current result."""
    gone = lambda f: bool(as_paths(f)) and not all(p.is_file() for p in as_paths(f))  # noqa: E731
    cube_up = gr.update(value=None) if gone(files) else gr.update()
    gt_up = gr.update(value=None) if gone(gt_file) else gr.update()
    return (cube_up, gt_up) + cleared_results()


def cleared_results() -> tuple:
    """Every output in ``RUN_OUTPUTS`` order, emptied, with a status line saying there is no current result."""
    status = ("**No current result**: the last action failed (the message says why). Upload a cube or click "
              "an example, then press **Detect anomalies**.")
    empty = {"status": status, "auc_table": gr.update(value=[], headers=["method", "AUC(D,F)"]),
             "timing_table": gr.update(value=[], headers=["stage", "seconds"]), "mask_text": ""}
    return tuple(empty.get(k) for k in RUN_OUTPUTS)


def _detect(files, cube_key, gt_file, gt_key, bands, backend, detector, windows, weights=None):
    """Check, load and detect; ``result.seconds`` gets the loading time as its first stage, ``load``.

    Before anything is decoded the files' headers are checked against the app's limits and the memory
    budget (:func:`fers.pipeline.check_file_request`); a cube or ground truth that cannot be read is
    deleted from the upload cache at once. Every refusal names the file."""
    from fers.pipeline import check_file_request, detect

    t = time.perf_counter()
    gt_paths = as_paths(gt_file)
    args = dict(bands=bands, backend=backend, detector=detector, weights=weights or None)
    uploads = as_paths(files) + gt_paths
    with staged_cube(files) as cube_path:
        key = None if cube_key in (None, "", AUTO, NONE) else cube_key
        with _delete_if_refused(uploads):  # over the app's limits: the file itself is refused
            check_upload(cube_path, key)
        # the memory the chosen settings need: the file is fine, other settings may fit
        check_file_request(cube_path, key=key, gt_path=gt_paths[0] if gt_paths else None, mmap=True, **args)
        with _delete_if_refused(uploads):  # unreadable, or a ground truth of another size
            scene = load_scene(cube_path, cube_key, gt_file, gt_key)
    load_s = time.perf_counter() - t
    try:
        result = detect(scene.cube, scene.gt, windows=windows, name=scene.name, **args)
    except FersInputError as e:
        raise FersInputError(str(e), Path(cube_path).name if e.path is None else None) from None
    result.seconds = {"load": load_s, **result.seconds}
    return scene, result


@contextmanager
def _delete_if_refused(uploads):
    """Delete at once the uploads a FersInputError in the block names (an ENVI pair goes as a whole)."""
    try:
        yield
    except FersInputError as e:
        named = _plain(e).split(":", 1)[0].strip()
        files = [p for p in uploads if p.name == named]
        _discard(files + [p for p in uploads if files and p not in files and p.stem == files[0].stem])
        raise


def _weights_path(upload, text) -> str | None:
    """A user checkpoint: the uploaded ``.pt`` (wins), else a local path typed in the text box."""
    path = getattr(upload, "name", upload) or (str(text).strip() if text else "")
    return str(path) if path else None


def _status(scene, result, bands, fused_name) -> str:
    gt = "none" if scene.gt is None else f"{int(np.count_nonzero(scene.gt))} anomaly pixels"
    h, w, b = scene.cube.shape
    lines = [
        f"**Scene** `{html.escape(scene.name)}`: {h} x {w} pixels, {b} bands "
        f"({scene.info.get('format', '?')}, stored as {scene.info.get('source_dtype', '?')}); ground truth: {gt}; "
        f"preview bands R,G,B = {plots.rgb_band_indices(b, scene.wavelengths)}",
        f"**Bands** `{bands}` -> model bands: {result.model_bands or 'none'}; "
        f"**band adapter**: {html.escape(str(result.band_adapter))}",
        f"**Detector** {result.detector}, **backend** {result.backend}, **weights** "
        f"{html.escape(Path(result.weights).name if result.weights != 'shipped' else 'shipped')}, "
        f"**fused map**: {fused_name} ({M.BY_NAME[fused_name].title if fused_name in M.BY_NAME else fused_name})",
        f"**Methods computed**: {', '.join(result.maps)}",
    ]
    if result.notes:
        lines.append("**Not available**: " + html.escape("; ".join(_plain(n) for n in result.notes)))
    if result.auc_note:
        lines.append("**AUC**: " + html.escape(result.auc_note))
    return "\n\n".join(lines)


@user_errors
def run_detection(files, cube_key, gt_file, gt_key, band_mode, model_n, band_start, band_range, fusion_choice,
                  backend, detector, windows_text, threshold, weights_file=None, weights_text="",
                  progress=gr.Progress(track_tqdm=True)):
    """Main button: load, detect, and fill every output in ``RUN_OUTPUTS`` order. Every stage that can
    take a while shows a tqdm bar (:mod:`fers.progress`), which ``track_tqdm`` puts into the page."""
    bands = band_spec_from_controls(band_mode, model_n, band_start, band_range)
    windows = parse_windows(windows_text) if detector == "lrx" else DEFAULT_WINDOWS
    kept, _ = settle_upload(files, examples=EXAMPLES.values())  # an example goes when the user's own file is there
    progress(0, desc="loading")
    with fers_progress.shown():
        scene, result = _detect(kept, cube_key, gt_file, gt_key, bands, backend, detector, windows,
                                _weights_path(weights_file, weights_text))
    gt = scene.gt if result.auc is not None else None
    fused_name = results.fused_method(fusion_choice, result)
    note = "not computed:\n" + "\n".join(_plain(n) for n in result.notes) if result.notes else "not computed"
    maps = results.map_images(result, gt, fused_name, note)
    headers, rows = results.auc_rows(result)
    timing = results.timing_rows(result)
    auc_table = gr.update(value=rows, headers=headers) if gt is not None else gr.update(
        value=[[m, None] for m in result.maps], headers=["method", "AUC (no ground truth)"])
    files_out = results.write_downloads(result, gt, scene.name)
    k = analysis.preview_upscale(*scene.cube.shape[:2])
    preview = plots.false_colour(scene.cube, scene.wavelengths, upscale=k)
    mask_src = fused_name if fused_name in result.maps else "rx"
    mask_img, mask_txt = analysis.mask_image(result.maps[mask_src], threshold, gt, mask_src)
    state = {"cube": scene.cube, "wavelengths": scene.wavelengths, "gt": gt, "maps": result.maps,
             "mask_src": mask_src, "upscale": k, "cube_used": result.cube_used, "f_spe": result.f_spe,
             "f_spa": result.f_spa, "name": scene.name}
    return (_status(scene, result, bands, fused_name), preview, *maps, auc_table,
            results.roc_plot(result, gt), timing, files_out, mask_img, mask_txt, state)


@user_errors
def on_threshold(state, threshold):
    """Slider: re-threshold the fused (or RX) map -> ``(mask image, summary line)``."""
    if not state:
        return None, "run a detection first"
    return analysis.mask_image(state["maps"][state["mask_src"]], threshold, state["gt"], state["mask_src"])


@user_errors
def on_pixel_select(state, evt: gr.SelectData):
    """Click on the preview: that pixel's spectrum against the scene mean."""
    if not state:
        raise FersInputError("run a detection first, then click a pixel of the preview")
    r, c = analysis.pixel_from_click(evt.index, state["upscale"], state["cube"].shape)
    return analysis.spectrum_plot(state["cube"], r, c, state["wavelengths"], state["gt"])


@user_errors
def on_pca(state, max_background):
    """Analysis tab: the Fig. 9 PCA scatter before / after enhancement."""
    if not state:
        raise FersInputError("run a detection first (Results tab), then compute the PCA view")
    fig = analysis.pca_figure(state["cube_used"], state["f_spe"], state["f_spa"], state["gt"], int(max_background))
    gt = state["gt"]
    note = ("no ground truth: every pixel is drawn as background" if gt is None else
            f"{int(np.count_nonzero(gt))} anomaly pixels (red), background subsampled to {int(max_background)}")
    return fig, note


def api_detect(cube: FileData | list[FileData], gt: FileData | None = None, bands: str = "auto", fusion: str = "default (measured)",
               backend: str = "onnx", detector: str = "rx", windows: str = "5,15", cube_key: str = "auto",
               gt_key: str = "auto", weights: FileData | None = None) -> dict:
    """Named endpoint ``/detect``: a cube file (the only required argument; ENVI: the ``.hdr`` and its data
    file as a list) -> the result dict of ``fers detect --json`` plus ``fusion`` / ``fused_method``.

    Defaults: no ground truth, bands ``auto``, the measured default fusion, the ONNX backend, global
    RX, local-RX windows 5,15, automatic ``.mat`` keys, the shipped weights (or an uploaded ``.pt``).
    """
    return _api_detect(cube, gt, bands, fusion, backend, detector, windows, cube_key, gt_key, weights)


@user_errors(page=False)
def _api_detect(cube, gt, bands, fusion, backend, detector, windows, cube_key, gt_key, weights):
    path = lambda f: None if f is None else (f.get("path") if isinstance(f, dict) else str(f))  # noqa: E731
    files = [path(f) for f in cube] if isinstance(cube, list) else [path(cube)]
    try:
        windows_t = parse_windows(windows or "5,15")
        key = lambda k: AUTO if (k or "auto").strip().lower() in ("auto", AUTO) else k  # noqa: E731
        scene, result = _detect(files, key(cube_key), path(gt), key(gt_key), str(bands or "auto").strip(),
                                backend or "onnx", detector or "rx", windows_t, path(weights))
        return results.summary_json(result, fusion)
    finally:  # each API call uploads its own files: once answered (or refused) they go
        _discard([p for p in files + [path(gt), path(weights)] if p])
