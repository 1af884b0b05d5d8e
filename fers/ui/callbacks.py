"""Event handlers of the app. Each handler turns every problem into a one-line ``gr.Error`` (never a
traceback in the page). Output tuples follow the name lists ``RUN_OUTPUTS`` etc. that the layout uses.

Shapes: cubes ``(H, W, B)``, maps and GT ``(H, W)``.
"""

import functools
import html
import logging
import re
from pathlib import Path

import gradio as gr
import numpy as np
from gradio import FileData

import fers.ui.plots as plots
from fers import methods as M
from fers import progress as fers_progress
from fers.detectors import all_options
from fers.errors import FersError, FersInputError
from fers.notes import page_text
from fers.pipeline import DetectOptions
from fers.ui import analysis, gate, results, worker
from fers.ui.inputs import AUTO, NONE, as_paths, half_pair, mat_key_choices, pair_key, settle_upload, staged_cube
from fers.ui.request import (  # noqa: F401
    BAND_MODES,
    DEFAULT_BAND_MODE,
    DEFAULT_WAVELENGTHS,
    DETECTORS,
    WAVELENGTH_MODE,
    PageRequest,
    band_spec_from_controls,
)
from fers.ui.tempdirs import discard_uploads, trim_memory
from fers.ui.worker import WorkerLost

log = logging.getLogger("fers.app")

EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "examples"
EXAMPLES = {
    "Airport-4 (AVIRIS, 191 bands)": "abu-airport-4.mat",
    "Urban-3 (AVIRIS, 191 bands)": "abu-urban-3.mat",
    "Beach-4 crop (ROSIS, 102 bands)": "abu-beach-4-crop100.mat",
}
EXAMPLE_FILES = {f: EXAMPLES_DIR / f for f in EXAMPLES.values()}  # what the gate accepts as an example copy

RUN_OUTPUTS = ("status", "preview", "map_rx", "map_spectral", "map_spatial", "map_fused", "auc_table",
               "roc_plot", "timing_table", "downloads", "mask_image", "mask_text", "state", "threshold")
KEY_OUTPUTS = ("cube_key", "gt_key", "file_info", "band_nm")
UPLOAD_OUTPUTS = ("cube_files", "cube_seen") + KEY_OUTPUTS
EXAMPLE_OUTPUTS = ("cube_files", "gt_file", "cube_seen") + KEY_OUTPUTS
FAILURE_OUTPUTS = ("cube_files", "gt_file") + RUN_OUTPUTS + KEY_OUTPUTS

UNEXPECTED = "the request failed on the server (an internal error, logged there); try again or report it"
_DIR_PART = re.compile(r"(?<![\w.])(?:[A-Za-z]:)?[/\\](?:[^\s/\\:'\"]+[/\\])+")


def _plain(msg) -> str:
    """Strip directories from paths (uploads live in temp dirs) and keep a single line."""
    return " ".join(_DIR_PART.sub("", str(msg)).split())


def _for_page(msg) -> str:
    """:func:`_plain` with ``<``, ``>``, ``&`` escaped: the page's toast renders ``gr.Error`` as HTML, so
    ``<f4`` would vanish as a tag; escaped, the reader sees ``<f4``. (The API sends the plain line.)"""
    return html.escape(_plain(msg), quote=False)


def user_errors(fn=None, *, page: bool = True):
    """Decorator: FersError (any kind) / MemoryError / anything else -> ``gr.Error`` with a one-line message,
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
        except FersError as e:
            raise gr.Error(line(e), duration=None, print_exception=False) from None
        except MemoryError as e:
            raise gr.Error(str(e) if str(e).startswith("not enough memory") else
                           "not enough memory for this scene; crop it or select fewer bands",
                           duration=None, print_exception=False) from None
        except WorkerLost as e:
            raise gr.Error(line(e), duration=None, print_exception=False) from None
        except Exception:  # unexpected: the traceback goes to the server log, the page gets one plain line
            log.exception("unexpected error in %s", fn.__name__)
            raise gr.Error(UNEXPECTED, duration=None, print_exception=False) from None
        finally:
            trim_memory()  # a big request's freed memory goes back to the system, not kept by the server

    return wrapper


def _key_updates(path, info=None):
    """The key dropdowns, the file-info line and the wavelength box (``KEY_OUTPUTS``) for a cube file
    (None: emptied). ``info``: :func:`fers.ui.jobs.describe_upload` of the file (key choices, band
    line, wavelength span); the wavelength box gets the file's span when it has wavelengths, else
    stays as it is."""
    if path is None:
        info = {"cubes": [], "planes": [], "desc": ""}
    elif info is None:  # a bundled example: read here (trusted, small)
        cubes, planes, desc = mat_key_choices(path)
        info = {"cubes": cubes, "planes": planes, "desc": desc}
    cubes, planes, desc = info["cubes"], info["planes"], info["desc"]
    cube_up = gr.update(choices=[AUTO] + cubes, value=AUTO, interactive=len(cubes) > 1)
    gt_up = gr.update(choices=[AUTO, NONE] + planes, value=AUTO, interactive=bool(planes))
    lines = [f"Arrays in the file: {desc}"] if desc else []
    if info.get("summary"):
        lines.insert(0, f"**File** `{html.escape(Path(path).name)}`: {html.escape(info['summary'])}")
    nm = info.get("wavelengths")
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
    list after the previous upload (a ``gr.State``). The files pass the gate (:mod:`fers.ui.gate`), then
    the cube is checked from its header and read for its band metadata in a worker
    (:func:`fers.ui.jobs.describe_upload`); refused ones are deleted at once.
    Fills the key dropdowns from a ``.mat`` (other formats: keys disabled), the file-info line (bands,
    wavelength span, bad bands, georeference) and the wavelength box (the file's span).
    Outputs: ``UPLOAD_OUTPUTS``."""
    if not files:
        return (gr.update(), []) + _key_updates(None)
    files = [str(p) for p in gate.uploaded(files, "cube", examples=EXAMPLE_FILES)]
    kept, replaced = settle_upload(files, seen, EXAMPLES.values())
    _discard(replaced)
    box, now = _box(kept, files), [str(p) for p in kept]
    if half := half_pair(kept):
        return (box, now) + _key_updates(None)[:2] + (HALF_PAIR[half], gr.update())
    lone_enmap = len(kept) == 1 and (pair_key(kept[0]) or ("",))[0] == "enmap"
    try:
        with staged_cube(kept) as (cube, _):
            keys = _key_updates(cube, worker.run("describe_upload", cube))
    except FersError as e:
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
    copies (:func:`fers.ui.gate.example_copy`): Gradio keeps one copy per content for every session, so the
    examples stay."""
    discard_uploads(p for p in map(Path, paths) if not gate.example_copy(p, EXAMPLE_FILES))


def load_example(name: str):
    """Put a bundled example into the upload boxes (detection runs right after). Outputs: ``EXAMPLE_OUTPUTS``."""
    path = EXAMPLES_DIR / EXAMPLES[name]
    return ([str(path)], None, []) + _key_updates(path)


def after_failure(files, gt_file):
    """After a failed upload or run: the boxes drop files that were deleted (refused), and the results
    panel is cleared, so the previous scene's maps are not shown as if they were the current result."""
    gone = lambda f: bool(as_paths(f)) and not _passes_gate(f)  # noqa: E731
    cube_up = gr.update(value=None) if gone(files) else gr.update()
    gt_up = gr.update(value=None) if gone(gt_file) else gr.update()
    keys = _key_updates(None) if gone(files) else (gr.update(),) * len(KEY_OUTPUTS)  # no stale file line
    return (cube_up, gt_up) + cleared_results() + keys


def _passes_gate(files) -> bool:
    try:
        gate.uploaded(files, "file", examples=EXAMPLE_FILES)
        return True
    except FersInputError:
        return False


def cleared_results() -> tuple:
    """Every output in ``RUN_OUTPUTS`` order, emptied, with a status line saying there is no current result."""
    status = ("**No current result**: the last action failed (the message says why). Upload a cube or click "
              "an example, then press **Detect anomalies**.")
    empty = {"status": status, "auc_table": gr.update(value=[], headers=["method", "AUC(D,F)"]),
             "timing_table": gr.update(value=[], headers=["stage", "seconds"]), "mask_text": "",
             "threshold": gr.update()}
    return tuple(empty.get(k) for k in RUN_OUTPUTS)


def _detect(files, cube_key, gt_file, gt_key, options):
    """Stage the request's files under its own name and detect in a worker
    (:func:`fers.ui.jobs.detect_upload`) -> ``(scene, result)``. ``files``, ``gt_file`` and the
    options' weights have passed the gate. Every refusal names the file."""
    with staged_cube(files, gt_file) as (cube_path, gt_path):
        return worker.run("detect_upload", cube_path, cube_key, gt_path, gt_key, options)


def _weights_path(upload, text) -> Path | None:
    """A user checkpoint: the uploaded ``.pt`` (wins; through the gate), else a server path typed in the
    box (local mode only, :func:`fers.ui.gate.server_path`)."""
    if upload:
        return gate.uploaded(upload, "checkpoint")[0]
    return gate.server_path(text, "checkpoint path")


def dropped_bands(scene, keep_bad):
    """``(B,)`` bool of the bands dropped as bad (the file's list, the water-vapour windows) before
    detection, or None when none are (``keep_bad``, or no band metadata): shaded in the spectrum plot."""
    from fers.bands import band_masks

    if keep_bad or (scene.wavelengths is None and scene.bad_bands is None):
        return None
    drop = band_masks(scene.cube.shape[2], scene.wavelengths, scene.bad_bands)[2]
    return drop if drop.any() else None


def _bands_used(scene, result) -> str | None:
    """The status line on the bands used: how many of the file's, their wavelength span, and why
    others were dropped (the result's ``bands.*`` notes); None for a file without band metadata."""
    used = result.to_dict().get("wavelengths_used_nm")
    notes = [n for n in result.notes if n.group == "bands"]
    if used is None and not notes:
        return None
    b = scene.cube.shape[2]
    if used:  # the wavelength selection's own note repeats the count and span of the head
        notes = [n for n in notes if n.code != "bands.selected"]
    head = (f"{used['count']} of {b} bands, {used['min']:g}-{used['max']:g} nm" if used else
            f"{b} bands in the file")
    return "**Bands used**: " + html.escape("; ".join([head] + [_plain(page_text(n)) for n in notes]), quote=False)


def _status(scene, result, bands, fused_name, downloads=None) -> str:
    """The status text, the result's notes grouped by code: band notes on the bands line, no-data on its
    own, the others say which methods did not run. ``downloads``: what :func:`results.write_downloads`
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
    if (used := _bands_used(scene, result)) is not None:
        lines.insert(2, used)
    other = [n for n in result.notes if n.group not in ("bands", "nodata")]
    nodata = [n for n in result.notes if n.group == "nodata"]
    if other:
        lines.append("**Not available**: " + html.escape("; ".join(_plain(page_text(n)) for n in other)))
    if nodata:
        lines.append("**No-data pixels**: " + html.escape("; ".join(_plain(n) for n in nodata), quote=False))
    if result.auc_note:
        lines.append("**AUC**: " + html.escape(result.auc_note))
    if downloads:
        lines.append("**Downloads**: " + html.escape("; ".join(downloads), quote=False))
    return "\n\n".join(lines)


@user_errors
def run_detection(*controls, progress=gr.Progress(track_tqdm=True)):
    """Main button: load, detect, and fill every output in ``RUN_OUTPUTS`` order. ``controls``: the
    page's controls in :class:`fers.ui.request.PageRequest` order (the wavelength box is used in the
    wavelength mode; the keep-bad-bands box off drops the file's bad bands and the water-vapour windows,
    as on the command line). Every stage that can take a while shows a progress bar (:mod:`fers.progress`);
    the slider is set to the downloads' mask rule (:data:`fers.ui.results.MAPS_THRESHOLD`) on the map
    in the fused slot."""
    req = PageRequest(*controls)
    options = req.options()
    files = gate.uploaded(req.cube_files, "cube", examples=EXAMPLE_FILES)
    gt_paths = gate.uploaded(req.gt_file, "ground truth", optional=True)
    weights = _weights_path(req.weights_file, req.weights_text)
    options = options.with_(weights=str(weights) if weights else None)
    kept, _ = settle_upload(files, examples=EXAMPLES.values())  # an example goes when the user's own file is there
    progress(0, desc="loading")
    with fers_progress.shown():
        scene, result = _detect(kept, req.cube_key, gt_paths, req.gt_key, options)
    gt = scene.gt if result.auc is not None else None
    fused_name = results.fused_method(req.fusion, result)
    other = [_plain(page_text(n)) for n in result.notes if n.group not in ("bands", "nodata")]
    note = "not computed:\n" + "\n".join(other) if other else "not computed"
    maps = results.map_images(result, gt, fused_name, note)
    headers, rows = results.auc_rows(result)
    timing = results.timing_rows(result)
    auc_table = gr.update(value=rows, headers=headers) if gt is not None else gr.update(
        value=[[m, None] for m in result.maps], headers=["method", "AUC (no ground truth)"])
    mask_src = fused_name if fused_name in result.maps else "rx"
    written = results.write_downloads(results.as_shown(result, mask_src), gt, scene.name, scene)
    files_out = gr.update(value=[str(w.path) for w in written], label=results.downloads_label(written))
    k = analysis.preview_upscale(*scene.cube.shape[:2])
    preview = plots.false_colour(scene.cube, scene.wavelengths, upscale=k)
    thr = analysis.rule_threshold(result.maps[mask_src], results.MAPS_THRESHOLD)
    mask_img, mask_txt = analysis.mask_image(result.maps[mask_src], thr, gt, mask_src)
    state = {"cube": scene.cube, "wavelengths": scene.wavelengths, "gt": gt, "maps": result.maps,
             "mask_src": mask_src, "upscale": k, "cube_used": result.cube_used, "f_spe": result.f_spe,
             "f_spa": result.f_spa, "name": scene.name, "dropped": dropped_bands(scene, req.keep_bad)}
    phrases = [d for w in written if (d := results.describe_written(w))]
    status = _status(scene, result, options.bands, fused_name, phrases)
    slider = gr.update(value=thr, label=f"Threshold on the min-max {mask_src} map (set to {thr:.3f} = the top 0.1 %, "
                                        f"{results.MAPS_THRESHOLD}, as in the downloads)")
    return (status, preview, *maps, auc_table,
            results.roc_plot(result, gt), timing, files_out, mask_img, mask_txt, state, slider)


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
               fusion: str = "default (measured)", backend: str = DetectOptions.backend,
               detector: str = DetectOptions.detector, windows: str = all_options()["windows"].text,
               cube_key: str = "auto", gt_key: str = "auto", weights: FileData | None = None,
               keep_bad_bands: bool = False) -> dict:
    """Named endpoint ``/detect``: a cube file (the only required argument; ENVI: the ``.hdr`` and its data
    file as a list; EnMAP: the ``SPECTRAL_IMAGE.TIF`` and its ``METADATA.XML`` as a list) -> the result
    dict of ``fers detect --json`` plus ``fusion`` / ``fused_method``.

    Defaults: those of ``fers detect``: no ground truth, bands ``auto`` (the grammar of ``--bands``,
    wavelength ranges such as ``400-1340nm,1450-1800nm`` included), the measured default fusion, backend
    ``auto``, global RX, local-RX windows 5,15, automatic ``.mat`` keys, the shipped weights (or an
    uploaded ``.pt``), and ``keep_bad_bands=False``: bands the file marks bad and the water-vapour windows
    are dropped, as ``fers detect`` does without ``--keep-bad-bands``.
    """
    return _api_detect(cube, gt, cube_key, gt_key, weights, fusion, bands=str(bands or "auto").strip(),
                       backend=backend or None, detector=detector or None, windows=windows or None,
                       keep_bad_bands=bool(keep_bad_bands))


@user_errors(page=False)
def _api_detect(cube, gt, cube_key, gt_key, weights, fusion, **options):
    files = gate.uploaded(cube, "cube", api=True)
    gt_paths = gate.uploaded(gt, "gt", api=True, optional=True)  # the API names its arguments
    if isinstance(weights, str) and weights.strip():
        weights_path = gate.server_path(weights, "weights")  # a server path: local mode only
    else:
        weights_path = gate.uploaded(weights, "weights", api=True)[0] if weights else None
    opts = DetectOptions.make(**options, weights=str(weights_path) if weights_path else None).checked()
    key = lambda k: AUTO if (k or "auto").strip().lower() in ("auto", AUTO) else k  # noqa: E731
    scene, result = _detect(files, key(cube_key), gt_paths, key(gt_key), opts)
    return results.summary_json(result, fusion)
