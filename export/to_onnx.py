"""Export FERS checkpoints to ONNX and prove the files match PyTorch.

    python export/to_onnx.py                      # every weights/fers_b{50,100,200}.pt -> weights/onnx/
    python export/to_onnx.py --bands 100 --out /tmp/onnx
    python export/to_onnx.py --checkpoint runs/my_run/fers_b64.pt

Per checkpoint: ``fers_b{N}_spe.onnx`` and ``fers_b{N}_spa.onnx`` (``cube (batch, N, height, width)``
-> ``features`` of the same shape, dynamic batch/height/width), exported with
``torch.onnx.export(dynamo=True)`` at opset 18 and checked by ``onnx.checker``. Then parity with
PyTorch (see ``fers/enhance/parity.py``): features on random cubes of odd sizes and a batch of 2, and
features plus the AUC of every method (paper eq. 17-23) on the ABU benchmark scenes in
``<repo>/../shared/data/abu`` when present. Prints a table; exit code 1 on any parity failure,
2 on bad arguments or missing checkpoints.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

import fers.enhance.parity as parity
from fers.bands import SHIPPED_BAND_COUNTS
from fers.enhance.detector_graph import export_detector
from fers.enhance.export import EXPORTERS, OPSET, default_exporter, export_checkpoint
from fers.enhance.onnx_backend import OnnxEnhancer
from fers.enhance.paths import shipped_checkpoint, shipped_onnx_dir
from fers.errors import FersInputError

REPO = Path(__file__).resolve().parents[1]
DEFAULT_ABU = REPO.parent / "shared" / "data" / "abu"


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description="Export FERS FENs to ONNX and check parity with PyTorch.")
    ap.add_argument("--bands", type=int, action="append", help="band count of a shipped model (repeatable); "
                    "default: every weights/fers_b{N}.pt that exists")
    ap.add_argument("--checkpoint", type=Path, action="append", help="a checkpoint of your own (repeatable)")
    ap.add_argument("--out", type=Path, default=shipped_onnx_dir(),
                    help=f"output folder (default {shipped_onnx_dir()}: the shipped ONNX files)")
    ap.add_argument("--opset", type=int, default=OPSET, help=f"ONNX opset (default {OPSET})")
    ap.add_argument("--exporter", choices=EXPORTERS, default=None,
                    help="torch.onnx exporter (default dynamo; torchscript when onnxscript is missing)")
    ap.add_argument("--data", type=Path, default=DEFAULT_ABU, help="folder of ABU .mat scenes for parity")
    ap.add_argument("--no-parity", action="store_true", help="export only")
    ap.add_argument("--detector", action="store_true",
                    help="also export fers_b{N}_detector.onnx (cube -> five anomaly maps in one graph)")
    return ap.parse_args(argv)


def checkpoints(args) -> list[Path]:
    if args.checkpoint:
        paths = list(args.checkpoint)
    elif args.bands:
        paths = [shipped_checkpoint(n) for n in args.bands]
    else:
        paths = [p for p in (shipped_checkpoint(n) for n in SHIPPED_BAND_COUNTS) if p.is_file()]
        if not paths:
            raise FersInputError("no shipped checkpoints found (weights/fers_b{50,100,200}.pt); "
                                 "use --checkpoint PATH")
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise FersInputError(f"checkpoint not found: {', '.join(missing)}")
    return paths


def check_parity(ckpt: Path, pair, abu_dir: Path) -> list:
    """Parity rows for one exported checkpoint (ONNX on the CPU provider, torch on CPU)."""
    from fers.enhance.torch_backend import TorchEnhancer

    t_enh = TorchEnhancer(ckpt, device="cpu")
    o_enh = OnnxEnhancer(*pair, providers=["CPUExecutionProvider"])
    n = o_enh.n_bands
    rows = []
    for i, (h, w) in enumerate(parity.ODD_SIZES):
        rows.append(parity.compare(t_enh, o_enh, parity.random_cube(h, w, n, seed=i), case=f"random {h}x{w}"))
    hs = np.stack([parity.random_cube(41, 29, n, seed=10 + k) for k in range(2)])
    rows.append(parity.compare_batch(t_enh, o_enh, hs, case="random batch 2x41x29"))
    for name, h, gt in parity.benchmark_cases(abu_dir, n):
        rows.append(parity.compare(t_enh, o_enh, h, gt, case=name))
    return rows


def check_detector(ckpt: Path, path: Path, abu_dir: Path) -> list:
    """Detector parity rows (ABU benchmark scenes and one synthetic scene with planted targets)."""
    import onnxruntime as ort

    from fers.enhance.torch_backend import TorchEnhancer

    t_enh = TorchEnhancer(ckpt, device="cpu")
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    n = t_enh.n_bands
    h = parity.random_cube(53, 47, n, seed=3)
    peak = np.abs(h).max(axis=2)
    gt = peak >= np.sort(peak, axis=None)[-8]
    rows = [parity.compare_detector(t_enh, sess, h, gt, "random 53x47")]
    for name, h, gt in parity.benchmark_cases(abu_dir, n):
        rows.append(parity.compare_detector(t_enh, sess, h, gt, name))
    return rows


def main(argv=None) -> int:
    args = parse_args(argv)
    exporter = args.exporter or default_exporter()
    try:
        paths = checkpoints(args)
    except FersInputError as exc:
        print(f"fers: error: {exc}", file=sys.stderr)
        return 2
    rows, det_rows, failed = [], [], False
    for ckpt in paths:
        t0 = time.perf_counter()
        try:
            pair = export_checkpoint(ckpt, args.out, opset=args.opset, exporter=exporter)
        except FersInputError as exc:
            print(f"fers: error: {exc}", file=sys.stderr)
            return 2
        sizes = ", ".join(f"{p.name} ({p.stat().st_size / 2**20:.1f} MiB)" for p in pair)
        print(f"{ckpt.name}: exported {sizes} to {args.out} in {time.perf_counter() - t0:.1f} s "
              f"({exporter}, opset {args.opset}); onnx.checker passed")
        if args.detector:
            t0 = time.perf_counter()
            det = export_detector(ckpt, args.out, args.opset, exporter)
            print(f"{ckpt.name}: exported {det.name} in {time.perf_counter() - t0:.1f} s; onnx.checker passed")
        if args.no_parity:
            continue
        rows += check_parity(ckpt, pair, args.data)
        if args.detector:
            det_rows += check_detector(ckpt, det, args.data)
    if rows:
        if not args.data.is_dir():
            print(f"note: {args.data} not found; parity on random cubes only")
        print(parity.format_table(rows))
        if det_rows:
            print(parity.format_detector_table(det_rows))
        failed = not all(r.ok for r in rows + det_rows)
        print("PARITY FAILED" if failed else f"parity OK on {len(rows) + len(det_rows)} inputs")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
