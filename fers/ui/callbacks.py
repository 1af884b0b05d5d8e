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
from fers.ui.inputs import (AUTO, NONE, as_paths, band_summary, check_upload, half_pair, load_scene,
                            mat_key_choices, pair_key, settle_upload, staged_cube, upload_scene, wavelength_text)
from fers.ui.tempdirs import discard_uploads, trim_memory

log = logging.getLogger("fers.app")

EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "examples"
EXAMPLES = {
    "Airport-4 (AVIRIS, 191 bands)": "abu-airport-4.mat",
    "Urban-3 (AVIRIS, 191 bands)": "abu-urban-3.mat",
    "Beach-4 crop (ROSIS, 102 bands)": "abu-beach-4-crop100.mat",
}
BAND_MODES = ("model bands from start", "band range", "all bands (RX only)", "auto (measured default)",
              "wavelength range (nm)")
DEFAULT_BAND_MODE = BAND_MODES[3]  # bands "auto": RX on every band, the models on the adapted cube
WAVELENGTH_MODE = BAND_MODES[4]
DEFAULT_WAVELENGTHS = "400-2500nm"  # the box's text until an upload with wavelengths fills in its own span
DETECTORS = (("global RX", "rx"), ("local RX (dual window)", "lrx"))

RUN_OUTPUTS = ("status", "preview", "map_rx", "map_spectral", "map_spatial", "map_fused", "auc_table",
               "roc_plot", "timing_table", "downloads", "mask_image", "mask_text", "state")
KEY_OUTPUTS = ("cube_key", "gt_key", "file_info", "band_nm")
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


def band_spec_from_controls(mode: str, model_n, start, band_range: str, band_nm: str = "") -> str:
    """The ``bands`` string for :func:`fers.pipeline.detect` from the band controls. The wavelength
    mode passes its box on (the grammar of :mod:`fers.bands`; a range without any unit is read in nm)."""
    if mode == BAND_MODES[3]:
        return "auto"
    if mode == WAVELENGTH_MODE:
        text = " ".join((band_nm or "").split())
        if not text:
            raise FersInputError(f"wavelength range is empty: write e.g. {DEFAULT_WAVELENGTHS} or "
                                 "400-1340nm,1450-1800nm")
        from fers.bands import parse_band_spec

        text = text if re.search(r"[^\d\s.,\-]", text) else text + "nm"
        if parse_band_spec(text).kind != "nm":  # grammar errors: the library's one line
            raise FersInputError(f"wavelength range {text!r} is not a wavelength range: write e.g. "
                                 f"{DEFAULT_WAVELENGTHS} (or pick the band range mode for band numbers)")
        return text
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


def _key_updates(path, scene=None):
    """The key dropdowns, the file-info line and the wavelength box (``KEY_OUTPUTS``) for a cube file
    (None: emptied). ``scene``: the file read by :func:`fers.ui.inputs.upload_scene`, for its band
    metadata; the wavelength box gets the file's span when it has wavelengths, else stays as it is."""
    cubes, planes, desc = mat_key_choices(path) if path is not None else ([], [], "")
    cube_up = gr.update(choices=[AUTO] + cubes, value=AUTO, interactive=len(cubes) > 1)
    gt_up = gr.update(choices=[AUTO, NONE] + planes, value=AUTO, interactive=bool(planes))
    lines = [f"Arrays in the file: {desc}"] if desc else []
    nm = None
    if scene is not None:
        lines.insert(0, f"**File** `{html.escape(Path(path).name)}`: {html.escape(band_summary(scene))}")
        nm = wavelength_text(scene.wavelengths)
    return cube_up, gt_up, "\n\n".join(lines), (gr.update(value=nm) if nm else gr.update())


def _box(kept, files):
    """The cube box's update: its new file list when :func:`settle_upload` dropped files, else no change."""
    return gr.update(value=[str(p) for p in kept] or None) if len(kept) != len(as_paths(files)) else gr.update()


HALF_PAIR = {"envi": "ENVI: now add the header's data file (or the .hdr of the data file)",
             "enmap": "EnMAP: now add the SPECTRAL_IMAGE.TIF that goes with this METADATA.XML"}


@user_errors
def on_cube_upload(files, seen=None):
    """An upload replaces what the cube box held before (an example, an earlier file; the two files of an
    ENVI or EnMAP pair stay together, see :func:`fers.ui.inputs.settle_upload`); ``seen`` is the box's
    list after the previous upload (a ``gr.State``). The file is checked from its header, then read
    for its band metadata (:func:`fers.ui.inputs.upload_scene`); refused ones are deleted at once.
    Fills the key dropdowns from a ``.mat`` (other formats: keys disabled), the file-info line (bands,
    wavelength span, bad bands, georeference) and the wavelength box (the file's span).
    Outputs: ``UPLOAD_OUTPUTS``."""
    if not files:
        return (gr.update(), []) + _key_updates(None)
    kept, replaced = settle_upload(files, seen, EXAMPLES.values())
    _discard(replaced)
    box, now = _box(kept, files), [str(p) for p in kept]
    if half := half_pair(kept):
        return (box, now) + _key_updates(None)[:2] + (HALF_PAIR[half], gr.update())
    lone_enmap = len(kept) == 1 and (pair_key(kept[0]) or ("",))[0] == "enmap"
    try:
        with staged_cube(kept) as cube:
            check_upload(cube)
            keys = _key_updates(cube, upload_scene(cube))
    except FersInputError as e:
        _discard(kept)  # refused: deleted now, not when the cache is next cleaned
        if lone_enmap:  # read as a plain GeoTIFF: raw DN, no-data bands
            raise FersInputError(f"{_plain(e)} (an EnMAP SPECTRAL_IMAGE.TIF is read with its METADATA.XML: "
                                 "upload both together)") from None
        raise
    if lone_enmap:
        keys = keys[:2] + (keys[2] + "\n\nEnMAP image without its METADATA.XML: read as a plain GeoTIFF (no "
                           "wavelengths, no gain/offset); upload the XML too to use its band table.",) + keys[3:]
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


def _detect(files, cube_key, gt_file, gt_key, bands, backend, detector, windows, weights=None, keep_bad=False):
    """Check, load and detect; ``result.seconds`` gets the loading time as its first stage, ``load``.
    The scene's band metadata goes to :func:`fers.pipeline.detect` as the command line passes it
    (:func:`fers.scenes.detect_file`): its wavelengths, bad bands and no-data value; bad bands and the
    water-vapour windows are dropped unless ``keep_bad``.

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
        result = detect(scene.cube, scene.gt, windows=windows, name=scene.name, nodata=scene.nodata,
                        wavelengths=scene.wavelengths, bad_bands=scene.bad_bands, keep_bad_bands=bool(keep_bad),
                        **args)
    except FersInputError as e:
        raise FersInputError(str(e), Path(cube_path).name if e.path is None else None) from None
    result.seconds = {"load": load_s, **result.seconds}
    return scene, result


@contextmanager
def _delete_if_refused(uploads):
    """Delete at once the uploads a FersInputError in the block names (an ENVI or EnMAP pair goes as a whole)."""
    try:
        yield
    except FersInputError as e:
        named = _plain(e).split(":", 1)[0].strip()
        files = [p for p in uploads if p.name == named]
        key = pair_key(files[0]) if files else None
        _discard(files + [p for p in uploads if files and p not in files and (
            p.stem == files[0].stem or (key is not None and pair_key(p) == key))])
        raise


def _weights_path(upload, text) -> str | None:
    """A user checkpoint: the uploaded ``.pt`` (wins), else a local path typed in the text box."""
    path = getattr(upload, "name", upload) or (str(text).strip() if text else "")
    return str(path) if path else None


def band_notes(scene, bands, keep_bad) -> list[str]:
    """The notes :func:`fers.band_select.resolve_bands` adds to a result for this scene and band spec
    (which bands were dropped or selected by wavelength), so the status can show them apart from the
    notes on methods that did not run."""
    if scene.wavelengths is None and scene.bad_bands is None:
        return []
    from fers.band_select import resolve_bands
    from fers.bands import parse_band_spec

    try:
        return resolve_bands(parse_band_spec(bands), scene.cube.shape[2], scene.wavelengths, scene.bad_bands,
                             bool(keep_bad))[1]
    except FersInputError:
        return []


def dropped_bands(scene, keep_bad):
    """``(B,)`` bool of the bands dropped as bad (the file's list, the water-vapour windows) before
    detection, or None when none are (``keep_bad``, or no band metadata): shaded in the spectrum plot."""
    from fers.band_select import band_masks

    if keep_bad or (scene.wavelengths is None and scene.bad_bands is None):
        return None
    drop = band_masks(scene.cube.shape[2], scene.wavelengths, scene.bad_bands)[2]
    return drop if drop.any() else None


def _app_words(note: str) -> str:
    """A library note in the page's words (the command line's flag is the page's checkbox)."""
    return note.replace("--keep-bad-bands", "the 'keep bad bands' box")


def _bands_used(scene, result, notes) -> str | None:
    """The status line on the bands used: how many of the file's, their wavelength span, and why
    others were dropped; None for a file without band metadata (the band line says it all)."""
    used = result.to_dict().get("wavelengths_used_nm")
    if used is None and not notes:
        return None
    b = scene.cube.shape[2]
    if used:  # the wavelength selection's own note repeats the count and span of the head
        notes = [n for n in notes if not re.match(r"bands .*: \d+ bands, ", n)]
    head = (f"{used['count']} of {b} bands, {used['min']:g}-{used['max']:g} nm" if used else
            f"{b} bands in the file")
    return "**Bands used**: " + html.escape("; ".join([head] + [_app_words(_plain(n)) for n in notes]), quote=False)


def _status(scene, result, bands, fused_name, notes=(), downloads=None) -> str:
    """The status text. ``notes``: the band notes (:func:`band_notes`), shown on their own line; the
    result's other notes say which methods did not run. ``downloads``: what :func:`results.write_downloads`
    wrote, one phrase per file."""
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
    if (used := _bands_used(scene, result, notes)) is not None:
        lines.insert(2, used)
    other = [n for n in result.notes if n not in notes]
    masked = int(getattr(result, "masked_pixels", 0) or 0)
    nodata = [n for n in other if masked and n.startswith(f"{masked} of ")]  # the pipeline's no-data note
    other = [n for n in other if n not in nodata]
    if other:
        lines.append("**Not available**: " + html.escape("; ".join(_app_words(_plain(n)) for n in other)))
    if nodata:
        lines.append("**No-data pixels**: " + html.escape("; ".join(_plain(n) for n in nodata), quote=False))
    if result.auc_note:
        lines.append("**AUC**: " + html.escape(result.auc_note))
    if downloads:
        lines.append("**Downloads**: " + html.escape("; ".join(downloads), quote=False))
    return "\n\n".join(lines)


@user_errors
def run_detection(files, cube_key, gt_file, gt_key, band_mode, model_n, band_start, band_range, fusion_choice,
                  backend, detector, windows_text, threshold, weights_file=None, weights_text="", band_nm="",
                  keep_bad_bands=False, progress=gr.Progress(track_tqdm=True)):
    """Main button: load, detect, and fill every output in ``RUN_OUTPUTS`` order. Every stage that can
    take a while shows a tqdm bar (:mod:`fers.progress`), which ``track_tqdm`` puts into the page.
    ``band_nm``: the wavelength box (used in the wavelength mode); ``keep_bad_bands``: the checkbox
    (off: the file's bad bands and the water-vapour windows are dropped, as on the command line)."""
    bands = band_spec_from_controls(band_mode, model_n, band_start, band_range, band_nm)
    windows = parse_windows(windows_text) if detector == "lrx" else DEFAULT_WINDOWS
    kept, _ = settle_upload(files, examples=EXAMPLES.values())  # an example goes when the user's own file is there
    progress(0, desc="loading")
    with fers_progress.shown():
        scene, result = _detect(kept, cube_key, gt_file, gt_key, bands, backend, detector, windows,
                                _weights_path(weights_file, weights_text), keep_bad_bands)
    gt = scene.gt if result.auc is not None else None
    fused_name = results.fused_method(fusion_choice, result)
    notes = band_notes(scene, bands, keep_bad_bands)
    masked = int(result.masked_pixels or 0)
    other = [_plain(n) for n in result.notes if n not in notes and not (masked and n.startswith(f"{masked} of "))]
    note = "not computed:\n" + "\n".join(other) if other else "not computed"
    maps = results.map_images(result, gt, fused_name, note)
    headers, rows = results.auc_rows(result)
    timing = results.timing_rows(result)
    auc_table = gr.update(value=rows, headers=headers) if gt is not None else gr.update(
        value=[[m, None] for m in result.maps], headers=["method", "AUC (no ground truth)"])
    written = results.write_downloads(result, gt, scene.name, scene)
    files_out = gr.update(value=[str(w.path) for w in written], label=results.downloads_label(written))
    k = analysis.preview_upscale(*scene.cube.shape[:2])
    preview = plots.false_colour(scene.cube, scene.wavelengths, upscale=k)
    mask_src = fused_name if fused_name in result.maps else "rx"
    mask_img, mask_txt = analysis.mask_image(result.maps[mask_src], threshold, gt, mask_src)
    state = {"cube": scene.cube, "wavelengths": scene.wavelengths, "gt": gt, "maps": result.maps,
             "mask_src": mask_src, "upscale": k, "cube_used": result.cube_used, "f_spe": result.f_spe,
             "f_spa": result.f_spa, "name": scene.name, "dropped": dropped_bands(scene, keep_bad_bands)}
    phrases = [d for w in written if (d := results.describe_written(w))]
    status = _status(scene, result, bands, fused_name, notes, phrases)
    return (status, preview, *maps, auc_table,
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
    return analysis.spectrum_plot(state["cube"], r, c, state["wavelengths"], state["gt"], state.get("dropped"))


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


def api_detect(cube: FileData | list[FileData], gt: FileData | None = None, bands: str = "auto",
               fusion: str = "default (measured)", backend: str = "onnx", detector: str = "rx", windows: str = "5,15",
               cube_key: str = "auto", gt_key: str = "auto", weights: FileData | None = None,
               keep_bad_bands: bool = False) -> dict:
    """Named endpoint ``/detect``: a cube file (the only required argument; ENVI: the ``.hdr`` and its data
    file as a list; EnMAP: the ``SPECTRAL_IMAGE.TIF`` and its ``METADATA.XML`` as a list) -> the result
    dict of ``fers detect --json`` plus ``fusion`` / ``fused_method``.

    Defaults: no ground truth, bands ``auto`` (the grammar of ``--bands``, wavelength ranges such as
    ``400-1340nm,1450-1800nm`` included), the measured default fusion, the ONNX backend, global RX,
    local-RX windows 5,15, automatic ``.mat`` keys, the shipped weights (or an uploaded ``.pt``), and
    ``keep_bad_bands=False``: bands the file marks bad and the water-vapour windows are dropped, as
    ``fers detect`` does without ``--keep-bad-bands``.
    """
    return _api_detect(cube, gt, bands, fusion, backend, detector, windows, cube_key, gt_key, weights,
                       keep_bad_bands)


@user_errors(page=False)
def _api_detect(cube, gt, bands, fusion, backend, detector, windows, cube_key, gt_key, weights, keep_bad_bands=False):
    path = lambda f: None if f is None else (f.get("path") if isinstance(f, dict) else str(f))  # noqa: E731
    files = [path(f) for f in cube] if isinstance(cube, list) else [path(cube)]
    try:
        windows_t = parse_windows(windows or "5,15")
        key = lambda k: AUTO if (k or "auto").strip().lower() in ("auto", AUTO) else k  # noqa: E731
        scene, result = _detect(files, key(cube_key), path(gt), key(gt_key), str(bands or "auto").strip(),
                                backend or "onnx", detector or "rx", windows_t, path(weights), bool(keep_bad_bands))
        return results.summary_json(result, fusion)
    finally:  # each API call uploads its own files: once answered (or refused) they go
        _discard([p for p in files + [path(gt), path(weights)] if p])
