"""First click on a fresh clone: seconds from a started app to the first example's result, and the next.

    python tests/benchmarks/bench_first_click.py [--repo DIR]

Starts ``python DIR/app.py`` (default: this repository) with an empty HOME, FERS_CACHE and temp folder,
waits until it answers, then calls ``/detect`` on the bundled Airport-4 example with the app's defaults
(what clicking the example does: bands auto, the measured default fusion, the ONNX backend), twice.
Prints the start-up time, the first and the second call, and whether anything was written into the
repository or the cache. Not a test: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from _app import launch_app, stop_app
from _repo import REPO


def _files(folder: Path) -> set:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if ".git" not in p.parts and ".venv" not in p.parts
            and "__pycache__" not in p.parts and ".pytest_cache" not in p.parts}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repo", type=Path, default=REPO)
    a = ap.parse_args(argv)
    from gradio_client import Client, handle_file

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        before = _files(a.repo)
        t0 = time.perf_counter()
        proc, url = launch_app(tmp, {"HOME": str(tmp / "home"), "FERS_CACHE": str(tmp / "cache")}, timeout=300,
                               repo=a.repo)
        try:
            started = time.perf_counter() - t0
            client = Client(url, verbose=False)
            example = handle_file(str(a.repo / "fers" / "examples" / "abu-airport-4.mat"))
            times = []
            for _ in range(2):
                t = time.perf_counter()
                res = client.predict(example, api_name="/detect")
                times.append(time.perf_counter() - t)
        finally:
            stop_app(proc)
        written = sorted(_files(a.repo) - before)
        cache = sorted(_files(tmp / "cache")) if (tmp / "cache").exists() else []
    print(f"repo {a.repo}: app answered after {started:.1f} s; first example {times[0]:.1f} s, second {times[1]:.1f} s "
          f"(backend {res['backend']}, default map {res['default_method']}, AUC {res['auc'][res['default_method']]:.4f})")
    print(f"files written into the repository: {written or 'none'}; into FERS_CACHE: {cache or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
