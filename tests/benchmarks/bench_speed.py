"""Every row of issue 19's speed table in one run, each as a ratio to a reference measured in this run.

Usage (from the repository root)::

    python tests/benchmarks/bench_speed.py [--repeats 9] [--cold-runs 5] [--skip-lrx] [--skip-batch]

Rows (abu-airport-1 / abu-airport-4 from ../shared/data/abu when there, else the shipped example):

1. full default detection (all maps, ``fers.detect``, warm, backend auto) vs SPy's ``spectral.rx``
   on the same cube, alternating in this process, medians;
2. ``fers.detectors.rx.rx`` vs ``spectral.rx`` (same raw cube, alternating, medians);
3. cold ``python -m fers detect fers/examples/abu-airport-4.mat`` vs a bare
   ``python -c "import numpy, scipy.linalg, scipy.io, onnxruntime"`` (fresh processes, alternating,
   medians; the peak RSS of the detection process from ``wait4``), after one unmeasured run that
   leaves ONNX Runtime's optimised graphs in the user cache, as any earlier run of the user's would;
4. cold ``python -m fers detect ... --detector lrx --windows 5,15`` (one run) vs ``spectral.rx``
   on the same cube;
5. ``python -m fers batch`` on the 13 ABU scenes with 2 workers vs 1 (task-phase seconds, scenes/s).

The EMIT-size row is ``tests/benchmarks/bench_emit_granule.py`` (minutes and GiBs; not run here).
The machine, the BLAS/ORT thread settings and the load average before and after are printed: on a
shared CPU the ratios move with the load (OpenBLAS's threads, SPy's included, spin while they wait).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np  # noqa: E402
from _repo import REPO  # noqa: E402

DATA = REPO.parent / "shared" / "data" / "abu"
EXAMPLE = REPO / "fers" / "examples" / "abu-airport-4.mat"
BARE = [sys.executable, "-c", "import numpy, scipy.linalg, scipy.io, onnxruntime"]
ENV = {**os.environ, "PYTHONPATH": str(REPO)}


def scene(name: str) -> Path:
    path = DATA / f"{name}.mat"
    return path if path.is_file() else EXAMPLE


def raw_cube(path: Path) -> np.ndarray:
    import scipy.io

    return scipy.io.loadmat(path)["data"]


def alternate(fns: dict, repeats: int) -> dict:
    """Median wall seconds of each zero-argument function, called in turn ``repeats`` times."""
    times = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            t = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t)
    return {k: statistics.median(v) for k, v in times.items()}


def run_process(cmd) -> tuple[float, float, int]:
    """``(wall s, peak RSS MiB, exit code)`` of one fresh process."""
    t = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV, cwd=REPO)
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t
    p.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_maxrss / 1024, p.returncode


def row(what: str, value: str, goal: str, ok: bool | None) -> None:
    mark = "" if ok is None else (" (met)" if ok else " (NOT met)")
    print(f"| {what} | {value} | {goal}{mark} |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=9, help="in-process repeats (medians)")
    ap.add_argument("--cold-runs", type=int, default=5, help="fresh-process pairs for the cold CLI row")
    ap.add_argument("--skip-lrx", action="store_true")
    ap.add_argument("--skip-batch", action="store_true")
    a = ap.parse_args()

    import spectral

    import fers
    from fers.detectors.rx import rx
    from fers.io import load_cube

    threads = {k: os.environ[k] for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "FERS_THREADS",
                                          "FERS_ORT_THREADS") if k in os.environ}
    print(f"# {platform.processor() or platform.machine()} {platform.platform()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}, threads env {threads or 'default'}")
    from fers.threads import compute_threads

    print(f"# fers compute threads {compute_threads()} (RX row blocks, local RX); load average before: "
          f"{os.getloadavg()}")
    print("| what | measured | goal |\n|---|---|---|", flush=True)

    a1 = scene("abu-airport-1")
    cube1, raw1 = load_cube(a1).cube, raw_cube(a1)
    res = fers.detect(cube1)  # warm: the models are loaded once
    stages: dict = {}

    def detect1():
        for k, v in fers.detect(cube1).seconds.items():
            stages.setdefault(k, []).append(v)

    t = alternate({"detect": detect1, "spy": lambda: spectral.rx(raw1)}, a.repeats)
    r = t["detect"] / t["spy"]
    print("# full detection stages, median ms: " + ", ".join(
        f"{k} {statistics.median(v) * 1e3:.0f}" for k, v in stages.items() if statistics.median(v) >= 1e-3))
    row(f"full default detection on {a1.stem} {cube1.shape}, all {len(res.maps)} maps, warm, backend "
        f"{res.backend}, vs spectral.rx", f"**{r:.2f}x** ({t['detect'] * 1e3:.0f} vs {t['spy'] * 1e3:.1f} ms)",
        "<= 5x", r <= 5)

    t = alternate({"ours": lambda: rx(raw1), "spy": lambda: spectral.rx(raw1)}, max(a.repeats, 15))
    r = t["spy"] / t["ours"]
    row("global RX vs spectral.rx (raw cube)", f"**{r:.2f}x** faster ({t['ours'] * 1e3:.1f} vs {t['spy'] * 1e3:.1f} ms)",
        ">= 2.5x", r >= 2.5)

    det = [sys.executable, "-m", "fers", "detect", str(EXAMPLE.relative_to(REPO))]
    run_process(det)  # not measured: fills the optimised-graph cache (fers.enhance.onnx_backend.cpu_session)
    pairs = [(run_process(det), run_process(BARE)) for _ in range(a.cold_runs)]
    if any(d[2] for d, _ in pairs):
        raise SystemExit("fers detect failed in the cold-CLI row")
    d_wall = statistics.median(d[0] for d, _ in pairs)
    b_wall = statistics.median(b[0] for _, b in pairs)
    peak = max(d[1] for d, _ in pairs)
    r = statistics.median(d[0] / b[0] for d, b in pairs)
    row("cold `fers detect fers/examples/abu-airport-4.mat` vs bare `import numpy, scipy.linalg, scipy.io, "
        "onnxruntime`", f"**{r:.2f}x** ({d_wall:.2f} vs {b_wall:.2f} s), peak {peak:.0f} MiB",
        "<= 3x, <= 500 MB", r <= 3 and peak * 2**20 <= 500e6)

    if not a.skip_lrx:
        a4 = scene("abu-airport-4")
        raw4 = raw_cube(a4)
        spy4 = alternate({"spy": lambda: spectral.rx(raw4)}, a.repeats)["spy"]
        wall, peak, code = run_process([sys.executable, "-m", "fers", "detect", str(a4), "--detector", "lrx",
                                        "--windows", "5,15"])
        if code:
            raise SystemExit("fers detect --detector lrx failed")
        r = wall / spy4
        row(f"local RX, every map (`--detector lrx --windows 5,15`) on {a4.stem} {raw4.shape}, cold, vs "
            "spectral.rx", f"**{r:.0f}x** ({wall:.1f} s vs {spy4 * 1e3:.1f} ms)", "<= 250x", r <= 250)

    if not a.skip_batch and len(list(DATA.glob("*.mat"))) >= 2:
        secs = {}
        for n in (1, 2):
            with tempfile.TemporaryDirectory() as out:
                p = subprocess.run([sys.executable, "-m", "fers", "batch", *map(str, sorted(DATA.glob("*.mat"))),
                                    "--out", out, "--workers", str(n), "--json"], capture_output=True, text=True,
                                   env=ENV, cwd=REPO)
                if p.returncode:
                    raise SystemExit(f"fers batch --workers {n} failed: {p.stderr[-500:]}")
                secs[n] = json.loads(p.stdout)["throughput"]
        r = secs[1]["seconds"] / secs[2]["seconds"]
        row(f"`fers batch` on the {secs[1]['scenes_computed']} ABU scenes, 2 workers vs 1",
            f"**{r:.2f}x** ({secs[1]['scenes_per_s']:.2f} -> {secs[2]['scenes_per_s']:.2f} scenes/s)", ">= 1.6x",
            r >= 1.6)
    row("an EMIT-size granule (1280x1242x285) end to end", "not run here: tests/benchmarks/bench_emit_granule.py",
        "ratio to plain RX; <= 3 GiB", None)
    print(f"# load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
