"""Export FERS checkpoints to ONNX and prove the files match PyTorch.

    python export/to_onnx.py                      # every weights/fers_b{50,100,200}.pt -> the user cache
    python export/to_onnx.py --release            # ... -> weights/onnx/ (the shipped files, after retraining)
    python export/to_onnx.py --bands 100 --out /tmp/onnx
    python export/to_onnx.py --checkpoint runs/my_run/fers_b64.pt

Without ``--release`` or ``--out`` the files go to the user cache (``$FERS_CACHE/onnx``, see
``fers/enhance/paths.py``) and the checkout stays clean: the exporter's bytes depend on the torch and
onnxscript versions, so a re-export never reproduces the committed files byte for byte (the same
versions do give the same bytes). Only ``--release`` rewrites ``weights/onnx/``.

Per checkpoint: ``fers_b{N}_spe.onnx`` and ``fers_b{N}_spa.onnx`` (``cube (batch, N, height, width)``
-> ``features`` of the same shape, dynamic batch/height/width), exported with
``torch.onnx.export(dynamo=True)`` at opset 18 and checked by ``onnx.checker``. Then parity with
PyTorch (see ``fers/export/parity.py``): features on random cubes of odd sizes and a batch of 2, and
features plus the AUC of every method (paper eq. 17-23) on the ABU benchmark scenes in
``<repo>/../shared/data/abu`` when present, else on the three scenes bundled in ``fers/examples``
(they carry ground truth). Prints a table; exit code 1 on any parity failure, 2 on bad arguments or
missing checkpoints.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

import fers.export.parity as parity
from fers.bands import SHIPPED_BAND_COUNTS
from fers.enhance.onnx_backend import OnnxEnhancer
from fers.enhance.paths import onnx_cache_dir, shipped_checkpoint, shipped_onnx_dir
from fers.errors import FersError, FersInputError
from fers.export.detector_graph import export_detector
from fers.export.exporter import EXPORTERS, OPSET, default_exporter, export_checkpoint

REPO = Path(__file__).resolve().parents[1]
DEFAULT_ABU = REPO.parent / "shared" / "data" / "abu"
BUNDLED_SCENES = REPO / "fers" / "examples"  # abu-airport-4, abu-urban-3, abu-beach-4-crop100, with GT


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description="Export FERS FENs to ONNX and check parity with PyTorch.")
    ap.add_argument("--bands", type=int, action="append", help="band count of a shipped model (repeatable); "
                    "default: every weights/fers_b{N}.pt that exists")
    ap.add_argument("--checkpoint", type=Path, action="append", help="a checkpoint of your own (repeatable)")
    ap.add_argument("--out", type=Path, help=f"output folder (default: the user cache {onnx_cache_dir()})")
    ap.add_argument("--release", action="store_true",
                    help=f"write into {shipped_onnx_dir()}, replacing the shipped ONNX files (after retraining; "
                         "the bytes differ with every torch/onnxscript version)")
    ap.add_argument("--opset", type=int, default=OPSET, help=f"ONNX opset (default {OPSET})")
    ap.add_argument("--exporter", choices=EXPORTERS, default=None,
                    help="torch.onnx exporter (default dynamo; torchscript when onnxscript is missing)")
    ap.add_argument("--data", type=Path, help=f"folder of ABU .mat scenes for the parity check (default "
                    f"{DEFAULT_ABU} when it exists, else the scenes bundled in {BUNDLED_SCENES})")
    ap.add_argument("--no-parity", action="store_true", help="export only")
    ap.add_argument("--detector", action="store_true",
                    help="also export fers_b{N}_detector.onnx (cube -> five anomaly maps in one graph)")
    return ap.parse_args(argv)


def out_dir(args) -> Path:
    """Where the files go: ``--out``, the shipped folder with ``--release``, else the user cache."""
    if args.release and args.out:
        raise FersInputError("--release writes the shipped files in weights/onnx; leave out --out")
    return shipped_onnx_dir() if args.release else (args.out or onnx_cache_dir())


def parity_data(args) -> Path:
    """The folder of ground-truth scenes for the parity check (``--data`` must be a folder)."""
    if args.data is None:
        return DEFAULT_ABU if DEFAULT_ABU.is_dir() else BUNDLED_SCENES
    if not args.data.is_dir():
        raise FersInputError("not a folder of ABU .mat scenes (--data)", args.data)
    return args.data


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
        paths, out, data = checkpoints(args), out_dir(args), parity_data(args)
    except FersError as exc:
        print(f"fers: error: {exc}", file=sys.stderr)
        return exc.exit_code
    rows, det_rows, failed = [], [], False
    for ckpt in paths:
        t0 = time.perf_counter()
        try:
            pair = export_checkpoint(ckpt, out, opset=args.opset, exporter=exporter)
        except FersError as exc:
            print(f"fers: error: {exc}", file=sys.stderr)
            return exc.exit_code
        sizes = ", ".join(f"{p.name} ({p.stat().st_size / 2**20:.1f} MiB)" for p in pair)
        print(f"{ckpt.name}: exported {sizes} to {out} in {time.perf_counter() - t0:.1f} s "
              f"({exporter}, opset {args.opset}); onnx.checker passed")
        if args.detector:
            t0 = time.perf_counter()
            det = export_detector(ckpt, out, args.opset, exporter)
            print(f"{ckpt.name}: exported {det.name} in {time.perf_counter() - t0:.1f} s; onnx.checker passed")
        if args.no_parity:
            continue
        rows += check_parity(ckpt, pair, data)
        if args.detector:
            det_rows += check_detector(ckpt, det, data)
    if rows:
        scenes = sum(1 for r in rows if r.auc_torch)
        if data == BUNDLED_SCENES and args.data is None:
            print(f"note: {DEFAULT_ABU} not found; AUC parity on the scenes bundled in {BUNDLED_SCENES}")
        elif not scenes:
            print(f"note: no ABU benchmark scene in {data}; parity on random cubes only")
        print(parity.format_table(rows))
        if det_rows:
            print(parity.format_detector_table(det_rows))
        failed = not all(r.ok for r in rows + det_rows)
        print("PARITY FAILED" if failed else f"parity OK on {len(rows) + len(det_rows)} inputs")
    if not args.release and not args.out:
        print(f"the shipped files in {shipped_onnx_dir()} are unchanged (--release replaces them)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
