"""Speed and agreement of our global RX (fers.detectors.rx.rx) against spectral.rx on a real ABU scene.

Usage (from the repo root)::

    python tests/benchmarks/bench_rx.py [--scene ../shared/data/abu/abu-airport-1.mat] [--repeats 15]

Both detectors score the same raw cube (H, W, B) in the same process, alternating, repeated; the
script prints the median (and best) wall time of each, the speed ratio spectral / ours, the AUCs and
|AUC difference|. Goal: ratio >= 2.5, |AUC diff| <= 1e-4.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import time
from pathlib import Path

import numpy as np
from _repo import REPO  # noqa: E402

from fers.detectors.rx import rx  # noqa: E402
from fers.io.cube import load_cube  # noqa: E402
from fers.metrics import auc  # noqa: E402


def check_sha(path: Path) -> str:
    sums = path.parent.parent / "SHA256SUMS"
    if not sums.is_file():
        return "no SHA256SUMS beside the data"
    rel = f"{path.parent.name}/{path.name}"
    want = dict(reversed(line.split(maxsplit=1)) for line in sums.read_text().splitlines() if line.strip())
    got = hashlib.sha256(path.read_bytes()).hexdigest()
    if want.get(rel) != got:
        raise SystemExit(f"{path}: SHA256 does not match SHA256SUMS")
    return "SHA256 ok"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scene", default=str(REPO.parent / "shared" / "data" / "abu" / "abu-airport-1.mat"))
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--dtype", choices=("raw", "float32", "float64"), default="raw",
                    help="feed the cube as stored (raw integers), or cast first")
    a = ap.parse_args()
    import scipy.io
    import spectral

    path = Path(a.scene)
    sha = check_sha(path)
    scene = load_cube(path)
    raw = scipy.io.loadmat(path)[scene.info["key"]] if path.suffix == ".mat" else scene.cube
    cube = raw if a.dtype == "raw" else raw.astype(a.dtype)
    ours_t, theirs_t = [], []
    ours = theirs = None
    for _ in range(a.repeats):
        t = time.perf_counter()
        ours = rx(cube)
        ours_t.append(time.perf_counter() - t)
        t = time.perf_counter()
        theirs = np.asarray(spectral.rx(cube))
        theirs_t.append(time.perf_counter() - t)
    mo, ms = np.median(ours_t), np.median(theirs_t)
    a_o, a_s = auc(ours, scene.gt), auc(theirs, scene.gt)
    threads = {k: os.environ.get(k) for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS") if os.environ.get(k)}
    print(f"scene {path.name} {cube.shape} {cube.dtype} ({sha}); {a.repeats} repeats; "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, threads env {threads or 'default'}")
    print(f"fers.detectors.rx      median {mo * 1e3:8.2f} ms  best {min(ours_t) * 1e3:8.2f} ms  AUC {a_o:.6f}")
    print(f"spectral.rx  median {ms * 1e3:8.2f} ms  best {min(theirs_t) * 1e3:8.2f} ms  AUC {a_s:.6f}")
    print(f"speed ratio (spectral / ours, medians): {ms / mo:.2f}x   (best/best {min(theirs_t) / min(ours_t):.2f}x)")
    print(f"|AUC difference|: {abs(a_o - a_s):.2e}   max relative score difference: "
          f"{np.max(np.abs(ours - theirs) / np.maximum(np.abs(theirs), 1e-12)):.2e}")


if __name__ == "__main__":
    main()
