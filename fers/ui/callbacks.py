"""Event handlers of the app. Each handler turns every problem into a one-line ``gr.Error`` (never a
traceback in the page). Output tuples follow the name lists ``RUN_OUTPUTS`` etc. that the layout uses.

Shapes: cubes ``(H, W, B)``, maps and GT ``(H, W)``.
"""

import functools
import html
import logging
import re
import time
from pathlib import Path

import gradio as gr
import numpy as np
from gradio import FileData

import fers.ui.plots as plots
from fers import methods as M
from fers.detectors import DEFAULT_WINDOWS, parse_windows
from fers.errors import FersInputError
from fers.ui import analysis, results
from fers.ui.inputs import AUTO, NONE, load_scene, mat_key_choices, pick_cube_file, stage_cube_upload

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
UPLOAD_OUTPUTS = ("cube_key", "gt_key", "file_info")
EXAMPLE_OUTPUTS = ("cube_files", "gt_file") + UPLOAD_OUTPUTS

_DIR_PART = re.compile(r"(?<![\w.])(?:[A-Za-z]:)?[/\\](?:[^\s/\\:'\"]+[/\\])+")


def _plain(msg) -> str:
    """Strip directories from paths (uploads live in temp dirs) and keep a single line."""
    return " ".join(_DIR_PART.sub("", str(msg)).split())


def _one_line(msg) -> str:
    """:func:`_plain` with ``<``, ``>``, ``&`` escaped (``gr.Error`` renders HTML; quotes stay readable)."""
    return html.escape(_plain(msg), quote=False)


def user_errors(fn):
    """Decorator: FersInputError / MemoryError / anything else -> ``gr.Error`` with a one-line message."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except FersInputError as e:
            raise gr.Error(_one_line(e), duration=None, print_exception=False) from None
        except MemoryError:
            raise gr.Error("not enough memory for this scene; crop it or select fewer bands",
                           duration=None, print_exception=False) from None
        except Exception as e:  # unexpected: log the traceback on the server, show one line in the page
            log.exception("unexpected error in %s", fn.__name__)
            raise gr.Error(_one_line(f"unexpected error ({type(e).__name__}): {e}"), duration=None,
                           print_exception=False) from None

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


@user_errors
def on_cube_upload(files):
    """Fill the key dropdowns from the uploaded ``.mat`` (other formats: keys disabled)."""
    if not files:
        return _key_updates(None)
    return _key_updates(pick_cube_file(files))  # checked only: the run stages (copies) an ENVI pair itself


def load_example(name: str):
    """Put a bundled example into the upload boxes (detection runs right after)."""
    path = EXAMPLES_DIR / EXAMPLES[name]
    return ([str(path)], None) + _key_updates(path)


def _detect(files, cube_key, gt_file, gt_key, bands, backend, detector, windows, weights=None):
    """Load and detect; ``result.seconds`` gets the loading time as its first stage, ``load``."""
    from fers.pipeline import detect

    t = time.perf_counter()
    scene = load_scene(stage_cube_upload(files), cube_key, gt_file, gt_key)
    load_s = time.perf_counter() - t
    result = detect(scene.cube, scene.gt, bands=bands, backend=backend, detector=detector, windows=windows,
                    weights=weights or None, name=scene.name)
    result.seconds = {"load": load_s, **result.seconds}
    return scene, result


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
                  backend, detector, windows_text, threshold, weights_file=None, weights_text=""):
    """Main button: load, detect, and fill every output in ``RUN_OUTPUTS`` order."""
    bands = band_spec_from_controls(band_mode, model_n, band_start, band_range)
    windows = parse_windows(windows_text) if detector == "lrx" else DEFAULT_WINDOWS
    scene, result = _detect(files, cube_key, gt_file, gt_key, bands, backend, detector, windows,
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


@user_errors
def _api_detect(cube, gt, bands, fusion, backend, detector, windows, cube_key, gt_key, weights):
    path = lambda f: None if f is None else (f.get("path") if isinstance(f, dict) else str(f))  # noqa: E731
    files = [path(f) for f in cube] if isinstance(cube, list) else [path(cube)]
    windows_t = parse_windows(windows or "5,15")
    key = lambda k: AUTO if (k or "auto").strip().lower() in ("auto", AUTO) else k  # noqa: E731
    scene, result = _detect(files, key(cube_key), path(gt), key(gt_key), str(bands or "auto").strip(),
                            backend or "onnx", detector or "rx", windows_t, path(weights))
    return results.summary_json(result, fusion)
