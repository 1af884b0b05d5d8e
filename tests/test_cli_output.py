"""What the command line prints for a newcomer (issue 21): ``--version``, every input format in the
``cube`` help, progress bars only on a terminal, the backend that ran, and a time for every method."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fers._version import __version__
from fers.io.formats import CUBE_FILE_EXTS
from fers.methods import METHODS
from tests.conftest import REPO
from tests.test_cli import _scene, run_fers, run_fers_on_terminal

AIRPORT4 = REPO / "fers" / "examples" / "abu-airport-4.mat"


def test_version():
    r = run_fers("--version")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"fers {__version__}" and __version__[0].isdigit()


def test_cube_help_lists_every_format():
    r = run_fers("detect", "--help")
    assert r.returncode == 0, r.stderr
    text = " ".join(r.stdout.split())
    cube_help = text[text.index("cube cube file:"):text.index("options:")]
    for ext in CUBE_FILE_EXTS:  # the registry's, products included
        assert ext in cube_help, ext
    assert "ENVI" in cube_help and "EnMAP" in cube_help and "METADATA.XML" in cube_help


def test_unknown_file_type_names_every_format(tmp_path):
    bad = tmp_path / "cube.xyz"
    bad.write_bytes(b"\x00" * 16)
    r = run_fers("detect", bad)
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
    assert r.stderr.startswith(f"fers: error: {bad}: unknown cube file type '.xyz'")
    for word in (".nc", ".he5", "EnMAP", ".hdr", ".tif", ".npy", ".mat"):
        assert word in r.stderr, word


def test_progress_bars_only_on_a_terminal(tmp_path, rng):
    """Local RX updates its bar once per row: in a pipe or a log file that was hundreds of lines of
    carriage returns and escape codes. Not a terminal: no bar at all; a terminal: the bars."""
    cube, _ = _scene(rng, 40, 36, 6)
    np.save(tmp_path / "c.npy", cube)
    args = ("detect", tmp_path / "c.npy", "--detector", "lrx", "--windows", "3,7", "--bands", "all", "--json")
    r = run_fers(*args)
    assert r.returncode == 0, r.stderr
    assert "\r" not in r.stderr and "\x1b" not in r.stderr and "local RX" not in r.stderr, r.stderr
    assert json.loads(r.stdout)["methods"] == ["rx"]
    rc, out, err = run_fers_on_terminal(tmp_path, *args)
    assert rc == 0, err
    assert "local RX" in err and json.loads(out)["methods"] == ["rx"]


@pytest.mark.parametrize("backend", ["auto", "onnx"])
def test_bench_text_and_json_name_the_backend_that_ran(backend):
    args = ("bench", AIRPORT4, "--bands", "50", "--backend", backend)
    text = run_fers(*args)
    js = run_fers(*args, "--json")
    assert text.returncode == 0 and js.returncode == 0, text.stderr + js.stderr
    ran = json.loads(js.stdout)
    assert ran["backend"] in ("torch", "onnx") and ran["backend"] == ran["scenes"][0]["backend"]
    if backend != "auto":
        assert ran["backend"] == backend
    head = text.stdout.splitlines()[0]
    assert head.startswith("bands 50, ") and f", backend {ran['backend']}, " in head, head
    assert set(METHODS) | {"load", "total"} <= set(ran["scenes"][0]["seconds"]) == set(ran["mean_seconds"])


def test_seconds_for_every_method_in_json_and_npz(tmp_path):
    """Issue 21: the fusions have their times too, and ``total`` is the sum of the stages."""
    out = tmp_path / "maps.npz"
    r = run_fers("detect", AIRPORT4, "--bands", "50", "--out", out, "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert set(d["methods"]) == set(METHODS)
    sec = d["seconds"]
    assert set(d["methods"]) | {"load", "prepare", "model", "enhance", "auc", "save", "total"} == set(sec)
    assert sec["total"] == pytest.approx(sum(v for k, v in sec.items() if k != "total"), abs=1e-3)
    with np.load(out, allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))
    stored = meta["seconds"]  # written before the save finished: everything but "save"
    assert set(stored) == set(sec) - {"save"}
    assert stored["total"] == pytest.approx(sum(v for k, v in stored.items() if k != "total"), abs=1e-3)
