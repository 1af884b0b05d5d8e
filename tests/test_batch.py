"""``fers batch`` on a real Dask ``LocalCluster`` of 2 worker processes (1 thread each), shared by the
tests of this module: equality with serial ``fers bench``, ``--resume``, a corrupt file among good
ones, and a worker process killed in the middle of a run."""

from __future__ import annotations

import csv
import functools
import json
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from dask.distributed import Client, LocalCluster

from fers import batch
from fers.cli import main
from fers.result import load_npz
from tests.conftest import REPO
from tests.test_cli import _scene

EXAMPLES = sorted((REPO / "fers" / "examples").glob("*.mat"))


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, memory_limit="3GiB",
                      dashboard_address=":0") as c:
        yield c


def _write_scenes(folder: Path, names, seed=7, h=24, w=20, b=30) -> list[Path]:
    """Seeded synthetic ABU-style ``.mat`` scenes (``data`` uint16 + ``map``), one anomaly set each."""
    rng = np.random.default_rng(seed)
    paths = []
    for name in names:
        cube, gt = _scene(rng, h, w, b)
        paths.append(folder / f"{name}.mat")
        scipy.io.savemat(paths[-1], {"data": cube, "map": gt})
    return paths


def _batch(capsys, cluster, *args):
    """``fers batch ... --scheduler <cluster> --json`` in this process -> (exit code, JSON, stderr)."""
    capsys.readouterr()
    code = main(["batch", *map(str, args), "--scheduler", cluster.scheduler_address, "--json"])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else None), err


def test_batch_equals_serial_bench(tmp_path, capsys, cluster):
    synth = _write_scenes(tmp_path, ["s0", "s1"])
    listing = tmp_path / "scenes.txt"
    listing.write_text("# synthetic scenes, relative to this list\ns0.mat\n\ns1.mat\n")
    out_dir = tmp_path / "out"
    code, got, err = _batch(capsys, cluster, listing, REPO / "fers" / "examples" / "*.mat", "--out", out_dir)
    assert code == 0, err
    # serial reference in a fresh process; torch on 1 thread as in a Dask worker (the nanny sets
    # OMP_NUM_THREADS=1): the FENs' float sums depend on the thread count at the 1e-5 level
    env = {**os.environ, "OMP_NUM_THREADS": "1", "FERS_ORT_THREADS": "1"}
    r = subprocess.run([sys.executable, "-m", "fers", "bench", *map(str, synth + EXAMPLES), "--json"], cwd=REPO,
                       env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    ref = json.loads(r.stdout)

    assert [s["name"] for s in got["scenes"]] == [s["name"] for s in ref["scenes"]] == \
        ["s0", "s1"] + [p.stem for p in EXAMPLES]
    assert got["errors"] == [] and got["resumed"] == []
    for key in ("bands", "backend", "detector", "weights", "default_method"):
        assert got[key] == ref[key], key
    for g, s in zip(got["scenes"], ref["scenes"]):
        for key in ("shape", "bands", "band_adapter", "model_bands", "methods", "default_method"):
            assert g[key] == s[key], (g["name"], key)
        assert set(g["auc"]) == set(s["auc"]) and len(s["auc"]) >= 5  # RX, the FEN maps and fusions
        for m in s["auc"]:
            assert g["auc"][m] == pytest.approx(s["auc"][m], abs=1e-6), (g["name"], m)
        assert {"load", "save", "enhance"} <= set(g["seconds"]) and g["worker"].startswith("tcp://")
        maps, meta = load_npz(out_dir / f"{g['name']}.npz")
        assert meta["auc"] == g["auc"] and maps["gt"].shape == tuple(g["shape"][:2])
        assert set(g["methods"]) <= set(maps)
    for m, v in ref["mean_auc"].items():
        assert got["mean_auc"][m] == pytest.approx(v, abs=1e-6)
    assert len({s["worker"] for s in got["scenes"]}) == 2  # both workers took scenes
    assert got["throughput"]["scenes_computed"] == 5 and got["throughput"]["scenes_per_s"] > 0
    assert got["cluster"]["workers"] == 2 and "fers batch: 5 computed" in err and "Mpx/s" in err

    with open(out_dir / "summary.csv", newline="") as f:
        table = list(csv.DictReader(f))
    assert [t["name"] for t in table] == [s["name"] for s in got["scenes"]]
    for t, s in zip(table, ref["scenes"]):
        assert t["status"] == "ok" and t["shape"] == "x".join(map(str, s["shape"])) and t["error"] == ""
        assert float(t["auc_fusion_mult"]) == pytest.approx(s["auc"]["fusion_mult"], abs=1e-6)
        assert float(t["seconds_load"]) >= 0 and t["worker"].startswith("tcp://")


def test_resume_skips_complete_outputs_and_redoes_a_truncated_one(tmp_path, capsys, cluster):
    paths = _write_scenes(tmp_path, ["a", "b", "c"], seed=11)
    out_dir = tmp_path / "out"
    code, first, err = _batch(capsys, cluster, *paths, "--out", out_dir, "--bands", "all")
    assert code == 0, err
    outs = {p.stem: out_dir / f"{p.stem}.npz" for p in paths}
    stamp = {k: v.stat().st_mtime_ns for k, v in outs.items()}
    data = outs["b"].read_bytes()
    outs["b"].write_bytes(data[: len(data) // 2])  # a half-written file, as a killed writer would leave
    (out_dir / ".a.123.deadbeef.tmp.npz").write_bytes(data[:100])  # a stray temporary: never an output
    assert batch.complete_output(outs["b"]) is None and batch.complete_output(outs["a"]) is not None

    code, again, err = _batch(capsys, cluster, *paths, "--out", out_dir, "--bands", "all", "--resume")
    assert code == 0, err
    assert again["resumed"] == ["a", "c"] and again["throughput"]["scenes_computed"] == 1
    assert outs["a"].stat().st_mtime_ns == stamp["a"] and outs["c"].stat().st_mtime_ns == stamp["c"]
    assert batch.complete_output(outs["b"]) is not None  # redone, complete again
    by_name = {s["name"]: s for s in again["scenes"]}
    for s in first["scenes"]:
        assert by_name[s["name"]]["auc"] == s["auc"]
    assert by_name["b"]["resumed"] is False and "load" in by_name["b"]["seconds"]
    assert again["mean_auc"] == first["mean_auc"]

    # other options: nothing is taken from the earlier run
    code, other, err = _batch(capsys, cluster, *paths, "--out", out_dir, "--bands", "20", "--resume")
    assert code == 0, err
    assert other["resumed"] == [] and other["throughput"]["scenes_computed"] == 3
    assert all(s["band_adapter"] == "linear interpolation 30 -> 20 bands" for s in other["scenes"])


def test_corrupt_file_in_the_middle_is_reported_and_the_rest_finish(tmp_path, capsys, cluster):
    good = _write_scenes(tmp_path, ["g0", "g1"], seed=3)
    bad = tmp_path / "broken.mat"
    bad.write_bytes(b"MATLAB 5.0 MAT-file" + b"\x00" * 50)
    cube, _ = _scene(np.random.default_rng(5), 16, 16, 12)
    np.save(tmp_path / "nogt.npy", cube)  # no ground truth: maps only, not an error
    (tmp_path / "dup").mkdir()
    dup = tmp_path / "dup" / "g0.mat"
    dup.write_bytes(good[0].read_bytes())  # same scene name: its output would overwrite g0.npz
    out_dir = tmp_path / "out"
    code, got, err = _batch(capsys, cluster, good[0], bad, tmp_path / "nogt.npy", good[1], dup,
                            "--out", out_dir, "--bands", "all")
    assert code == 2
    assert [s["name"] for s in got["scenes"]] == ["g0", "nogt", "g1"]
    assert [e["file"] for e in got["errors"]] == [str(bad), str(dup)]
    assert str(bad) in got["errors"][0]["error"] and "\n" not in got["errors"][0]["error"]
    assert "same scene name" in got["errors"][1]["error"]
    lines = [ln for ln in err.splitlines() if ln.startswith("fers: error:")]
    assert len(lines) == 2 and any(str(bad) in ln for ln in lines) and "Traceback" not in err
    assert sorted(p.name for p in out_dir.glob("*.npz")) == ["g0.npz", "g1.npz", "nogt.npz"]
    nogt = got["scenes"][1]
    assert nogt["auc"] == {} and "rx" in load_npz(out_dir / "nogt.npz")[0]
    assert set(got["mean_auc"]) == {"rx"}  # over the scenes with ground truth
    assert got["mean_auc"]["rx"] == pytest.approx(np.mean([got["scenes"][i]["auc"]["rx"] for i in (0, 2)]),
                                                  abs=1e-6)
    with open(out_dir / "summary.csv", newline="") as f:
        table = [(t["name"], t["status"], t["error"] != "") for t in csv.DictReader(f)]
    assert table == [("g0", "ok", False), ("broken", "failed", True), ("nogt", "ok", False), ("g1", "ok", False),
                     ("g0", "failed", True)]


def _exit_code(argv) -> int:
    try:
        return main(argv)
    except SystemExit as e:  # argparse errors
        return e.code


def test_cli_input_errors_are_one_line(tmp_path, capsys):
    (tmp_path / "empty.txt").write_text("# nothing\n")
    out = ["--out", str(tmp_path / "o")]
    cases = [(["batch", str(tmp_path / "*.nothing"), *out], "no file matches"),
             (["batch", str(tmp_path / "empty.txt"), *out], "lists no scene"),
             (["batch", "x.mat", *out, "--scheduler", "tcp://127.0.0.1:1", "--workers", "2"], "--workers"),
             (["batch", "x.mat", *out, "--memory-limit", "lots"], "--memory-limit"),
             (["batch", "x.mat"], "--out")]
    for argv, words in cases:
        capsys.readouterr()
        code = _exit_code(argv)
        err = capsys.readouterr().err
        lines = [ln for ln in err.splitlines() if ln.startswith("fers: error:")]
        assert code == 2 and len(lines) == 1 and words in lines[0] and "Traceback" not in err, (argv, err)


def _dying_task(cube, gt, out_dir, options, resume, marker, target, times):
    """:func:`fers.batch.run_scene`, except that the first ``times`` attempts on ``target`` kill their
    own worker process (SIGKILL: no clean-up, as the kernel's OOM killer would); ``marker`` counts them."""
    if Path(cube).stem == target:
        deaths = Path(marker).read_text() if os.path.exists(marker) else ""
        if len(deaths) < times:
            Path(marker).write_text(deaths + "x")
            os.kill(os.getpid(), signal.SIGKILL)
    return batch.run_scene(cube, gt, out_dir, options, resume)


def _run_with_deaths(tmp_path, cluster, names, target, times):
    paths = _write_scenes(tmp_path, names, seed=19)
    marker = tmp_path / "deaths"
    task = functools.partial(_dying_task, marker=str(marker), target=target, times=times)
    options = batch.SceneOptions.make(bands="all")
    with Client(cluster.scheduler_address) as client:
        run = batch.run_batch(client, [(str(p), None) for p in paths], tmp_path / "out", options, task=task,
                              progress=False)
    assert [r["name"] for r in run.rows] == names
    return run, marker.read_text().count("x"), options


def test_worker_killed_mid_run_is_retried_by_dask(tmp_path, cluster):
    run, deaths, options = _run_with_deaths(tmp_path, cluster, ["k0", "k1", "k2", "k3"], "k1", times=1)
    assert deaths == 1  # the worker really died on k1 ...
    assert all(r["error"] is None for r in run.rows), [r["error"] for r in run.rows]  # ... and k1 was rerun
    assert run.computed == 4 and run.failed == 0
    for name in ("k0", "k1", "k2", "k3"):
        assert batch.complete_output(tmp_path / "out" / f"{name}.npz", options) is not None
    assert not list((tmp_path / "out").glob("*.tmp.npz"))


def test_a_scene_that_keeps_killing_workers_is_reported(tmp_path, cluster):
    from dask import config

    tries = config.get("distributed.scheduler.allowed-failures") + 1
    run, deaths, _ = _run_with_deaths(tmp_path, cluster, ["d0", "d1"], "d1", times=99)
    assert deaths == tries  # Dask gave up after its allowed failures ...
    assert run.rows[0]["error"] is None and run.failed == 1  # ... the other scene finished
    err = run.rows[1]["error"]
    assert err.startswith(run.rows[1]["file"]) and "died" in err and "--memory-limit" in err and "\n" not in err
    assert not (tmp_path / "out" / "d1.npz").exists()


def test_geotiff_outputs_and_resume_needs_them(tmp_path, capsys, cluster):
    rasterio = pytest.importorskip("rasterio")
    paths = _write_scenes(tmp_path, ["g0", "g1"], seed=5)
    out_dir = tmp_path / "out"
    code, first, err = _batch(capsys, cluster, *paths, "--out", out_dir, "--bands", "all")
    assert code == 0, err
    assert not list(out_dir.glob("*.tif"))
    code, again, err = _batch(capsys, cluster, *paths, "--out", out_dir, "--bands", "all", "--resume", "--geotiff")
    assert code == 0, err
    assert again["resumed"] == []  # the .npz files were complete, the GeoTIFFs missing: recomputed
    for p in paths:
        with rasterio.open(out_dir / f"{p.stem}.tif") as ds:
            assert ds.count == 2 and ds.descriptions[0] == "rx" and ds.descriptions[1].startswith("mask")
    code, third, err = _batch(capsys, cluster, *paths, "--out", out_dir, "--bands", "all", "--resume", "--geotiff")
    assert code == 0, err
    assert third["resumed"] == ["g0", "g1"]


def test_text_summary_of_a_resumed_run(tmp_path, capsys, cluster):
    """Issue 21: the text summary names the backend that ran, and a run whose scenes were all resumed
    has no empty "mean seconds:" line and no rates of nothing."""
    paths = _write_scenes(tmp_path, ["r0", "r1"], seed=23)
    args = ["batch", *map(str, paths), "--out", str(tmp_path / "out"), "--bands", "all",
            "--scheduler", cluster.scheduler_address]
    capsys.readouterr()
    assert main(args) == 0
    out, err = capsys.readouterr()
    head = next(ln for ln in out.splitlines() if ln.startswith("bands "))
    assert "backend auto" not in head and ("backend torch" in head or "backend onnx" in head)
    mean = next(ln for ln in out.splitlines() if ln.startswith("mean seconds: "))
    assert "rx " in mean and "total " in mean
    assert main(args + ["--resume"]) == 0
    out, err = capsys.readouterr()
    assert not [ln for ln in out.splitlines() if ln.startswith("mean seconds")], out
    assert "fers batch: 0 computed, 2 resumed, 0 failed in" in err and "(nothing computed)" in err
    assert "scenes/s" not in err


def test_throughput_has_sensible_digits():
    """Issue 21: scenes/s and Mpx/s to 3 significant digits, never "0.00" or exponent notation."""
    tp = batch.throughput(3, 3 * 100 * 100 / 1e6, 14.9)
    assert (tp["scenes_per_s"], tp["scenes_per_min"], tp["megapixels_per_s"]) == (0.201, 12.1, 0.00201)
    run = batch.BatchRun(rows=[], seconds=14.9, computed=3, throughput=tp)
    assert batch.throughput_text(run) == "3 computed, 0 resumed, 0 failed in 14.9 s: 0.201 scenes/s, 0.00201 Mpx/s"
    fast = batch.BatchRun(rows=[], seconds=60.0, computed=1234, throughput=batch.throughput(1234, 2468.0, 60.0))
    assert batch.throughput_text(fast).endswith(": 20.6 scenes/s, 41.1 Mpx/s")
    slow = batch.BatchRun(rows=[], seconds=9000.0, computed=1, throughput=batch.throughput(1, 1e-4, 9000.0))
    assert batch.throughput_text(slow).endswith(": 0.000111 scenes/s, 0.0000000111 Mpx/s")


def _exits_slowly(seconds: float) -> int:
    """Make this worker process take ``seconds`` to exit (as a worker that imported torch does on a busy
    machine: the interpreter's teardown)."""
    import atexit
    import time

    atexit.register(time.sleep, seconds)
    return os.getpid()


def test_local_workers_exit_without_being_killed():
    """Issue 21: ``LocalCluster.close()`` kills a worker still alive after 4 s with a "Worker process still
    alive after 4.0 seconds, killing" warning; ``batch.connect`` lets the workers exit on their own."""
    records: list = []
    handler = logging.Handler(level=logging.WARNING)
    handler.emit = records.append
    nanny = logging.getLogger("distributed.nanny")
    nanny.addHandler(handler)
    try:
        with batch.connect(workers=1) as (client, _):
            pid = client.submit(_exits_slowly, 5.0, pure=False).result()
    finally:
        nanny.removeHandler(handler)
    assert pid != os.getpid()
    assert not [r.getMessage() for r in records if "still alive" in r.getMessage()]
