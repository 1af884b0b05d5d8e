"""Command line: ``fers detect CUBE ...`` and ``fers bench FILE ...`` (also ``python -m fers``).

Bad input exits with code 2 and a one-line message ``fers: error: ...`` on stderr (argument errors
included). ``--json`` prints one JSON object (:meth:`fers.result.DetectResult.to_dict`) on stdout;
progress and notes go to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from fers.errors import FersInputError

BANDS_HELP = ("band spec: 'auto' (default: plain RX on every band, the models on the cube adapted to the "
              "nearest shipped model: 50/100/200), 'all' (every band; model-based methods skipped), N (adapt "
              "to N bands: first N, or interpolated when the cube has fewer; every method incl. plain RX runs "
              "on the adapted cube, as the paper's tables), 'START:STOP' (band range, then adapted to the "
              "nearest shipped model)")


class _Parser(argparse.ArgumentParser):
    """argparse with the one-line error contract (``--help`` is unchanged)."""

    def error(self, message):
        print(f"fers: error: {' '.join(str(message).split())} (see --help)", file=sys.stderr)
        raise SystemExit(2)


def _windows(text: str):
    from fers.detectors import parse_windows

    try:
        return parse_windows(text)
    except FersInputError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="fers", description="FERS hyperspectral anomaly detection")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def common(sp):
        sp.add_argument("--bands", default="auto", help=BANDS_HELP)
        sp.add_argument("--backend", choices=("torch", "onnx"), default="torch", help="enhancer backend")
        sp.add_argument("--detector", choices=("rx", "lrx", "ae"), default="rx",
                        help="anomaly detector applied to H and to the enhanced cubes (default rx)")
        sp.add_argument("--windows", type=_windows, default=(5, 15), help="local RX windows INNER,OUTER (5,15)")
        sp.add_argument("--weights", help="a FERS checkpoint (.pt) to use instead of the shipped models "
                                          "(ours, one you trained, or one converted by export/import_ferd.py)")
        sp.add_argument("--json", action="store_true", help="print one JSON object on stdout")

    d = sub.add_parser("detect", help="anomaly maps of one cube (+ AUCs with ground truth)")
    d.add_argument("cube", help="cube file: .mat, .npy, ENVI .hdr, .tif")
    d.add_argument("--gt", help="ground-truth file (.png, .mat, .npy, .tif); .mat cubes may carry their own")
    d.add_argument("--key", help="variable name of the cube inside a .mat")
    d.add_argument("--gt-key", help="variable name of the ground truth inside a .mat")
    d.add_argument("--out", help="write the maps to this .npz (one array per method, 'gt', 'meta' JSON; "
                                 "docs/formats.md)")
    common(d)

    b = sub.add_parser("bench", help="AUC and time per scene and method, with means")
    b.add_argument("files", nargs="+", help="cube files with ground truth inside (ABU .mat) or a HAD100 folder")
    common(b)
    return p


def _scene_files(items):
    """Expand HAD100 folders into (cube, gt) pairs; plain files stay (file, None)."""
    out = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            from fers.io.had100 import HAD100

            out.extend(HAD100(p).test_pairs())
        else:
            out.append((p, None))
    return out


def _mmap_for(path) -> bool:
    """Memory-map big files (the pipeline then streams them, see fers.large)."""
    from fers.pipeline import LARGE_MEMMAP_BYTES

    try:
        return Path(path).stat().st_size >= LARGE_MEMMAP_BYTES
    except OSError:
        return False  # load_cube reports the problem


def _table(rows, methods) -> str:
    head = f"{'scene':28s} " + " ".join(f"{m:>11s}" for m in methods)
    lines = [head, "-" * len(head)]
    for name, vals in rows:
        lines.append(f"{name[:28]:28s} " + " ".join(
            f"{vals[m]:11.4f}" if vals.get(m) is not None else f"{'-':>11s}" for m in methods))
    return "\n".join(lines)


def _detect_file(path, scene, a):
    """``fers.detect`` on a loaded scene; a problem it reports is re-raised naming the file."""
    from fers.pipeline import detect

    try:
        return detect(scene.cube, scene.gt, bands=a.bands, backend=a.backend, detector=a.detector,
                      windows=a.windows, weights=a.weights, name=scene.name)
    except FersInputError as e:
        if e.path is not None:
            raise
        raise FersInputError(str(e), path) from None


def _precheck(a, cube_path, key=None, gt_path=None, gt_key=None) -> bool:
    """Refuse the request from the files' headers before decoding them (memory budget, fers.budget);
    returns whether to memory-map the cube."""
    from fers.pipeline import check_file_request

    mmap = _mmap_for(cube_path)
    check_file_request(cube_path, key=key, gt_path=gt_path, gt_key=gt_key, mmap=mmap, bands=a.bands,
                       backend=a.backend, detector=a.detector, weights=a.weights)
    return mmap


def cmd_detect(a) -> int:
    from fers.io import load_cube

    mmap = _precheck(a, a.cube, a.key, a.gt, a.gt_key)
    scene = load_cube(a.cube, key=a.key, gt_path=a.gt, gt_key=a.gt_key, mmap=mmap)
    res = _detect_file(a.cube, scene, a)
    d = res.to_dict()
    if a.out:
        d["out"] = str(res.save_npz(a.out, gt=scene.gt))
    if a.json:
        print(json.dumps(d))
        return 0
    for n in res.notes + ([res.auc_note] if res.auc_note else []):
        print(f"note: {n}", file=sys.stderr)
    print(f"{scene.name}: shape {scene.cube.shape}, bands {res.bands} ({res.band_adapter}), "
          f"methods {', '.join(res.maps)}; default map: {res.default_method}")
    if res.auc:
        print(_table([(scene.name, res.auc)], list(res.maps)))
    if a.out:
        print(f"maps written to {d['out']}")
    return 0


def cmd_bench(a) -> int:
    """Every scene is scored; a bad file becomes an error entry, the rest go on, and the exit code
    is 2 when any file failed."""
    from tqdm import tqdm

    from fers.bands import parse_band_spec
    from fers.io import load_cube

    pairs = _scene_files(a.files)
    scenes, errors, notes = [], [], []
    for cube_path, gt_path in tqdm(pairs, desc="bench", unit="scene", file=sys.stderr):
        try:
            t = time.perf_counter()
            scene = load_cube(cube_path, gt_path=gt_path, mmap=_precheck(a, cube_path, gt_path=gt_path))
            load_s = time.perf_counter() - t
            if scene.gt is None:
                raise FersInputError("no ground truth in the file; bench needs one (ABU .mat or a HAD100 folder)",
                                     cube_path)
            res = _detect_file(cube_path, scene, a)
            if res.auc is None:
                raise FersInputError(res.auc_note, cube_path)
        except FersInputError as e:
            errors.append({"file": str(cube_path), "error": str(e)})
            tqdm.write(f"fers: error: {e}", file=sys.stderr)
            continue
        d = res.to_dict()
        d["seconds"]["load"] = round(load_s, 4)
        scenes.append(d)
        notes.extend(n for n in res.notes if n not in notes)
    methods = [m for m in scenes[0]["auc"] if all(m in s["auc"] for s in scenes)] if scenes else []
    mean_auc = {m: round(float(np.mean([s["auc"][m] for s in scenes])), 6) for m in methods}
    stages = [k for k in scenes[0]["seconds"] if all(k in s["seconds"] for s in scenes)] if scenes else []
    mean_sec = {k: round(float(np.mean([s["seconds"][k] for s in scenes])), 4) for k in stages}
    defaults = {s["default_method"] for s in scenes}
    if a.json:
        print(json.dumps({
            "bands": parse_band_spec(a.bands).describe(), "backend": a.backend, "detector": a.detector,
            "weights": a.weights or "shipped", "default_method": defaults.pop() if len(defaults) == 1 else None,
            "scenes": scenes, "errors": errors, "mean_auc": mean_auc, "mean_seconds": mean_sec, "notes": notes,
        }))
    else:
        for n in notes:
            print(f"note: {n}", file=sys.stderr)
        rows = [(s["name"], s["auc"]) for s in scenes] + ([("MEAN", mean_auc)] if scenes else [])
        print(f"bands {a.bands}, backend {a.backend}, detector {a.detector}, default map "
              f"{', '.join(sorted(defaults)) or '-'}")
        print(_table(rows, methods))
        print("mean seconds: " + ", ".join(f"{k} {v:.3f}" for k, v in mean_sec.items()))
    return 2 if errors else 0


def main(argv=None) -> int:
    from fers import progress

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with progress.shown():  # tqdm bars on stderr for every stage that can take a while
            return cmd_detect(args) if args.command == "detect" else cmd_bench(args)
    except FersInputError as e:
        print(f"fers: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("fers: interrupted", file=sys.stderr)
        return 130
    except MemoryError:  # the estimate (fers.budget) should refuse first; the machine had less than it said
        what = getattr(args, "cube", None) or "request"
        print(f"fers: error: {what}: out of memory; set FERS_MAX_MEMORY below this machine's free memory so "
              "the request is refused or streamed up front, or crop the scene", file=sys.stderr)
        return 2
