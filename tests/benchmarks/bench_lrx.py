"""Benchmark: vectorised local RX (fers.detectors.lrx.local_rx) vs SPy's spectral.rx(X, window=(inner, outer)).

Usage: python tests/benchmarks/bench_lrx.py [--size 100] [--bands 50] [--windows 5,21 3,11]
Prints, per window pair, both wall times (same process, same seeded float64 cube), the speed ratio and
the largest relative score difference. fers.detectors.lrx is timed as the median of ``--repeats`` runs (default 3;
the first run also pays one-off costs such as NumPy's lazy imports), spectral.rx once (it takes seconds
to minutes, so one run already averages over thousands of pixels). The cube is float64 because SPy computes window means in the
input dtype: with float32 input its own rounding (~1e-4 relative on ill-conditioned windows)
dominates the comparison; fers.detectors.lrx always works in float64. SPy returns float32 scores.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=100)
    ap.add_argument("--bands", type=int, default=50)
    ap.add_argument("--windows", nargs="+", default=["5,21"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=3, help="runs of fers.detectors.lrx (median reported)")
    a = ap.parse_args()

    import spectral

    from fers.detectors.lrx import local_rx

    rng = np.random.default_rng(a.seed)
    mix = rng.normal(size=(a.bands, a.bands))
    cube = rng.normal(size=(a.size, a.size, a.bands)) @ mix + 100.0  # correlated bands, float64
    print(f"cube {cube.shape} float64, seed {a.seed}")
    for w in a.windows:
        inner, outer = (int(v) for v in w.split(","))
        times = []
        for _ in range(max(1, a.repeats)):
            t = time.perf_counter()
            ours = local_rx(cube, inner, outer)
            times.append(time.perf_counter() - t)
        t_ours = float(np.median(times))
        t = time.perf_counter()
        ref = spectral.rx(cube, window=(inner, outer))
        t_spy = time.perf_counter() - t
        rel = float(np.max(np.abs(ours - ref) / np.abs(ref)))
        print(f"windows ({inner},{outer}): fers.detectors.lrx {t_ours:.3f} s (median of {len(times)}), spectral.rx {t_spy:.2f} s, "
              f"speed-up x{t_spy / t_ours:.1f}, max rel diff {rel:.2e}")


if __name__ == "__main__":
    main()
