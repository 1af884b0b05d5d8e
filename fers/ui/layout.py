"""The page: inputs and settings on the left, results / analysis tabs on the right, plus the named
API endpoint ``/detect`` (hidden components, callable with ``gradio_client``).
"""

import gradio as gr

from fers.detectors import all_options, get
from fers.enhance import BACKENDS
from fers.io.formats import GT_EXTS, formats_text
from fers.io.registry import upload_exts
from fers.pipeline import DetectOptions
from fers.ui import callbacks as cb
from fers.ui import gate
from fers.ui.inputs import AUTO, NONE
from fers.ui.limits import cache_cleanup
from fers.ui.request import PageRequest

CUBE_TYPES = sorted(upload_exts())  # cubes, ENVI data files, an EnMAP METADATA.XML beside its TIF
GT_TYPES = list(GT_EXTS)

INTRO = f"""# FERS — hyperspectral anomaly detection
Background feature enhancement ("Rebellious Student"): a spectral (FERD) and a spatial network
enhance the cube, then the parameter-free RX detector scores every pixel.
Click an example scene, or upload your own cube ({formats_text()}) and an optional ground truth, then press
**Detect anomalies**."""


def _inputs(c: dict) -> None:
    gr.Markdown("### 1. Scene")
    with gr.Row():
        c["example_buttons"] = [gr.Button(name, size="sm", elem_classes="example-btn") for name in cb.EXAMPLES]
    c["cube_files"] = gr.File(label="Cube file", file_count="multiple", file_types=CUBE_TYPES, elem_id="cube-files",
                              height=140)
    gr.Markdown("ENVI: the `.hdr` and its data file together; EnMAP: the `SPECTRAL_IMAGE.TIF` and its "
                "`METADATA.XML` together.", elem_id="cube-hint")
    c["cube_key"] = gr.Dropdown(label="Cube array (.mat with several)", choices=[AUTO], value=AUTO,
                                interactive=False, elem_id="cube-key")
    c["gt_file"] = gr.File(label="Ground truth (optional: .png, .mat, .npy, .tif)", file_count="single",
                           file_types=GT_TYPES, elem_id="gt-file", height=140)
    c["gt_key"] = gr.Dropdown(label="Ground-truth array inside the cube's .mat", choices=[AUTO, NONE], value=AUTO,
                              interactive=False, elem_id="gt-key")
    c["file_info"] = gr.Markdown(elem_id="file-info")
    gr.Markdown("### 2. Settings")
    c["band_mode"] = gr.Radio(list(cb.BAND_MODES), value=cb.DEFAULT_BAND_MODE, label="Band subset")
    with gr.Row(visible=False) as c["model_row"]:
        c["model_n"] = gr.Radio([50, 100, 200], value=200, label="Model bands", min_width=150)
        c["band_start"] = gr.Number(value=0, precision=0, minimum=0, label="Subset starts at band", min_width=120)
    c["band_range"] = gr.Textbox(value="0:100", label="Band range START:STOP (adapted to the nearest model)",
                                 visible=False, elem_id="band-range")
    c["band_nm"] = gr.Textbox(value=cb.DEFAULT_WAVELENGTHS, visible=False, elem_id="band-nm",
                              label="Wavelength range(s), e.g. 400-1000nm or 400-1340nm,1450-1800nm "
                                    "(needs a file with wavelengths; an upload fills in its span)")
    c["keep_bad"] = gr.Checkbox(value=False, elem_id="keep-bad",
                                label="Keep bad bands (off: the file's bad bands and the water-vapour windows "
                                      "are dropped, as on the command line)")
    c["fusion"] = gr.Radio(list(cb.results.FUSION_CHOICES), value=cb.results.DEFAULT_CHOICE,
                           label="Fused map (default: measured on cross-sensor validation; paper default: "
                                 "A for 50 bands, B otherwise)")
    with gr.Row():
        c["backend"] = gr.Radio(list(BACKENDS), value=DetectOptions.backend, label="Backend", min_width=120)
        c["detector"] = gr.Radio(list(cb.DETECTORS), value=DetectOptions.detector, label="Detector", min_width=160)
    windows = all_options()["windows"]
    c["windows"] = gr.Textbox(value=windows.text, label=windows.help, visible=False, elem_id="windows")
    with gr.Accordion("Your own weights (optional)", open=False):
        c["weights_file"] = gr.File(label="FERS checkpoint (.pt)", file_count="single", file_types=[".pt"],
                                    elem_id="weights-file", height=100)
        c["weights_text"] = gr.Textbox(label="or a checkpoint path on this machine (local mode)", value="",
                                       elem_id="weights-text", visible=gate.local_paths())
    c["run"] = gr.Button("Detect anomalies", variant="primary", elem_id="run-btn")


def _results_tab(c: dict) -> None:
    c["status"] = gr.Markdown("No result yet: click an example or upload a cube.", elem_id="run-status")
    with gr.Row(elem_id="map-row"):
        for key, title, eid in (("map_rx", "RX", "map-rx"), ("map_spectral", "FERD (spectral)", "map-spectral"),
                                ("map_spatial", "Spatial", "map-spatial"), ("map_fused", "Fused", "map-fused")):
            c[key] = gr.Image(label=title, show_label=False, type="numpy", format="png", interactive=False,
                              elem_id=eid, min_width=200, height=235, buttons=["download", "fullscreen"])
    c["auc_table"] = gr.Dataframe(headers=["method", "AUC(D,F)"], label="AUC (pixel ROC) and 3-D ROC "
                                  "areas (needs a ground truth)", interactive=False,
                                  elem_id="auc-table", wrap=True)
    with gr.Row():
        with gr.Column(scale=1):
            c["roc_plot"] = gr.Plot(label="ROC curves", show_label=False, elem_id="roc-plot", format="png")
        with gr.Column(scale=1):
            c["timing_table"] = gr.Dataframe(headers=["stage", "seconds"], label="Timing per stage (s)",
                                             interactive=False, elem_id="timing-table")
            c["downloads"] = gr.File(label="Downloads: score maps (.npz), result table (.csv), GeoTIFF of the "
                                           "maps, mask objects (.geojson)",
                                     file_count="multiple", interactive=False, elem_id="downloads")
    gr.Markdown("### Pixel spectrum and detection mask\nClick a pixel of the false-colour preview to plot its "
                "spectrum against the scene mean; move the threshold to turn the fused map into a detection mask.")
    with gr.Row():
        c["preview"] = gr.Image(label="False-colour preview: click a pixel", type="numpy", format="png",
                                interactive=False, elem_id="preview", buttons=["fullscreen"], height=380,
                                min_width=300)
        c["spectrum_plot"] = gr.Plot(label="Spectrum of the clicked pixel", show_label=False, elem_id="spectrum-plot",
                                     format="png")
    with gr.Row():
        with gr.Column(min_width=300):
            c["threshold"] = gr.Slider(0.0, 1.0, value=0.9, step=0.001, elem_id="threshold",
                                       label="Threshold on the min-max fused map (each run sets it to the top "
                                             "0.1 %, p99.9, as in the downloads)")
            c["mask_text"] = gr.Markdown(elem_id="mask-text")
        c["mask_image"] = gr.Image(label="Detection mask", type="numpy", format="png", interactive=False,
                                   elem_id="mask-image", height=360, min_width=300)


def _analysis_tab(c: dict) -> None:
    gr.Markdown(
        "The paper's Fig. 9 idea: background (blue) and anomaly (red) pixels on their first three principal "
        "components, before enhancement (H) and after (H + F_spe + F_spa). After enhancement the background "
        "should look more like a Gaussian ellipsoid, which is what RX assumes. Needs a model for the band count "
        "of the last run.")
    with gr.Row():
        c["pca_max_bg"] = gr.Slider(500, 10000, value=3000, step=500, label="Background points drawn")
        c["pca_btn"] = gr.Button("Compute PCA view", elem_id="pca-btn")
    c["pca_note"] = gr.Markdown()
    c["pca_plot"] = gr.Plot(label="PCA scatter before / after enhancement", show_label=False, elem_id="pca-plot",
                            format="png")


def _api() -> None:
    """The named endpoint ``/detect``: a typed function (``gr.api``); only the cube is required."""
    gr.api(cb.api_detect, api_name="detect",
           api_description="Cube file (+ optional ground truth, bands incl. wavelength ranges such as 400-1000nm, "
                           "fusion, backend, detector, windows, keys, weights, keep_bad_bands) -> the result dict of "
                           "`fers detect --json`")


# closes every toast still on the page when a new action starts (an old error must not sit over a new result)
CLEAR_TOASTS = "() => { document.querySelectorAll('[data-testid=\"toast-close\"]').forEach(b => b.click()); }"


def build_app(local_paths: bool = False) -> gr.Blocks:
    """Build (not launch) the Blocks app. ``local_paths``: the checkpoint box reads server paths
    (:func:`fers.ui.gate.set_local_paths`; never in a Space)."""
    gate.set_local_paths(local_paths)
    c: dict = {}
    with gr.Blocks(title="FERS hyperspectral anomaly detection", delete_cache=cache_cleanup()) as demo:
        gr.Markdown(INTRO)
        with gr.Sidebar(width=380, open=True, elem_id="sidebar"):
            _inputs(c)
        with gr.Tabs():
            with gr.Tab("Results"):
                _results_tab(c)
            with gr.Tab("Analysis"):
                _analysis_tab(c)
        c["state"] = gr.State(None)
        c["cube_seen"] = gr.State([])  # the cube box's files after the last upload (an upload replaces them)
        _api()
        _wire(c)
    return demo


def _wire(c: dict) -> None:
    run_inputs = [c[k] for k in PageRequest.names()]
    run_outputs = [c[k] for k in cb.RUN_OUTPUTS]
    busy = c["status"]  # progress / error badge only on the status line, not on every output
    failed = dict(fn=cb.after_failure, inputs=[c["cube_files"], c["gt_file"]],
                  outputs=[c[k] for k in cb.FAILURE_OUTPUTS], api_visibility="private", show_progress="hidden")
    for start in (c["run"], *c["example_buttons"]):
        start.click(None, None, None, js=CLEAR_TOASTS, api_visibility="private", show_progress="hidden")
    c["cube_files"].upload(None, None, None, js=CLEAR_TOASTS, api_visibility="private", show_progress="hidden")
    c["run"].click(cb.run_detection, run_inputs, run_outputs, api_visibility="private",
                   show_progress_on=busy).failure(**failed)
    c["cube_files"].upload(cb.on_cube_upload, [c["cube_files"], c["cube_seen"]], [c[k] for k in cb.UPLOAD_OUTPUTS],
                           api_visibility="private", show_progress_on=c["file_info"]).failure(**failed)
    c["band_mode"].change(lambda m: (gr.update(visible=m == cb.BAND_MODES[0]),
                                     gr.update(visible=m == cb.BAND_MODES[1]),
                                     gr.update(visible=m == cb.WAVELENGTH_MODE)), c["band_mode"],
                          [c["model_row"], c["band_range"], c["band_nm"]], api_visibility="private",
                          show_progress="hidden")
    c["detector"].change(lambda d: gr.update(visible="windows" in get(d).defaults()), c["detector"], c["windows"],
                         api_visibility="private",
                         show_progress="hidden")
    c["cube_files"].clear(lambda: cb.on_cube_upload(None), None, [c[k] for k in cb.UPLOAD_OUTPUTS],
                          api_visibility="private")
    for btn, name in zip(c["example_buttons"], cb.EXAMPLES):
        btn.click(lambda n=name: cb.load_example(n), None, [c[k] for k in cb.EXAMPLE_OUTPUTS],
                  api_visibility="private").then(cb.run_detection, run_inputs, run_outputs, api_visibility="private",
                                                 show_progress_on=busy).failure(**failed)
    c["threshold"].input(cb.on_threshold, [c["state"], c["threshold"]], [c["mask_image"], c["mask_text"]],
                          api_visibility="private", trigger_mode="always_last", show_progress_on=c["mask_text"])
    c["preview"].select(cb.on_pixel_select, c["state"], c["spectrum_plot"], api_visibility="private")
    c["pca_btn"].click(cb.on_pca, [c["state"], c["pca_max_bg"]], [c["pca_plot"], c["pca_note"]],
                       api_visibility="private", show_progress_on=c["pca_plot"])
