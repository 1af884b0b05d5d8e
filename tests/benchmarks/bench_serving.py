"""What a served app takes: N concurrent clients, each uploading Airport-4 (100x100x191) and calling
``/detect`` over raw HTTP, against ``python app.py`` with 1 or 2 worker processes. Prints latency
p50/p95/max (upload + detection, per client), throughput and the peak resident memory of the server's
process tree (server + workers), then the GLT bomb of issue 17 (peak rise and the next request).

    python -m tests.benchmarks.bench_serving                  # from the repository root: clients 1 4 8 16, workers 1 2
    python -m tests.benchmarks.bench_serving --clients 8 --workers 1 --json
"""

import argparse
import concurrent.futures as cf
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from tests.benchmarks._app import TreePeak, launch_app, stop_app
from tests.ui._http import call_detect, upload

REPO = Path(__file__).resolve().parents[2]
AIRPORT = REPO / "fers" / "examples" / "abu-airport-4.mat"
GiB = 2**30


def one_client(url):
    t = time.perf_counter()
    event, data = call_detect(url, cube=upload(url, AIRPORT))
    return time.perf_counter() - t, event


def load(url, proc, clients: int) -> dict:
    one_client(url)  # warm
    with TreePeak(proc.pid) as mem, cf.ThreadPoolExecutor(clients) as ex:
        t0 = time.perf_counter()
        runs = list(ex.map(lambda _: one_client(url), range(clients)))
        wall = time.perf_counter() - t0
    lat = np.array([s for s, _ in runs])
    return {"clients": clients, "ok": sum(e == "complete" for _, e in runs), "p50_s": float(np.percentile(lat, 50)),
            "p95_s": float(np.percentile(lat, 95)), "max_s": float(lat.max()), "wall_s": wall,
            "per_s": clients / wall, "idle_gib": mem.start / GiB, "peak_gib": mem.peak / GiB}


def bomb(url, proc, work: Path) -> dict:
    from tests.io.make_products import make_emit

    path = make_emit(work / "EMIT_bomb.nc", rows=20, cols=16, bands=40, glt_shape=(16000, 16000)).path
    with TreePeak(proc.pid) as mem:
        t = time.perf_counter()
        event, data = call_detect(url, cube=upload(url, path))
        refused_s = time.perf_counter() - t
    after, _ = one_client(url)
    return {"file_kb": path.stat().st_size / 1024, "answer": event, "refused_s": refused_s,
            "peak_rise_gib": (mem.peak - mem.start) / GiB, "next_request_s": after,
            "message": (data or {}).get("error", "")[:120] if isinstance(data, dict) else ""}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, nargs="+", default=[1, 4, 8, 16])
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    rows = []
    for workers in a.workers:
        with tempfile.TemporaryDirectory() as tmp:
            proc, url = launch_app(Path(tmp), {"FERS_APP_WORKERS": str(workers), "FERS_APP_QUEUE_SIZE": "64"})
            try:
                for n in a.clients:
                    rows.append({"workers": workers, **load(url, proc, n)})
                    if not a.json:
                        r = rows[-1]
                        print(f"workers {workers} clients {n:3d}: {r['ok']}/{n} answered, p50 {r['p50_s']:.2f} s, "
                              f"p95 {r['p95_s']:.2f} s, max {r['max_s']:.2f} s, {r['per_s']:.2f} requests/s, "
                              f"memory idle {r['idle_gib']:.2f} GiB, peak {r['peak_gib']:.2f} GiB", flush=True)
                b = bomb(url, proc, Path(tmp))
                rows.append({"workers": workers, "glt_bomb": b})
                if not a.json:
                    print(f"workers {workers} GLT bomb ({b['file_kb']:.0f} kB): {b['answer']} in {b['refused_s']:.2f} s, "
                          f"peak rise {b['peak_rise_gib']:.3f} GiB; next Airport-4 request {b['next_request_s']:.2f} s",
                          flush=True)
            finally:
                stop_app(proc)
    if a.json:
        print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
