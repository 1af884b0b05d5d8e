"""Speed of the ONNX Runtime vs PyTorch backends on CPU (prints numbers; not a test).

    python tests/benchmarks/bench_backends.py [--bands 50 100 200] [--runs 7] [--threads 2] [--blas-threads 1]
                                              [--detector]

Per band count N: a 100x100xN cube (abu-airport-1 adapted to N when ../shared/data is there, else a
synthetic cube), median wall time over ``--runs`` runs (after one warm-up) in one process of:
each FEN alone (torch vs ORT with several session options) and the full detection
(both FENs + the four RX maps + fusion A, i.e. ``fers.methods.method_maps``). Uses the shipped
``weights/fers_b{N}.pt`` (and its ONNX files, exported if missing) when present, else a random-init
model of the same architecture exported to a temp folder (same cost per call).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402
import torch  # noqa: E402
from _repo import REPO  # noqa: E402

from fers.bands import parse_band_spec, prepare_bands  # noqa: E402
from fers.enhance.onnx_backend import CPU, OnnxEnhancer  # noqa: E402
from fers.enhance.torch_backend import TorchEnhancer  # noqa: E402
from fers.export.exporter import ensure_onnx, export_checkpoint  # noqa: E402
from fers.methods import method_maps  # noqa: E402
from fers.models.checkpoint import build_fens, default_config, save_fens, shipped_checkpoint  # noqa: E402
from fers.normalize import normalize_cube  # noqa: E402

ABU1 = REPO.parent / "shared" / "data" / "abu" / "abu-airport-1.mat"


class Timing(float):
    """Median seconds; formats as ``median (min)`` (the minimum shows the cost without contention)."""

    def __new__(cls, ts):
        obj = super().__new__(cls, statistics.median(ts))
        obj.best = min(ts)
        return obj

    def __format__(self, spec):
        return f"{float(self):{spec}} ({self.best:{spec}})"


def median_time(fn, runs: int) -> Timing:
    fn()  # warm-up
    ts = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return Timing(ts)


def model_files(n: int, tmp: Path):
    """(checkpoint, (spe.onnx, spa.onnx), label)."""
    pt = shipped_checkpoint(n)
    if pt.is_file():
        return pt, ensure_onnx(n), "shipped"
    torch.manual_seed(0)
    cfg = default_config(n)
    spe, spa = build_fens(cfg)
    pt = save_fens(tmp / f"fers_b{n}.pt", spe, spa, cfg)
    return pt, export_checkpoint(pt, tmp), "random init"


def detector_file(pt: Path, tmp: Path) -> Path:
    from fers.export.detector_graph import export_detector
    from fers.export.exporter import OPSET

    return export_detector(pt, tmp, OPSET, "dynamo")


def cube_for(n: int) -> tuple[np.ndarray, str]:
    if ABU1.is_file():
        from fers.io.cube import load_cube

        c, _, _ = prepare_bands(load_cube(ABU1).cube, parse_band_spec(str(n)))
        return normalize_cube(c), "abu-airport-1"
    rng = np.random.default_rng(0)
    return normalize_cube(rng.normal(size=(100, 100, n)).cumsum(axis=2)), "synthetic"


def ort_session(path, level, threads, spin=False):
    so = ort.SessionOptions()
    so.graph_optimization_level = level
    if threads:
        so.intra_op_num_threads = threads
    so.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
    so.log_severity_level = 3
    return ort.InferenceSession(str(path), so, providers=[CPU])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bands", type=int, nargs="+", default=[50, 100, 200])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--blas-threads", type=int, default=0,
                    help="limit NumPy's BLAS threads (threadpoolctl) for the RX part; 0 = leave as is")
    ap.add_argument("--detector", action="store_true",
                    help="also time the one-graph detector .onnx (export/detector_graph.py; exports it first)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.blas_threads:
        from threadpoolctl import threadpool_limits

        threadpool_limits(args.blas_threads, user_api="blas")
    from threadpoolctl import threadpool_info

    blas = ", ".join(f"{d['internal_api']} {d['num_threads']}thr" for d in threadpool_info()
                     if d["user_api"] == "blas")
    print(f"# {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, "
          f"NumPy BLAS {blas}, torch {torch.__version__}, onnxruntime {ort.__version__}, "
          f"seconds: median (min) of {args.runs} runs")
    all_opt, basic = ort.GraphOptimizationLevel.ORT_ENABLE_ALL, ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    variants = {  # name: (optimisation level, intra-op threads (0 = ORT default), spin-wait)
        f"ort all-opt {args.threads}thr no-spin": (all_opt, args.threads, False),
        f"ort all-opt {args.threads}thr spin": (all_opt, args.threads, True),
        "ort all-opt default-thr no-spin": (all_opt, 0, False),
        f"ort basic-opt {args.threads}thr no-spin": (basic, args.threads, False),
    }
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.bands:
            pt, (spe_path, spa_path), label = model_files(n, Path(tmp))
            h, cube_name = cube_for(n)
            x = np.ascontiguousarray(h.transpose(2, 0, 1)[None])
            t_enh = TorchEnhancer(pt, device="cpu")
            xt = torch.from_numpy(x)
            print(f"\nN={n} ({label} model, {cube_name} 100x100x{n})")
            with torch.no_grad():
                spe_t = median_time(lambda: t_enh.spe(xt), args.runs)
                spa_t = median_time(lambda: t_enh.spa(xt), args.runs)
            print(f"  {'torch':<26} Spe-FEN {spe_t:.4f}  Spa-FEN {spa_t:.4f}")
            for name, (level, thr, spin) in variants.items():
                s_spe, s_spa = ort_session(spe_path, level, thr, spin), ort_session(spa_path, level, thr, spin)
                a = median_time(lambda: s_spe.run(None, {"cube": x}), args.runs)
                b = median_time(lambda: s_spa.run(None, {"cube": x}), args.runs)
                print(f"  {name:<26} Spe-FEN {a:.4f}  Spa-FEN {b:.4f}")
            o_enh = OnnxEnhancer(spe_path, spa_path, providers=[CPU], threads=args.threads)
            for name, enh in (("torch", t_enh), ("onnx", o_enh)):
                full = median_time(lambda: method_maps(h, *enh.enhance(h)), args.runs)
                only = median_time(lambda: enh.enhance(h), args.runs)
                print(f"  full detection {name:<6} {full:.4f}  (of which enhance both FENs {only:.4f})")
            if args.detector:
                det = detector_file(pt, Path(tmp))
                sess = ort_session(det, ort.GraphOptimizationLevel.ORT_ENABLE_ALL, args.threads)
                full = median_time(lambda: sess.run(None, {"cube": x}), args.runs)
                print(f"  full detection onnx one-graph detector {full:.4f}")


if __name__ == "__main__":
    main()
