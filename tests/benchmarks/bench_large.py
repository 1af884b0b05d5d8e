"""Benchmark: detection on a large memory-mapped cube (default 1000 x 1000 x 200 float32, 800 MB).

Usage:
    python tests/benchmarks/bench_large.py [--size 1000] [--bands 200] [--via api|cli]
                                           [--weights CKPT] [--workdir DIR] [--keep]

1. Writes a seeded synthetic cube (a few endmember mixtures + noise + 20 small square anomalies)
   chunk by chunk into a temporary ``.npy`` with ``np.lib.format.open_memmap`` -- never whole in RAM.
2. Runs detection in a child process and prints its wall time and peak RSS
   (``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss``):
   * ``--via api`` (default): ``fers.io.cube.load_cube(path, mmap=True)`` then
     ``fers.large.scene.detect_large`` (streaming min/max, Spe-FEN tiles + exact streamed Spa-FEN,
     two-pass streaming global RX of H, H+F_spe, H+F_spa, H+F_spe+F_spa, fusion A);
   * ``--via cli``: ``python -m fers detect BIG.npy --bands N`` (whatever the CLI does with it).
   Without ``--weights`` the FENs are random-init (``fers.models.checkpoint.build_fens``): same
   architecture and cost as trained ones, so time and memory are representative, the maps are not.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _repo import REPO  # noqa: E402


def write_cube(path: Path, size: int, bands: int, seed: int = 0, chunk: int = 50) -> None:
    """Seeded synthetic cube ``(size, size, bands)`` float32, written ``chunk`` rows at a time."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 1.0, bands)
    ends = np.stack([1000 + 800 * np.sin(2 * np.pi * (f * t + p)) for f, p in rng.uniform(0.3, 2.0, (4, 2))])
    target = 1500 + 600 * np.cos(6 * np.pi * t)
    anomalies = rng.integers(0, size - 3, size=(20, 2))
    mm = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(size, size, bands))
    for r0 in range(0, size, chunk):
        r1 = min(size, r0 + chunk)
        w = rng.dirichlet(np.full(4, 0.7), size=(r1 - r0, size))
        block = w @ ends + rng.normal(0.0, 15.0, size=(r1 - r0, size, bands))
        for ar, ac in anomalies:
            if r0 <= ar < r1:
                block[ar - r0 : min(ar - r0 + 3, r1 - r0), ac : ac + 3] = target
        mm[r0:r1] = block.astype(np.float32)
    mm.flush()
    del mm


def child(path: str, weights: str | None, tile: int, overlap: int) -> None:
    """Detection through the library on a memory-mapped cube (runs in the measured child process)."""
    import torch

    from fers.enhance.torch_backend import TorchEnhancer
    from fers.io.cube import load_cube
    from fers.large.scene import detect_large

    t0 = time.perf_counter()
    scene = load_cube(path, mmap=True)
    n = scene.cube.shape[2]
    if weights:
        enh = TorchEnhancer(weights, device="cpu")
    else:
        from fers.models.checkpoint import build_fens, default_config

        torch.manual_seed(0)
        cfg = default_config(n)
        enh = TorchEnhancer(models=(*build_fens(cfg), cfg), device="cpu")
    notes: list = []
    maps, sec = detect_large(scene.cube, enh, tile=tile, overlap=overlap, notes=notes)
    sec["total_in_child"] = time.perf_counter() - t0
    ok = all(np.isfinite(m).all() and m.shape == scene.cube.shape[:2] for m in maps.values())
    print(json.dumps({"memmap": isinstance(scene.cube, np.memmap), "methods": list(maps), "finite": ok,
                      "seconds": {k: round(v, 1) for k, v in sec.items()}, "notes": notes,
                      "torch_threads": torch.get_num_threads()}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=1000)
    ap.add_argument("--bands", type=int, default=200)
    ap.add_argument("--via", choices=("api", "cli"), default="api")
    ap.add_argument("--weights", help="a FERS checkpoint with --bands bands (default: random-init FENs)")
    ap.add_argument("--tile", type=int, default=256)
    ap.add_argument("--overlap", type=int, default=64)
    ap.add_argument("--workdir", help="where to write the temporary cube (default: system temp)")
    ap.add_argument("--keep", action="store_true", help="keep the generated cube")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        child(a.child, a.weights, a.tile, a.overlap)
        return

    tmp = Path(tempfile.mkdtemp(prefix="fers_bench_large_", dir=a.workdir))
    path = tmp / f"big_{a.size}x{a.size}x{a.bands}.npy"
    t = time.perf_counter()
    write_cube(path, a.size, a.bands)
    print(f"wrote {path} ({path.stat().st_size / 2**20:.0f} MiB) in {time.perf_counter() - t:.1f} s")
    if a.via == "api":
        cmd = [sys.executable, __file__, "--child", str(path), "--tile", str(a.tile), "--overlap", str(a.overlap)]
        if a.weights:
            cmd += ["--weights", a.weights]
    else:
        cmd = [sys.executable, "-m", "fers", "detect", str(path), "--bands", str(a.bands)]
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    t = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
    print(proc.stdout.strip()[-3000:])
    if proc.returncode != 0:
        print(proc.stderr.strip()[-3000:])
    print(f"via {a.via}: exit {proc.returncode}, wall {wall:.1f} s, peak RSS {peak_kib / 2**20:.2f} GiB "
          f"(cube {a.size}x{a.size}x{a.bands} float32, {path.stat().st_size / 2**30:.2f} GiB on disk)")
    if not a.keep:
        path.unlink()
        tmp.rmdir()


if __name__ == "__main__":
    main()
