"""The app as a public server sees it: every attack of issue 17 over raw HTTP (``httpx`` against
``/gradio_api/call/detect`` and ``/gradio_api/queue/join``), against a real ``python app.py``.

* server paths sent as strings (cube, GT, weights; existing and missing) get identical refusals;
* the page's private run event reads no server path unless the app runs with ``--local-paths``;
* an EMIT file whose GLT declares a 16000 x 16000 grid (90 kB) raises the server's memory (server and
  workers together) by at most 0.5 GiB, and the next normal request is served;
* 8 concurrent identical uploads all answer, with identical results.
"""

import concurrent.futures as cf
from pathlib import Path

import pytest

from tests.benchmarks._app import TreePeak, launch_app, stop_app
from tests.ui._http import call_detect, fn_index, queue_join, upload

pytest.importorskip("httpx")

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "fers" / "examples"
AIRPORT = EXAMPLES / "abu-airport-4.mat"
GiB = 2**30
RUN_DEFAULTS = ["(auto)", None, "(auto)", "auto (measured default)", 200, 0, "0:100", "default (measured)", "onnx",
                "rx", "5,15", None, "", "400-2500nm", False]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    work = tmp_path_factory.mktemp("serving")
    proc, url = launch_app(work)
    yield url, proc
    stop_app(proc)


def _run_page(url, files, weights_text=""):
    """The page's run event (private: not in the API) called as the browser calls it."""
    data = [files] + RUN_DEFAULTS
    data[13] = weights_text
    return queue_join(url, fn_index(url, "run_detection"), data)


def _error(answer) -> str:
    event, data = answer
    assert event == "error", f"expected a refusal, got {event}: {str(data)[:300]}"
    return data["error"]


def _server_paths(tmp_path) -> dict:
    """Paths on the server that exist (a readable cube, a text file, a checkpoint) and one that does not."""
    return {"cube": str(AIRPORT), "text": "/etc/passwd", "checkpoint": str(REPO / "weights" / "fers_b100.pt"),
            "missing": str(tmp_path / "missing.mat")}


@pytest.mark.parametrize("arg", ["cube", "gt", "weights"])
def test_server_paths_as_strings_get_one_refusal(server, tmp_path, arg):
    url, _ = server
    own = upload(url, AIRPORT)
    for form in (str, lambda p: {"path": p}):  # a plain string; a dict without Gradio's FileData marker
        answers = set()
        for path in _server_paths(tmp_path).values():
            kw = {"cube": own} if arg != "cube" else {}
            kw[arg] = form(path)
            answers.add(_error(call_detect(url, **kw)))
        assert len(answers) == 1, answers  # existing or missing, cube or text: one refusal
        (line,) = answers
        assert "root:" not in line and "Airport" not in line and "AUC" not in line
        assert line.startswith(f"{arg}: ") and "upload" in line


def test_private_event_reads_no_server_path(server, tmp_path):
    url, _ = server
    own = upload(url, AIRPORT)
    msgs = set()
    for path in _server_paths(tmp_path).values():
        msg, out = _run_page(url, [own], weights_text=path)
        assert msg == "process_completed" and out["success"] is False
        msgs.add(out["output"]["error"])
    assert len(msgs) == 1 and "--local-paths" in msgs.pop()
    for path in (str(AIRPORT), str(tmp_path / "missing.mat")):  # a server cube sent as the page's file
        for value in (path, {"path": path, "meta": {"_type": "gradio.FileData"}}):
            msg, out = _run_page(url, [value])
            assert msg == "process_completed" and out["success"] is False
    msg, out = _run_page(url, [own])  # the same event with an upload works
    assert out["success"] is True and "60 anomaly pixels" in out["output"]["data"][0]


def test_local_mode_reads_checkpoint_paths(tmp_path):
    """``python app.py --local-paths``: the checkpoint box is read (a text file is not a checkpoint)."""
    proc, url = launch_app(tmp_path, args=["--local-paths"])
    try:
        own = upload(url, AIRPORT)
        _, out = _run_page(url, [own], weights_text="/etc/passwd")
        assert out["success"] is False and "--local-paths" not in out["output"]["error"]
        assert "root:" not in out["output"]["error"]
        _, missing = _run_page(url, [own], weights_text=str(tmp_path / "missing.pt"))
        assert missing["output"]["error"] != out["output"]["error"]
    finally:
        stop_app(proc)


def test_glt_bomb_leaves_the_server_as_it_was(server, tmp_path):
    from tests.io.make_products import make_emit

    url, proc = server
    bomb = make_emit(tmp_path / "EMIT_L2A_RFL_bomb.nc", rows=20, cols=16, bands=40, glt_shape=(16000, 16000)).path
    assert bomb.stat().st_size < 200_000
    call_detect(url, cube=upload(url, AIRPORT))  # warm: the first request's caches are not the bomb's
    with TreePeak(proc.pid) as mem:
        line = _error(call_detect(url, cube=upload(url, bomb)))
        upload_event = fn_index(url, "on_cube_upload")
        msg, out = queue_join(url, upload_event, [[upload(url, bomb)], None])
    assert "GLT map grid 16000x16000" in line and "EMIT_L2A_RFL_bomb.nc" in line
    assert out["success"] is False and "GLT map grid 16000x16000" in out["output"]["error"]
    assert mem.peak - mem.start <= 0.5 * GiB, f"peak rose {(mem.peak - mem.start) / GiB:.2f} GiB"
    event, data = call_detect(url, cube=upload(url, AIRPORT))
    assert event == "complete" and data[0]["shape"] == [100, 100, 191]


def test_eight_concurrent_identical_uploads_all_answer(server, tmp_path):
    import numpy as np

    from fers.io.cube import load_cube

    url, _ = server
    scene = load_cube(EXAMPLES / "abu-beach-4-crop100.mat")
    np.save(tmp_path / "own.npy", scene.cube[:60, :60])  # not an example: a user's own upload

    def one(_):
        return call_detect(url, cube=upload(url, tmp_path / "own.npy"), bands="100")

    with cf.ThreadPoolExecutor(8) as ex:
        answers = list(ex.map(one, range(8)))
    assert [e for e, _ in answers] == ["complete"] * 8, [str(d)[:200] for _, d in answers]
    maps = [{k: v for k, v in d[0].items() if k != "seconds"} for _, d in answers]
    assert all(m == maps[0] for m in maps)
