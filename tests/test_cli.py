"""``python -m fers detect|bench`` run as a user would, in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import scipy.io
from PIL import Image

from tests.conftest import REPO, verified_path


def run_fers(*args, timeout=240, env=None):
    return subprocess.run([sys.executable, "-m", "fers", *map(str, args)], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout, env=env)


def run_fers_on_terminal(tmp_path, *args, timeout=240):
    """``python -m fers ARGS`` with stderr on a pseudo-terminal, as in a user's shell ->
    ``(returncode, stdout, stderr)`` (stdout goes to a file, so neither stream can block the other)."""
    import fcntl
    import os
    import pty
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # 0 columns: tqdm draws nothing
    with open(tmp_path / "stdout.txt", "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "fers", *map(str, args)], cwd=REPO, stdout=out,
                                stderr=slave, stdin=subprocess.DEVNULL)
    os.close(slave)
    err = b""
    while True:
        try:
            data = os.read(master, 1 << 16)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        err += data
    os.close(master)
    rc = proc.wait(timeout=timeout)
    return rc, (tmp_path / "stdout.txt").read_text(), err.decode(errors="replace")


def _scene(rng, h=20, w=18, b=10):
    cube = rng.normal(300, 20, size=(h, w, b))
    gt = np.zeros((h, w), np.uint8)
    gt[3, 4] = gt[15, 10] = gt[9, 9] = 1
    cube[gt > 0] += 150
    return cube.astype(np.uint16), gt


def test_bench_json_schema(tmp_path, rng):
    files = []
    for i in range(2):
        cube, gt = _scene(rng)
        files.append(tmp_path / f"s{i}.mat")
        scipy.io.savemat(files[-1], {"data": cube, "map": gt})
    r = run_fers("bench", *files, "--bands", "all", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["bands"] == "all" and out["detector"] == "rx"
    assert [s["name"] for s in out["scenes"]] == ["s0", "s1"]
    for s in out["scenes"]:
        assert s["shape"] == [20, 18, 10] and isinstance(s["band_adapter"], str)
        assert set(s["auc"]) == {"rx"} and 0.5 < s["auc"]["rx"] <= 1.0
        assert s["seconds"]["rx"] >= 0
    assert out["mean_auc"]["rx"] == pytest.approx(np.mean([s["auc"]["rx"] for s in out["scenes"]]), abs=1e-6)
    assert "\r" not in r.stderr and "\x1b" not in r.stderr  # stderr is a pipe here: no progress bars


def test_detect_writes_npz_with_png_gt(tmp_path, rng):
    cube, gt = _scene(rng)
    np.save(tmp_path / "c.npy", cube)
    Image.fromarray(np.dstack([gt * 0, gt * 255, gt * 0]).astype(np.uint8)).save(tmp_path / "g.png")
    out = tmp_path / "maps.npz"
    r = run_fers("detect", tmp_path / "c.npy", "--gt", tmp_path / "g.png", "--bands", "8", "--out", out, "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["band_adapter"] == "linear interpolation 10 -> 8 bands" and "rx" in d["auc"]  # default: resample
    with np.load(out, allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))
        assert z["rx"].shape == (20, 18) and meta["methods"] == list(d["auc"])
    r = run_fers("detect", tmp_path / "c.npy", "--bands", "all")  # no GT: maps only, table-free text
    assert r.returncode == 0 and "methods rx" in r.stdout


def test_bad_inputs_exit_2_with_one_line(tmp_path, rng):
    bad = tmp_path / "broken.mat"
    bad.write_bytes(b"MATLAB 5.0 MAT-file" + b"\x00" * 50)
    cube, gt = _scene(rng)
    np.save(tmp_path / "c.npy", cube)
    cases = [("bench", bad), ("detect", tmp_path / "c.npy", "--bands", "1:2:3"),
             ("bench", tmp_path / "c.npy"), ("detect", tmp_path / "c.npy", "--bogus"),
             ("detect", tmp_path / "c.npy", "--windows", "4,9")]  # corrupt, bad spec, no GT, argparse errors
    for args in cases:
        r = run_fers(*args)
        assert r.returncode == 2, (args, r.stderr)
        lines = [ln for ln in r.stderr.splitlines() if ln.startswith("fers: error:")]
        assert len(lines) == 1 and "Traceback" not in r.stderr and "usage:" not in r.stderr, (args, r.stderr)
        assert args[0] == "bench" or r.stdout == ""
        assert str(args[1]) in lines[0] or any(w in lines[0] for w in ("band spec", "--bogus", "odd"))


def test_bench_reports_a_bad_file_and_keeps_the_good_ones(tmp_path, rng):
    bad = tmp_path / "broken.mat"
    bad.write_bytes(b"MATLAB 5.0 MAT-file" + b"\x00" * 50)
    cube, gt = _scene(rng)
    scipy.io.savemat(tmp_path / "good.mat", {"data": cube, "map": gt.astype(np.uint8)})
    r = run_fers("bench", bad, tmp_path / "good.mat", "--bands", "all", "--json")
    assert r.returncode == 2, r.stderr
    out = json.loads(r.stdout)
    assert [s["name"] for s in out["scenes"]] == ["good"] and out["mean_auc"]["rx"] == out["scenes"][0]["auc"]["rx"]
    assert len(out["errors"]) == 1 and out["errors"][0]["file"] == str(bad) and "cannot read" in out["errors"][0]["error"]


def test_bench_airport1_rx_auc_all_and_default_bands():
    path = verified_path("abu/abu-airport-1.mat")
    for bands in ("all", None, "100"):  # "100" with the paper's adapter (first N bands), by name
        r = run_fers("bench", path, "--json", *(["--bands", bands] if bands else []),
                     *(["--adapter", "first"] if bands == "100" else []))
        assert r.returncode == 0, r.stderr
        s = json.loads(r.stdout)["scenes"][0]
        assert s["shape"] == [100, 100, 205]
        if bands in ("all", None):  # default auto: plain RX on all 205 bands
            assert s["auc"]["rx"] == pytest.approx(0.8221, abs=1e-3)
        if bands is None:
            assert s["band_adapter"] == "auto: rx on all 205 bands; models on linear interpolation 205 -> 200 bands"
        if bands == "100":  # RX on the adapted cube, plus the all-band reference
            assert s["band_adapter"] == "first 100 of 205 bands"
            assert s["auc"]["rx"] == pytest.approx(0.8789, abs=1e-3)
            assert s["rx_all_bands_auc"] == pytest.approx(0.8221, abs=1e-3)


def _one_error_line(r) -> str:
    assert r.returncode == 2, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("fers: error:")]
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    return lines[0]


def test_layout_nodata_and_band_grammar_options(tmp_path, rng):
    import tifffile

    cube = rng.integers(0, 999, size=(4, 3, 30)).astype(np.uint16)  # 30 bands > H, W: a page stack needs --layout
    tifffile.imwrite(tmp_path / "t.tif", np.moveaxis(cube, -1, 0), photometric="minisblack", metadata=None)
    r = run_fers("detect", tmp_path / "t.tif", "--bands", "all", "--layout", "bands_first", "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["shape"] == [4, 3, 30] and d["input"]["layout"] == "bands_first (given)"
    big, g = _scene(rng)
    framed = np.full((24, 22, 10), -9999.0, np.float32)
    framed[2:-2, 2:-2] = big
    gf = np.zeros((24, 22), np.uint8)
    gf[2:-2, 2:-2] = g
    scipy.io.savemat(tmp_path / "framed.mat", {"data": framed, "map": gf})
    r = run_fers("bench", tmp_path / "framed.mat", "--bands", "5:", "--nodata", "-9999", "--json")
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)["scenes"][0]
    assert s["masked_pixels"] == 24 * 22 - 20 * 18 and s["input"]["nodata"] == -9999 and s["bands"] == "5:"
    assert s["auc"]["rx"] > 0.9
    r = run_fers("detect", tmp_path / "framed.mat", "--bands", "1,1,1")
    assert "listed more than once" in _one_error_line(r)
    r = run_fers("detect", tmp_path / "framed.mat", "--layout", "bands_first")
    assert "framed.mat: layout='bands_first' only applies to TIFF" in _one_error_line(r)


def test_tiny_constant_and_empty_cubes(tmp_path, rng):
    np.save(tmp_path / "tiny.npy", rng.random((2, 2, 60)).astype(np.float32))
    r = run_fers("detect", tmp_path / "tiny.npy")  # the networks cannot run: plain RX, and the note says why
    assert r.returncode == 0, r.stderr
    assert "note: tiny is 2x2 pixels; the networks need at least 8x8" in r.stderr and "methods rx;" in r.stdout
    assert ".pt" not in r.stderr + r.stdout
    np.save(tmp_path / "zero.npy", np.zeros((20, 20, 10), np.float32))
    gt = np.zeros((20, 20), np.uint8)
    gt[4, 4] = 1
    np.save(tmp_path / "g.npy", gt)
    r = run_fers("detect", tmp_path / "zero.npy", "--gt", tmp_path / "g.npy", "--bands", "all")
    assert f"{tmp_path / 'zero.npy'}: every pixel has the same spectrum" in _one_error_line(r)
    np.save(tmp_path / "nan.npy", np.full((5, 5, 4), np.nan, np.float32))
    r = run_fers("detect", tmp_path / "nan.npy")
    assert f"{tmp_path / 'nan.npy'}: every pixel is no-data (NaN/Inf)" in _one_error_line(r)

def _refused_fast(*args, env=None, limit_s=2.0, code=4):
    """Run the CLI; it must exit ``code`` (4: a memory refusal, :mod:`fers.errors`) within ``limit_s``
    with one ``fers: error:`` line (no traceback)."""
    import os
    import time

    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "fers", *map(str, args)], cwd=REPO, capture_output=True, text=True,
                       timeout=120, env={**os.environ, **(env or {})})
    took = time.perf_counter() - t
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("fers: error:")]
    assert r.returncode == code and len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    assert took < limit_s, f"took {took:.1f} s"
    return lines[0]


def test_hostile_sizes_are_refused_in_under_2_s(tmp_path):
    """Items 5-8 of the hardening issue, from headers and shapes alone: nothing is decoded or allocated.
    The big files are sparse (written as headers with holes), so the test stays small on disk."""
    tifffile = pytest.importorskip("tifffile")
    zero = tmp_path / "zero.npy"  # 5000 x 5000 x 3 float32, 300 MB of zeros; the models would need 50 bands
    np.lib.format.open_memmap(zero, mode="w+", dtype=np.float32, shape=(5000, 5000, 3)).flush()
    line = _refused_fast("detect", zero)
    assert f"{zero}: this request needs about" in line and "budget" in line
    assert "bands 'all'" in line and "crop the scene to about" in line

    ae = tmp_path / "ae.npy"  # 900 x 1000 x 205: the AE detector with the models does not fit
    np.lib.format.open_memmap(ae, mode="w+", dtype=np.float32, shape=(900, 1000, 205)).flush()
    line = _refused_fast("detect", ae, "--detector", "ae")
    assert "budget" in line and "crop the scene to about" in line

    small = tmp_path / "small.npy"
    np.save(small, np.ones((30, 20, 12), np.float32))
    line = _refused_fast("detect", small, "--bands", "100000000")
    assert "100000000 bands" in line and "select fewer bands" in line

    bomb = tmp_path / "bomb.tif"  # 140 KB of zlib that decodes to 128 MB (512 MB as float32)
    tile = np.zeros((256, 256, 8), np.uint8)
    tifffile.imwrite(bomb, (tile for _ in range(16 * 16)), shape=(4096, 4096, 8), dtype=np.uint8,
                     tile=(256, 256), compression="zlib", planarconfig="contig")
    assert bomb.stat().st_size < 500_000
    line = _refused_fast("detect", bomb, env={"FERS_MAX_MEMORY": "500MB"})
    assert f"{bomb}: cube decodes to 128 MB (134,217,728 values)" in line and "uncompressed .npy" in line


def test_streamed_when_it_fits_with_progress(tmp_path):
    """``--bands all`` on the 25 Mpixel zero cube runs (streamed plain RX), with tqdm bars on stderr
    when stderr is a terminal."""
    zero = tmp_path / "zero.npy"
    mm = np.lib.format.open_memmap(zero, mode="w+", dtype=np.float32, shape=(2000, 2000, 3))
    mm[:, :, 0] = np.arange(2000, dtype=np.float32)[:, None]  # not constant (a constant cube is refused)
    mm.flush()
    del mm
    rc, out, err = run_fers_on_terminal(tmp_path, "detect", zero, "--bands", "all", "--json")
    assert rc == 0, err
    assert json.loads(out)["shape"] == [2000, 2000, 3]
    assert "RX statistics" in err and "RX scores" in err  # the streamed passes' progress bars
