"""Benchmark: ``fers batch`` on the 13 ABU scenes with 1 vs 2 Dask workers (prints numbers; not a test).

Usage:
    python tests/benchmarks/bench_batch.py [--workers 1 2] [--bands auto] [--backend torch]

For each worker count: a fresh ``LocalCluster`` of that many worker processes (1 thread each), every
worker warmed up first (``fers.pipeline`` imported and the models the scenes need loaded, as the first
scene of a run would do), then one :func:`fers.batch.run_batch` over ``../shared/data/abu/*.mat``
into a temporary folder. Printed per run: cluster start-up and warm-up seconds, the wall time of the
scenes, scenes/min, megapixels/s, the seconds spent inside the tasks (their sum over the wall time is
how many workers were busy on average: near the worker count while the speed-up stays low means the
tasks themselves got slower, i.e. the CPUs were shared) and the peak RSS of the workers; then the speed-up of the last
worker count over the first (same scenes, one run each) and the largest AUC difference between the
runs (expected 0: every worker runs torch on one thread).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import tempfile
import time

from _repo import REPO
from dask.distributed import Client, LocalCluster, get_task_stream

from fers import batch  # the installed package (pip install -r requirements.txt installs this checkout, editable)

ABU = REPO.parent / "shared" / "data" / "abu"


def _warm(model_bands, backend):
    """Runs on every worker: what a run's first scene pays once per process (imports, model loading)."""
    import fers.pipeline  # noqa: F401
    from fers.enhance import make_enhancer

    for n in model_bands:
        make_enhancer(n, backend)
    return os.getpid()


def _peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def one_run(n_workers, pairs, options, model_bands):
    t = time.perf_counter()
    with LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster, \
            Client(cluster) as client:
        startup = time.perf_counter() - t
        t = time.perf_counter()
        client.run(_warm, model_bands, options.detect.backend)
        warm = time.perf_counter() - t
        with tempfile.TemporaryDirectory(prefix="fers-bench-batch-") as out, get_task_stream(client) as stream:
            run = batch.run_batch(client, pairs, out, options, progress=False)
        rss = client.run(_peak_rss_mib)
    failed = [r["error"] for r in run.rows if r["error"]]
    if failed:
        sys.exit("failed scenes:\n" + "\n".join(failed))
    tp = run.throughput
    busy = sum(ss["stop"] - ss["start"] for rec in stream.data for ss in rec["startstops"]
               if ss["action"] == "compute")  # seconds the workers spent running the tasks, all together
    print(f"{n_workers} worker(s): start-up {startup:5.1f} s, warm-up {warm:5.1f} s, {run.computed} scenes in "
          f"{run.seconds:6.1f} s = {tp['scenes_per_min']:6.2f} scenes/min, {tp['megapixels_per_s']:.4f} "
          f"megapixels/s; task seconds {busy:6.1f} (mean {busy / run.computed:.2f} per scene, "
          f"{busy / run.seconds:.2f} workers busy on average); peak worker RSS {max(rss.values()):.0f} MiB",
          flush=True)
    return run


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--bands", default="auto")
    ap.add_argument("--backend", choices=("torch", "onnx"), default="torch")
    a = ap.parse_args()
    files = sorted(ABU.glob("*.mat"))
    if len(files) != 13:
        sys.exit(f"expected the 13 ABU scenes in {ABU}, found {len(files)}")
    pairs = [(str(p), None) for p in files]
    options = batch.SceneOptions.make(bands=a.bands, backend=a.backend)
    print(f"{len(files)} ABU scenes, bands {a.bands}, backend {a.backend}; {platform.machine()}, {os.cpu_count()} "
          f"CPUs, load average {os.getloadavg()[0]:.2f} at start", flush=True)
    runs = {n: one_run(n, pairs, options, model_bands=(100, 200)) for n in a.workers}
    first, last = a.workers[0], a.workers[-1]
    speedup = runs[first].seconds / runs[last].seconds
    diff = max(abs(x["auc"][m] - y["auc"][m]) for x, y in zip(runs[first].rows, runs[last].rows) for m in x["auc"])
    print(f"speed-up {last} vs {first} worker(s): {speedup:.2f}x (scenes only, one run each); "
          f"largest AUC difference between the runs {diff:.1e}; load average {os.getloadavg()[0]:.2f} at end")


if __name__ == "__main__":
    main()
