"""The app in a real browser: Playwright driving Debian's Chromium (headless), one app launch per module.

Skipped when /usr/bin/chromium or Playwright is missing. Screenshots go to the test's temp dir (and are
also copied to ``$FERS_SCREENSHOT_DIR`` when that is set, for a person to look at).
"""

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from fers.detectors import DEFAULT_DETECTOR, get
from tests.benchmarks._app import launch_app, stop_app

CHROMIUM = Path("/usr/bin/chromium")
EXAMPLES = Path(__file__).resolve().parents[2] / "fers" / "examples"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]
TIMEOUT_MS = 120_000

if not CHROMIUM.is_file():
    pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium): browser tests skipped", allow_module_level=True)
playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed")


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    # a small upload limit (2500 KB) so the refusal of a too-large file can be seen without a huge file
    proc, url = launch_app(tmp_path_factory.mktemp("browser_app"), {"FERS_APP_MAX_FILE_SIZE": "2500KB"})
    yield url
    stop_app(proc)


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, app_url):
    pg = browser.new_page(viewport={"width": 1400, "height": 1000})
    pg.set_default_timeout(TIMEOUT_MS)
    pg.goto(app_url)
    pg.locator("#run-btn").wait_for()
    yield pg
    pg.close()


def _shot(page, tmp_path, name, full_page=True):
    path = tmp_path / name
    page.screenshot(path=str(path), full_page=full_page)  # error toasts: viewport shots (fixed position)
    keep = os.environ.get("FERS_SCREENSHOT_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(keep) / name)
    return path


def _upload(page, elem_id, path):
    page.locator(f"#{elem_id} input[type=file]").set_input_files(str(path))
    # the box shows a file's stem and extension as separate elements once the server has answered
    page.locator(f"#{elem_id}").get_by_text(Path(path).stem, exact=True).first.wait_for()


def _wait_text(page, selector, text):
    """Wait until the element's rendered text contains ``text``."""
    page.wait_for_function("([s, t]) => (document.querySelector(s)?.innerText || '').includes(t)", arg=[selector, text])


def _wait_toast(page, text):
    """Wait for a Gradio error toast (``gr.Error``) containing ``text``."""
    page.locator(".toast-wrap").get_by_text(text, exact=False).first.wait_for(state="visible")


def test_upload_cube_and_gt_then_detect(page, tmp_path):
    from PIL import Image

    from fers.io.cube import load_cube
    from fers.pipeline import detect

    scene = load_cube(EXAMPLES / "abu-beach-4-crop100.mat")
    cube, gt = scene.cube[:70, :70], scene.gt[:70, :70]  # 2.0 MB as .npy: under the 2500 KB upload limit
    np.save(tmp_path / "beach_cube.npy", cube)
    Image.fromarray(gt.astype(np.uint8) * 255).save(tmp_path / "beach_gt.png")
    ref = detect(cube, gt, bands="50", backend="onnx")  # the page's settings below: 50 model bands, onnx

    _upload(page, "cube-files", tmp_path / "beach_cube.npy")
    _upload(page, "gt-file", tmp_path / "beach_gt.png")
    page.get_by_label("model bands from start", exact=True).check()
    page.get_by_label("50", exact=True).check()
    page.locator("#run-btn").click()
    status = page.locator("#run-status")
    status.get_by_text("Methods computed").wait_for()
    text = status.inner_text()
    assert "70 x 70 pixels, 102 bands" in text and f"{int(gt.sum())} anomaly pixels" in text
    assert f"{ref.band_adapter}" in text  # the default adapter, as the pipeline applied it
    assert f"Methods computed: {', '.join(ref.maps)}" in text
    for slot in ("map-rx", "map-spectral", "map-spatial", "map-fused"):  # four slots, each holding an image
        img = page.locator(f"#{slot} img").first
        img.wait_for()
        assert img.evaluate("e => e.complete && e.naturalWidth > 100")
    for a in ref.auc.values():  # the table holds numbers rounded to 4 places, shown without trailing zeros
        _wait_text(page, "#auc-table", repr(round(a, 4)))
    table = page.locator("#auc-table").inner_text()
    assert all(m in table for m in ref.maps)
    if len(ref.maps) == 1:
        assert "Not available" in text  # model methods missing: the page says why
    else:
        assert "Not available" not in text and f"fused map: {ref.default_method}" in text  # the measured default
    page.locator("#roc-plot img").first.wait_for()
    _wait_text(page, "#downloads", "beach_cube_maps")  # the name and its extension are separate elements
    _wait_text(page, "#downloads", "beach_cube_results")
    _shot(page, tmp_path, "browser_results.png")

    # click the preview: the spectrum plot appears
    preview = page.locator("#preview img").first
    box = preview.bounding_box()
    preview.click(position={"x": box["width"] * 0.5, "y": box["height"] * 0.5})
    page.locator("#spectrum-plot img").first.wait_for()
    # threshold slider -> new mask summary
    before = page.locator("#mask-text").inner_text()
    num = page.locator("#threshold input[type=number]")
    num.fill("0.05")
    num.press("Enter")
    page.wait_for_function("b => !document.querySelector('#mask-text').innerText.includes(b)", arg=before[:30])
    _shot(page, tmp_path, "browser_spectrum_mask.png")

    # Analysis tab: PCA scatter when the model exists, else a clear message (the run above already said
    # which model was missing)
    page.get_by_role("tab", name="Analysis").click()
    page.locator("#pca-btn").click()
    if "spectral" in ref.maps:
        page.locator("#pca-plot img").first.wait_for()
    else:
        _wait_toast(page, "the PCA view needs the enhanced features")  # no ONNX files for 50 bands here
    _shot(page, tmp_path, "browser_analysis.png", full_page=False)


def test_corrupt_file_shows_error(page, tmp_path):
    """A refused upload is deleted at once: the toast says why, the box is emptied, and running then asks
    for a cube instead of reading a file that is gone."""
    bad = tmp_path / "corrupt_cube.mat"
    bad.write_bytes(b"MATLAB 5.0 MAT-file, but then garbage " * 40)
    _upload(page, "cube-files", bad)
    _wait_toast(page, "corrupt_cube.mat: cannot read MATLAB file")
    _wait_gone(page, "#cube-files", "corrupt_cube")
    page.locator("#run-btn").click()
    _wait_toast(page, "no cube file: upload one")
    assert "Traceback" not in page.content()
    _shot(page, tmp_path, "browser_error.png", full_page=False)


def _wait_gone(page, selector, text):
    """Wait until the element's rendered text no longer contains ``text``."""
    page.wait_for_function("([s, t]) => !(document.querySelector(s)?.innerText || '').includes(t)", arg=[selector, text])


def _maps_shown(page) -> int:
    return sum(page.locator(f"#{slot} img").count() for slot in ("map-rx", "map-spectral", "map-spatial", "map-fused"))


def test_example_then_own_upload_then_error(page, tmp_path):
    """Item 18, a new user's first minutes: click an example, then upload their own cube and press Detect --
    the upload replaces the example (it used to stay, giving "2 files uploaded"). An ENVI header and its data
    file, uploaded one after the other, stay together. After an error the previous scene's maps are cleared
    instead of being shown as if they were current. Messages render ``>=`` as such, not ``&gt;=``."""
    spectral = pytest.importorskip("spectral")
    from fers.io.cube import load_cube

    cube = load_cube(EXAMPLES / "abu-beach-4-crop100.mat").cube
    np.save(tmp_path / "my_scene.npy", cube[:60, :50])
    spectral.envi.save_image(str(tmp_path / "pair.hdr"), cube[:40, :30], dtype=np.float32, ext=".img",
                             interleave="bil", force=True)

    page.get_by_role("button", name="Beach-4 crop (ROSIS, 102 bands)").click()
    page.locator("#run-status").get_by_text("abu-beach-4-crop100").wait_for()
    _wait_text(page, "#cube-files", "abu-beach-4-crop100")

    _upload(page, "cube-files", tmp_path / "my_scene.npy")
    _wait_gone(page, "#cube-files", "abu-beach-4-crop100")  # the example left the box
    page.locator("#run-btn").click()
    page.locator("#run-status").get_by_text("my_scene").wait_for()
    assert "60 x 50 pixels, 102 bands" in page.locator("#run-status").inner_text()
    assert page.locator(".toast-wrap").get_by_text("files uploaded").count() == 0

    # ENVI: header first, then its data file; the box keeps both and the pair runs
    _upload(page, "cube-files", tmp_path / "pair.hdr")
    _wait_gone(page, "#cube-files", "my_scene")
    _wait_text(page, "#file-info", "add the header's data file")
    _upload(page, "cube-files", tmp_path / "pair.img")
    _wait_text(page, "#cube-files", ".img")
    assert ".hdr" in page.locator("#cube-files").inner_text()  # the header stayed
    page.locator("#run-btn").click()
    page.locator("#run-status").get_by_text("40 x 30 pixels").wait_for()
    assert _maps_shown(page) == 4
    _shot(page, tmp_path, "browser_example_then_upload.png")

    # an error (a band range the grammar refuses): the toast shows ">=" and the old maps go
    page.get_by_label("band range").check()
    page.locator("#band-range textarea, #band-range input").first.fill("9:3")
    page.locator("#run-btn").click()
    _wait_toast(page, "a count N >= 2")
    page.locator("#run-status").get_by_text("No current result").wait_for()
    assert "&gt;" not in page.locator(".toast-wrap").inner_text()
    page.wait_for_function("() => ['map-rx', 'map-spectral', 'map-spatial', 'map-fused'].every("
                           "id => !document.querySelector('#' + id + ' img'))")
    _shot(page, tmp_path, "browser_error_clears_results.png", full_page=False)


def test_too_large_upload_is_refused_in_page(page, tmp_path):
    page.locator("#cube-files input[type=file]").set_input_files(str(EXAMPLES / "abu-airport-4.mat"))  # 2.57 MB
    _wait_toast(page, "exceed the maximum allowed size")
    _shot(page, tmp_path, "browser_too_large.png", full_page=False)


def test_example_button_shows_results(page, tmp_path):
    from fers.io.cube import load_cube
    from fers.pipeline import detect

    scene = load_cube(EXAMPLES / "abu-beach-4-crop100.mat")
    ref = detect(scene.cube, scene.gt, bands="10:60", backend="onnx")
    # controls that only matter for one choice are shown only then
    assert page.locator("#band-range").is_hidden() and page.locator("#windows").is_hidden()
    page.get_by_label(get("lrx").title).check()
    page.locator("#windows").wait_for(state="visible")
    page.get_by_label(get(DEFAULT_DETECTOR).title).check()
    page.get_by_label("band range").check()
    page.locator("#band-range").wait_for(state="visible")
    page.locator("#band-range textarea, #band-range input").first.fill("10:60")
    page.get_by_role("button", name="Beach-4 crop (ROSIS, 102 bands)").click()
    page.locator("#run-status").get_by_text("Methods computed").wait_for()
    status = page.locator("#run-status").inner_text()
    assert "abu-beach-4-crop100" in status and f"band adapter: {ref.band_adapter}" in status
    _wait_text(page, "#auc-table", repr(round(ref.auc['rx'], 4)))
    _wait_text(page, "#cube-files", "abu-beach-4-crop100")
    _shot(page, tmp_path, "browser_example.png")


def test_emit_upload_fills_the_band_box_and_offers_a_geotiff(page, tmp_path):
    """An EMIT ``.nc``: the file line shows its wavelengths, the wavelength box gets its span, and the
    downloads hold the GeoTIFF of the maps, georeferenced like the input."""
    pytest.importorskip("netCDF4")
    from tests.io.make_products import make_emit

    product = make_emit(tmp_path / "emit_scene.nc", rows=16, cols=14, bands=60)
    _upload(page, "cube-files", product.path)
    _wait_text(page, "#file-info", "60 bands, 381-2493 nm, 2 marked bad")
    page.get_by_label("wavelength range (nm)", exact=True).check()
    box = page.locator("#band-nm textarea, #band-nm input").first
    box.wait_for(state="visible")
    assert box.input_value() == "381-2493nm"
    page.locator("#run-btn").click()
    _wait_text(page, "#run-status", "Bands used")
    assert "50 of 60 bands" in page.locator("#run-status").inner_text()
    _wait_text(page, "#downloads", "emit_scene_maps")
    _wait_text(page, "#downloads", ".tif")
    assert "georeferenced like the input" in page.locator("#downloads").inner_text()
    _shot(page, tmp_path, "browser_emit.png")


def test_downloads_follow_the_chosen_fusion(page, tmp_path):
    """Fusion B chosen: the fused slot, the mask and every download (GeoTIFF mask band, GeoJSON, the
    Downloads line) use ``fusion_add``; none still names the default map."""
    page.get_by_label("B (additive)", exact=True).check()
    page.get_by_role("button", name="Airport-4 (AVIRIS, 191 bands)").click()
    _wait_text(page, "#run-status", "Downloads")
    status = page.locator("#run-status").inner_text()
    downloads = status[status.index("Downloads"):]
    assert "fusion_add" in downloads and "fusion_mult" not in downloads, downloads
    assert "fused map: fusion_add" in status
    _wait_text(page, "#mask-text", "detected")
    _shot(page, tmp_path, "browser_fusion_b.png")


def test_default_mask_finds_anomalies_on_airport4(page, tmp_path):
    """The slider starts at the downloads' rule (top 0.1 % of the shown map), which finds anomaly pixels."""
    import re

    page.get_by_role("button", name="Airport-4 (AVIRIS, 191 bands)").click()
    _wait_text(page, "#mask-text", "detection rate")
    text = page.locator("#mask-text").inner_text()
    tp = int(re.search(r"\((\d+)/60 anomaly px\)", text).group(1))
    assert tp > 0, text
    assert "p99.9" in page.locator("#threshold").inner_text()


def test_bad_upload_leaves_no_stale_file_line_and_toasts_clear(page, tmp_path):
    """A good upload's file line goes when the next upload is refused; the refusal's toast goes when the
    next action starts, so it never sits over a later result."""
    from fers.io.cube import load_cube

    np.save(tmp_path / "good_scene.npy", load_cube(EXAMPLES / "abu-beach-4-crop100.mat").cube[:30, :30])
    _upload(page, "cube-files", tmp_path / "good_scene.npy")
    _wait_text(page, "#file-info", "good_scene")
    bad = tmp_path / "broken_scene.npy"
    bad.write_bytes(b"\x93NUMPY garbage" * 20)
    page.locator("#cube-files input[type=file]").set_input_files(str(bad))
    _wait_toast(page, "broken_scene.npy")
    _wait_gone(page, "#file-info", "good_scene")
    page.get_by_role("button", name="Beach-4 crop (ROSIS, 102 bands)").click()
    page.locator("#run-status").get_by_text("Methods computed").wait_for()
    page.wait_for_function("() => !(document.querySelector('.toast-wrap')?.innerText || '').includes('broken_scene')")
    _shot(page, tmp_path, "browser_toast_cleared.png", full_page=False)
