"""Benchmark (not a test): the hostile big inputs of the hardening issue, with peak RSS and wall time each.

Usage:
    python tests/benchmarks/bench_hostile.py [--workdir DIR] [--ae-size 300] [--skip-app] [--keep]

Generates every input in a temporary folder (the big ``.npy`` files are written as headers over holes,
so they take no disk space until read), runs each case in a child process and prints, per case, the
exit code, the wall time, the child's own peak RSS (``os.wait4`` rusage, ``ru_maxrss``) and the first
line it wrote to stderr:

* ``zero.npy`` 5000 x 5000 x 3 float32 of zeros (300 MB): ``fers detect`` with the default bands (the
  models would need 50 bands, ~30 GB: refused up front) and with ``--bands all`` (plain RX, streamed);
* ``--detector ae`` on a 900 x 1000 x 205 cube (refused up front: no bounded path with the models), on an
  ``--ae-size`` square x 205 cube, and with ``--bands all`` (no models) on one twice as wide (both run: the AE
  trains on pixel chunks, bounded, with progress);
* a zlib TIFF of about 4 MB that decodes to 2 GiB (32768 x 32768 x 2 uint8): refused from its header;
* ``--bands 100000000`` on a small cube;
* unless ``--skip-app``: the TIFF bomb sent to the app's ``/detect`` API (``python app.py`` in a child);
  the server's peak RSS (``VmHWM``) before and after shows whether it decoded anything.

The issue's targets: refusals in under 2 s with exit 2, and every process under 4 GB peak RSS.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _repo import REPO  # noqa: E402

GIB = 2**30


def sparse_npy(path: Path, shape, dtype=np.float32) -> Path:
    """An all-zero ``.npy`` of ``shape``: a header and a hole (no disk space, no memory)."""
    np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=shape).flush()
    return path


def random_npy(path: Path, shape, seed=0) -> Path:
    """A seeded float32 cube, written a block of rows at a time."""
    rng = np.random.default_rng(seed)
    mm = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=shape)
    for r in range(0, shape[0], 64):
        rows = min(64, shape[0] - r)
        mm[r : r + rows] = rng.normal(1000.0, 30.0, size=(rows, *shape[1:])).astype(np.float32)
    mm.flush()
    del mm
    return path


def tiff_bomb(path: Path, side=32768, bands=2, tile=512) -> Path:
    """A zlib-compressed TIFF of zeros, ``side x side x bands`` uint8, written tile by tile."""
    import tifffile

    zeros = np.zeros((tile, tile, bands), np.uint8)
    tifffile.imwrite(path, (zeros for _ in range((side // tile) ** 2)), shape=(side, side, bands),
                     dtype=np.uint8, tile=(tile, tile), compression="zlib", planarconfig="contig")
    return path


INPUTS = ("zero.npy", "ae_big.npy", "ae_ok.npy", "ae_all.npy", "small.npy", "bomb.tif")


def write_inputs(tmp: Path, ae_size: int) -> None:
    """Every input of the benchmark, named as :data:`INPUTS`."""
    sparse_npy(tmp / "zero.npy", (5000, 5000, 3))
    sparse_npy(tmp / "ae_big.npy", (900, 1000, 205))
    random_npy(tmp / "ae_ok.npy", (ae_size, ae_size, 205))
    random_npy(tmp / "ae_all.npy", (2 * ae_size, 2 * ae_size, 205))
    random_npy(tmp / "small.npy", (100, 100, 50))
    tiff_bomb(tmp / "bomb.tif")


def run_child(cmd, env=None) -> dict:
    """Run ``cmd``; its exit code, wall time, own peak RSS (bytes) and first stderr line."""
    t = time.perf_counter()
    err = tempfile.TemporaryFile()
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=err)
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    except KeyboardInterrupt:
        proc.kill()
        raise
    wall = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    err.seek(0)
    lines = [ln for ln in err.read().decode(errors="replace").replace("\r", "\n").splitlines()
             if ln.startswith(("fers: error:", "note:"))]
    return {"exit": proc.returncode, "wall": wall, "peak": usage.ru_maxrss * 1024, "line": lines[0] if lines else ""}


def app_case(bomb: Path, work: Path) -> dict:
    """The TIFF bomb through the app's API; the server's peak RSS before and after the request."""
    from _app import launch_app, stop_app
    from gradio_client import Client, handle_file

    def hwm(pid):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        return 0

    proc, url = launch_app(work)
    try:
        client = Client(url, verbose=False)
        before = hwm(proc.pid)
        t = time.perf_counter()
        try:
            client.predict(handle_file(str(bomb)), api_name="/detect")
            line = "(accepted)"
        except Exception as e:  # the refusal
            line = str(e)
        wall = time.perf_counter() - t
        return {"exit": "-", "wall": wall, "peak": hwm(proc.pid), "before": before, "line": line}
    finally:
        stop_app(proc)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", help="where to write the inputs (default: system temp)")
    ap.add_argument("--ae-size", type=int, default=300, help="side of the cube the AE runs on (default 300)")
    ap.add_argument("--skip-app", action="store_true", help="skip the app case (starts a server)")
    ap.add_argument("--keep", action="store_true", help="keep the generated inputs")
    ap.add_argument("--write", help=argparse.SUPPRESS)
    a = ap.parse_args()

    if a.write:  # in a child of its own, so this process stays small: a forked child starts at its size
        write_inputs(Path(a.write), a.ae_size)
        return
    tmp = Path(tempfile.mkdtemp(prefix="fers_bench_hostile_", dir=a.workdir))
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    fers = [sys.executable, "-m", "fers", "detect"]
    t = time.perf_counter()
    subprocess.run([sys.executable, __file__, "--write", str(tmp), "--ae-size", str(a.ae_size)], check=True)
    zero, ae_big, ae_ok, ae_all, small, bomb = (tmp / n for n in INPUTS)
    print(f"inputs written to {tmp} in {time.perf_counter() - t:.1f} s; TIFF bomb "
          f"{bomb.stat().st_size / 2**20:.1f} MB on disk, 2.0 GiB decoded")

    cases = [
        ("5000x5000x3 zeros .npy, default bands", fers + [str(zero)]),
        ("5000x5000x3 zeros .npy, --bands all", fers + [str(zero), "--bands", "all"]),
        ("--detector ae, 900x1000x205", fers + [str(ae_big), "--detector", "ae"]),
        (f"--detector ae, {a.ae_size}x{a.ae_size}x205", fers + [str(ae_ok), "--detector", "ae"]),
        (f"--detector ae --bands all, {2 * a.ae_size}x{2 * a.ae_size}x205",
         fers + [str(ae_all), "--detector", "ae", "--bands", "all"]),
        ("TIFF bomb (zlib, 2 GiB decoded)", fers + [str(bomb)]),
        ("--bands 100000000, 100x100x50", fers + [str(small), "--bands", "100000000"]),
    ]
    rows = []
    for name, cmd in cases:
        print(f"... {name}", flush=True)
        rows.append((name, run_child(cmd, env)))
    if not a.skip_app:
        print("... app /detect: TIFF bomb", flush=True)
        work = tmp / "app"
        work.mkdir()
        rows.append(("app /detect: TIFF bomb (server peak RSS)", app_case(bomb, work)))

    print(f"\n{'case':44s} {'exit':>4s} {'wall s':>8s} {'peak RSS':>10s}  first line")
    for name, r in rows:
        peak = f"{r['peak'] / GIB:.2f} GiB"
        if "before" in r:
            peak = f"{r['before'] / GIB:.2f}->{r['peak'] / GIB:.2f}"
        print(f"{name:44s} {str(r['exit']):>4s} {r['wall']:8.1f} {peak:>10s}  {r['line'][:150]}")
    worst = max(r["peak"] for _, r in rows)
    print(f"\nhighest peak RSS: {worst / GIB:.2f} GiB (target: under 4 GB)")
    if not a.keep:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
