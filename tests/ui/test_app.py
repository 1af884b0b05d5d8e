"""The Gradio app, driven through ``gradio_client`` against a real server (``python app.py`` in a
subprocess on a free port, one launch for this module), plus its pure helper functions.

Science check: the ``/detect`` endpoint's AUCs for a bundled example equal those of
``python -m fers bench <scene> --bands <same> --json``.
"""

import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.benchmarks._app import launch_app, rss, stop_app

REPO = Path(__file__).resolve().parents[2]
DATA = REPO.parent / "shared" / "data"
EXAMPLES = REPO / "fers" / "examples"
# The module's server refuses cubes above 1.5 M values (urban-3, 1.91 M, is refused; beach, 1.02 M, runs)
# and uploads above 2500 KB (airport-4.mat, 2,570,267 bytes, is refused; beach .mat, 2,228,388 bytes, passes).
SMALL_LIMIT = 1_500_000
SMALL_FILE_LIMIT = "2500KB"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    work = tmp_path_factory.mktemp("app")
    proc, url = launch_app(work, {"FERS_APP_MAX_VALUES": str(SMALL_LIMIT),
                                  "FERS_APP_MAX_FILE_SIZE": SMALL_FILE_LIMIT})
    yield url, work, proc
    stop_app(proc)


@pytest.fixture(scope="module")
def client(server):
    from gradio_client import Client

    return Client(server[0], verbose=False)


def _predict(client, cube, gt=None, bands="100", **kw):
    from gradio_client import handle_file

    cubes = [handle_file(str(p)) for p in cube] if isinstance(cube, (list, tuple)) else handle_file(str(cube))
    return client.predict(cubes, gt=handle_file(str(gt)) if gt else None, bands=bands, api_name="/detect", **kw)


def test_detect_api_takes_the_cube_alone(client):
    """``Client(url).predict(handle_file("scene.mat"), api_name="/detect")``: every other argument has
    its documented default, and the answer is the CLI's --json dict."""
    from gradio_client import handle_file

    scene = EXAMPLES / "abu-beach-4-crop100.mat"
    out = client.predict(handle_file(str(scene)), api_name="/detect")
    cli = subprocess.run([sys.executable, "-m", "fers", "detect", str(scene), "--backend", "onnx", "--json"],
                         cwd=REPO, capture_output=True, text=True, timeout=600)
    assert cli.returncode == 0, cli.stderr
    ref = json.loads(cli.stdout)
    assert out["bands"] == "auto" and out["backend"] == "onnx" and out["detector"] == "rx"
    assert out["fused_method"] == out["default_method"] == ref["default_method"]
    shared = set(ref) - {"seconds", "input"}  # input: how the CLI read the file (Scene.info)
    assert {k: out[k] for k in shared} == {k: ref[k] for k in shared}


def test_example_aucs_match_cli_bench(client):
    scene = EXAMPLES / "abu-beach-4-crop100.mat"
    out = _predict(client, scene, bands="100")
    cli = subprocess.run([sys.executable, "-m", "fers", "bench", str(scene), "--bands", "100", "--backend", "onnx",
                          "--json"], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert cli.returncode == 0, cli.stderr
    bench = json.loads(cli.stdout)["scenes"][0]
    assert out["auc"] and out["shape"] == [100, 100, 102]
    assert out["model_bands"] == bench["model_bands"] == 100
    assert out["band_adapter"] == bench["band_adapter"]
    assert sorted(out["auc"]) == sorted(bench["auc"]) and "rx" in out["auc"]
    for m, v in bench["auc"].items():
        assert out["auc"][m] == pytest.approx(v, abs=1e-6), m
    assert set(out["auc3d"]) == set(out["auc"]) and set(out["methods"]) == set(out["auc"])
    assert out["default_method"] == bench["default_method"]
    assert all(np.isfinite(s) and s >= 0 for s in out["seconds"].values())
    # model methods are either computed or listed as unavailable, never silently missing
    assert out["methods"] != ["rx"] or out["notes"]


def test_npy_cube_with_png_gt_matches_pipeline(client, tmp_path):
    from PIL import Image

    from fers.io.cube import load_cube
    from fers.pipeline import detect

    scene = load_cube(EXAMPLES / "abu-beach-4-crop100.mat")
    cube, gt = scene.cube[:70, :70], scene.gt[:70, :70]  # a crop keeps the .npy under the upload limit
    assert gt.any()
    np.save(tmp_path / "beach.npy", cube)
    Image.fromarray(gt.astype(np.uint8) * 255).save(tmp_path / "beach_gt.png")
    out = _predict(client, tmp_path / "beach.npy", tmp_path / "beach_gt.png", bands="20:80",
                   fusion="A (multiplicative)")
    ref = detect(cube, gt, bands="20:80", backend="onnx")
    assert out["band_adapter"] == ref.band_adapter and out["model_bands"] == ref.model_bands == 50
    assert set(out["auc"]) == set(ref.auc)
    for m, v in ref.auc.items():
        assert out["auc"][m] == pytest.approx(v, abs=1e-6)  # the JSON rounds to 6 digits, as --json


def test_tiff_cube_upload(client, tmp_path):
    tifffile = pytest.importorskip("tifffile")
    from fers.io.cube import load_cube
    from fers.pipeline import detect

    scene = load_cube(EXAMPLES / "abu-beach-4-crop100.mat")
    cube, gt = scene.cube[:80, :80, :60], scene.gt[:80, :80]  # the TIFF reader takes the smallest axis as bands
    tifffile.imwrite(tmp_path / "beach.tif", cube)
    np.save(tmp_path / "gt.npy", gt)
    out = _predict(client, tmp_path / "beach.tif", tmp_path / "gt.npy", bands="50")
    ref = detect(cube, gt, bands="50", backend="onnx")
    assert out["shape"] == [80, 80, 60] and gt.any()
    assert out["auc"]["rx"] == pytest.approx(ref.auc["rx"], abs=1e-6)
    assert list(out["seconds"])[0] == "load"


def test_envi_pair_upload(client, tmp_path):
    spectral = pytest.importorskip("spectral")
    from fers.io.cube import load_cube

    scene = load_cube(EXAMPLES / "abu-beach-4-crop100.mat")
    cube, gt = scene.cube[:60, :60], scene.gt[:60, :60]
    hdr = tmp_path / "beach.hdr"
    spectral.envi.save_image(str(hdr), cube, dtype=np.float32, ext=".img", interleave="bil", force=True)
    np.save(tmp_path / "beach_gt.npy", gt)
    np.save(tmp_path / "beach.npy", cube)
    out = _predict(client, [hdr, tmp_path / "beach.img"], tmp_path / "beach_gt.npy", bands="100")
    ref = _predict(client, tmp_path / "beach.npy", tmp_path / "beach_gt.npy", bands="100")
    assert out["shape"] == [60, 60, 102] and out["auc"]
    assert out["auc"]["rx"] == pytest.approx(ref["auc"]["rx"], abs=1e-12)


def test_emit_nc_and_wavelength_bands_through_the_api(client, tmp_path):
    """An EMIT ``.nc`` through ``/detect``: bad bands and water-vapour windows dropped by default, as
    ``fers detect`` does; ``keep_bad_bands=True`` keeps them; ``bands`` takes wavelength ranges."""
    pytest.importorskip("netCDF4")
    from fers.io.cube import load_cube
    from fers.pipeline import detect
    from tests.io.make_products import make_emit

    product = make_emit(tmp_path / "emit.nc", rows=16, cols=14, bands=60)
    scene = load_cube(product.path)
    for bands, keep in (("auto", False), ("400-2500nm", True), ("400-1000nm", False)):
        out = _predict(client, product.path, bands=bands, keep_bad_bands=keep)
        ref = detect(scene.cube, None, bands=bands, backend="onnx", nodata=scene.nodata,
                     wavelengths=scene.wavelengths, bad_bands=scene.bad_bands, keep_bad_bands=keep).to_dict()
        for k in ("bands", "shape", "wavelengths_used_nm", "notes", "methods", "masked_pixels", "model_bands"):
            assert out[k] == ref[k], k
    assert _predict(client, product.path)["wavelengths_used_nm"]["count"] == 50  # 60 less 2 bad, 8 water vapour


def test_too_large_cube_is_refused(client):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match=r"abu-urban-3\.mat: cube is 100 x 100 x 191 = 1,910,000 values; "
                                       r".*at most 1,500,000"):
        _predict(client, EXAMPLES / "abu-urban-3.mat", bands="100")


def test_too_large_upload_is_refused(server, client):
    import httpx

    with pytest.raises(ValueError, match="exceeds the maximum file size"):  # the client checks first
        _predict(client, EXAMPLES / "abu-airport-4.mat", bands="100")
    for name, status in (("abu-airport-4.mat", 413), ("abu-beach-4-crop100.mat", 200)):  # the server refuses too
        with open(EXAMPLES / name, "rb") as f:
            r = httpx.post(f"{server[0]}gradio_api/upload", files={"files": (name, f)}, timeout=60)
        assert r.status_code == status, (name, r.text[:200])


@pytest.mark.parametrize("name,content,pattern", [
    ("broken.mat", b"not a matlab file" * 50, r"broken\.mat: cannot read MATLAB"),
    ("broken.npy", b"\x93NUMPY garbage", r"broken\.npy: cannot read \.npy"),
    ("cube.txt", b"1 2 3", r"unsupported cube format \.txt"),
])
def test_bad_files_give_one_line_errors(client, tmp_path, name, content, pattern):
    from gradio_client.exceptions import AppError

    p = tmp_path / name
    p.write_bytes(content)
    with pytest.raises(AppError, match=pattern) as info:
        _predict(client, p)
    msg = str(info.value)
    assert "\n" not in msg and "Traceback" not in msg and str(tmp_path) not in msg and "&#" not in msg


def test_gt_shape_mismatch_and_bad_bands(client, tmp_path):
    from gradio_client.exceptions import AppError

    np.save(tmp_path / "gt.npy", np.ones((7, 9), dtype=np.uint8))
    with pytest.raises(AppError, match=r"gt\.npy: .*does not match the cube's"):
        _predict(client, EXAMPLES / "abu-beach-4-crop100.mat", tmp_path / "gt.npy")
    with pytest.raises(AppError, match="bad band spec"):
        _predict(client, EXAMPLES / "abu-beach-4-crop100.mat", bands="abc")


def test_app_writes_only_inside_its_temp_dirs(server, client):
    url, work, _ = server
    _predict(client, EXAMPLES / "abu-beach-4-crop100.mat")
    top = sorted(p.name for p in work.iterdir())
    assert top == ["app.log", "tmp"], top  # cwd of the server: nothing but our log and the temp root
    roots = [p for p in (work / "tmp").iterdir() if p.name.startswith("fers-app-")]
    assert len(roots) == 1 and (roots[0] / "matplotlib").is_dir()  # the app's temp root, with matplotlib's cache
    assert not (REPO / "flagged").exists() and not (REPO / ".gradio").exists()


def test_examples_are_the_documented_scenes():
    for name, (h, w, b) in {"abu-airport-4.mat": (100, 100, 191), "abu-urban-3.mat": (100, 100, 191),
                            "abu-beach-4-crop100.mat": (100, 100, 102)}.items():
        from fers.io.cube import load_cube

        s = load_cube(EXAMPLES / name)
        assert s.cube.shape == (h, w, b) and s.gt is not None and s.gt.any()
    sums = DATA / "SHA256SUMS"
    if not sums.is_file():
        pytest.skip(f"{sums} absent: cannot compare the examples with the project's data files")
    pinned = dict(reversed(line.split()) for line in sums.read_text().splitlines() if line.strip())
    for name in ("abu-airport-4.mat", "abu-urban-3.mat"):  # byte-identical copies
        assert hashlib.sha256((EXAMPLES / name).read_bytes()).hexdigest() == pinned[f"abu/{name}"]
    from fers.io.cube import load_cube

    a, b = load_cube(EXAMPLES / "abu-beach-4-crop100.mat"), load_cube(DATA / "abu" / "abu-beach-4-crop100.mat")
    assert np.array_equal(a.cube, b.cube) and np.array_equal(a.gt, b.gt)  # re-saved compressed, same values


def _tree_bytes(root: Path) -> int:
    return sum(f.stat().st_size for f in root.rglob("*") if f.is_file())


def test_twenty_requests_leave_the_temp_folders_as_they_were(server, client, tmp_path):
    """Accepted and refused requests alike leave nothing of their own behind: each request's staging
    folder goes when it ends. The uploads themselves stay in Gradio's cache, once each, until its
    ``delete_cache`` sweep (a request never deletes an upload another request may be using)."""
    spectral = pytest.importorskip("spectral")
    from gradio_client.exceptions import AppError

    from fers.io.cube import load_cube

    _, work, _ = server
    tmp = work / "tmp"
    cube = load_cube(EXAMPLES / "abu-beach-4-crop100.mat").cube[:40, :40]
    np.save(tmp_path / "ok.npy", cube)
    spectral.envi.save_image(str(tmp_path / "pair.hdr"), cube, dtype=np.float32, ext=".img", interleave="bsq",
                             force=True)
    rng = np.random.default_rng(7)
    _predict(client, tmp_path / "ok.npy")  # warm-up: caches made once (matplotlib's, Gradio's)
    _predict(client, [tmp_path / "pair.hdr", tmp_path / "pair.img"])
    before = _tree_bytes(tmp)
    for i in range(20):
        kind = i % 4
        if kind == 0:
            assert _predict(client, tmp_path / "ok.npy")["shape"] == [40, 40, 102]
        elif kind == 1:
            assert _predict(client, [tmp_path / "pair.hdr", tmp_path / "pair.img"])["shape"] == [40, 40, 102]
        elif kind == 2:  # a different corrupt file each time: it would pile up if kept
            bad = tmp_path / f"bad{i}.npy"
            bad.write_bytes(b"\x93NUMPY" + rng.bytes(300))
            with pytest.raises(AppError, match=rf"bad{i}\.npy: cannot read"):
                _predict(client, bad)
        else:  # over the value limit (1.62 M uint8 values, 1.6 MB): refused from the header
            big = tmp_path / f"big{i}.npy"
            np.save(big, rng.integers(0, 255, size=(900, 900, 2), dtype=np.uint8))
            with pytest.raises(AppError, match=rf"big{i}\.npy: cube is 900 x 900 x 2"):
                _predict(client, big)
    uploads = [f for f in (tmp / "gradio").rglob("*") if f.is_file() and f.name.startswith(("bad", "big"))]
    assert sorted(f.name for f in uploads) == sorted([f"bad{i}.npy" for i in range(2, 20, 4)] +
                                                     [f"big{i}.npy" for i in range(3, 20, 4)])
    assert _tree_bytes(tmp) == before + sum(f.stat().st_size for f in uploads)
    root = next(p for p in tmp.iterdir() if p.name.startswith("fers-app-"))
    assert not list(root.glob("envi-*")) and not list(root.glob("request-*"))


def test_pickled_npy_gets_the_command_lines_message(client, tmp_path):
    """Item 13: the app memory-maps, and used to pass on NumPy's memory-map error."""
    from gradio_client.exceptions import AppError

    p = tmp_path / "objects.npy"
    np.save(p, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    cli = subprocess.run([sys.executable, "-m", "fers", "detect", str(p)], cwd=REPO, capture_output=True,
                         text=True, timeout=120)
    assert cli.returncode == 2
    expected = cli.stderr.strip().removeprefix("fers: error: ").replace(str(tmp_path) + "/", "")
    assert expected == "objects.npy: the .npy holds Python objects (pickled); only plain numeric arrays are read"
    with pytest.raises(AppError) as info:
        _predict(client, p)
    assert str(info.value) == expected


def test_api_messages_are_plain_text(client):
    """Item 12: ``>=``, ``<`` reach an API client as themselves, not as HTML entities."""
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError) as info:
        _predict(client, EXAMPLES / "abu-beach-4-crop100.mat", bands="9:3")
    msg = str(info.value)
    assert "a count N >= 2" in msg and "&gt;" not in msg and "&lt;" not in msg and "&amp;" not in msg


def test_tiff_bomb_is_refused_from_its_header(server, client, tmp_path):
    """Item 8: 560 KB of zlib that decodes to 512 MB (2 GB as float32) is refused before decoding: the
    server's peak memory does not move."""
    tifffile = pytest.importorskip("tifffile")
    from gradio_client.exceptions import AppError

    tile = np.zeros((512, 512, 8), np.uint8)
    bomb = tmp_path / "bomb.tif"
    tifffile.imwrite(bomb, (tile for _ in range(16 * 16)), shape=(8192, 8192, 8), dtype=np.uint8,
                     tile=(512, 512), compression="zlib", planarconfig="contig")
    assert bomb.stat().st_size < 2_000_000
    pid = server[2].pid
    peak = rss(pid, "VmHWM")
    t = time.perf_counter()
    with pytest.raises(AppError, match=r"^bomb\.tif: cube is 8192 x 8192 x 8 = 536,870,912 values"):
        _predict(client, bomb)
    assert time.perf_counter() - t < 5
    assert rss(pid, "VmHWM") - peak < 100 * 2**20


def test_memory_budget_refusal_names_the_file(client, tmp_path):
    """Items 5-7: a request whose memory estimate is over the budget is refused up front, in one line
    that names the cube and says what to do."""
    from gradio_client.exceptions import AppError

    np.save(tmp_path / "small.npy", np.ones((20, 20, 10), np.float32))
    t = time.perf_counter()
    with pytest.raises(AppError) as info:
        _predict(client, tmp_path / "small.npy", bands="100000000")
    assert time.perf_counter() - t < 5
    msg = str(info.value)
    assert msg.startswith("small.npy: this request needs about") and "budget" in msg and "bands 'all'" in msg


def test_sigterm_removes_what_the_app_wrote(tmp_path):
    """Item 17: SIGTERM ends the server as Ctrl-C does: Gradio's cache files and the app's temp dir go."""
    import signal

    import httpx

    proc, url = launch_app(tmp_path)
    try:
        with open(EXAMPLES / "abu-beach-4-crop100.mat", "rb") as f:
            r = httpx.post(f"{url}gradio_api/upload", files={"files": ("scene.mat", f)}, timeout=60)
        assert r.status_code == 200
        uploaded = Path(r.json()[0])
        assert uploaded.is_file() and list((tmp_path / "tmp").glob("fers-app-*"))
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    assert not uploaded.exists()
    assert not list((tmp_path / "tmp").glob("fers-app-*"))
    assert not [f for f in (tmp_path / "tmp").rglob("*") if f.is_file()]
