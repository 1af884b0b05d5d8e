"""Command line: ``python -m fers detect CUBE ...`` and ``python -m fers bench FILE ...``.

Bad input exits with code 2 and a one-line message on stderr. ``--json`` prints one JSON object on
stdout; progress and notes go to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from .errors import FersInputError

MMAP_FROM_BYTES = 512 * 2**20  # .npy / ENVI / TIFF files at least this big are memory-mapped

BANDS_HELP = ("band spec: 'auto' (default: plain RX on every band, the models on the cube adapted to the "
              "nearest shipped model: 50/100/200), 'all' (every band; model-based methods skipped), N (adapt "
              "to N bands: first N, or interpolated when the cube has fewer; every method incl. plain RX runs "
              "on the adapted cube, as the paper's tables), 'START:STOP' (band range, then adapted to the "
              "nearest shipped model)")


def _windows(text: str):
    try:
        a, b = (int(t) for t in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--windows wants INNER,OUTER (e.g. 5,15), got {text!r}") from None
    return a, b


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m fers", description="FERS hyperspectral anomaly detection")
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp):
        sp.add_argument("--bands", default="auto", help=BANDS_HELP)
        sp.add_argument("--backend", choices=("torch", "onnx"), default="torch", help="enhancer backend")
        sp.add_argument("--detector", choices=("rx", "lrx", "ae"), default="rx",
                        help="anomaly detector applied to H and to the enhanced cubes (default rx)")
        sp.add_argument("--windows", type=_windows, default=(5, 15), help="local RX windows INNER,OUTER (5,15)")
        sp.add_argument("--json", action="store_true", help="print one JSON object on stdout")

    d = sub.add_parser("detect", help="anomaly maps of one cube (+ AUCs with ground truth)")
    d.add_argument("cube", help="cube file: .mat, .npy, ENVI .hdr, .tif")
    d.add_argument("--gt", help="ground-truth file (.png, .mat, .npy, .tif); .mat cubes may carry their own")
    d.add_argument("--key", help="variable name of the cube inside a .mat")
    d.add_argument("--gt-key", help="variable name of the ground truth inside a .mat")
    d.add_argument("--out", help="write the maps to this .npz (one array per method + 'meta' JSON string)")
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
            from .had100 import HAD100

            out.extend(HAD100(p).test_pairs())
        else:
            out.append((p, None))
    return out


def _mmap_for(path) -> bool:
    """Memory-map big files (the pipeline then streams them, see fers.large)."""
    try:
        return Path(path).stat().st_size >= MMAP_FROM_BYTES
    except OSError:
        return False  # load_cube reports the problem


def _result_dict(name, scene, res) -> dict:
    d = {
        "name": name,
        "shape": list(scene.cube.shape),
        "band_adapter": res.band_adapter,
        "model_bands": res.model_bands,
        "auc": {m: round(v, 6) for m, v in (res.auc or {}).items()},
        "seconds": {m: round(v, 4) for m, v in res.seconds.items()},
    }
    if res.notes:
        d["notes"] = list(res.notes)
    return d


def _table(rows, methods) -> str:
    head = f"{'scene':28s} " + " ".join(f"{m:>11s}" for m in methods)
    lines = [head, "-" * len(head)]
    for name, vals in rows:
        lines.append(f"{name[:28]:28s} " + " ".join(
            f"{vals[m]:11.4f}" if vals.get(m) is not None else f"{'-':>11s}" for m in methods))
    return "\n".join(lines)


def _detect_file(path, scene, a):
    """``fers.pipeline.detect`` on a loaded scene; a problem it reports is re-raised naming the file."""
    from .pipeline import detect

    try:
        return detect(scene.cube, scene.gt, bands=a.bands, backend=a.backend, detector=a.detector,
                      windows=a.windows)
    except FersInputError as e:
        if e.path is not None:
            raise
        raise FersInputError(str(e), path) from None


def cmd_detect(a) -> int:
    from .io import load_cube

    scene = load_cube(a.cube, key=a.key, gt_path=a.gt, gt_key=a.gt_key, mmap=_mmap_for(a.cube))
    res = _detect_file(a.cube, scene, a)
    meta = {
        "scene": scene.name, "path": str(scene.path), "shape": list(scene.cube.shape), "bands": res.bands,
        "backend": a.backend, "detector": a.detector, "band_adapter": res.band_adapter,
        "model_bands": res.model_bands, "methods": list(res.maps), "auc": res.auc, "notes": res.notes,
    }
    if a.out:
        out = Path(a.out)
        try:
            np.savez_compressed(out, **{m: s for m, s in res.maps.items()}, meta=np.array(json.dumps(meta)))
        except OSError as e:
            raise FersInputError(f"cannot write output: {e.strerror or e}", out) from None
    if a.json:
        d = _result_dict(scene.name, scene, res)
        d.update(bands=res.bands, backend=a.backend, detector=a.detector, notes=res.notes)
        if a.out:
            d["out"] = str(a.out)
        print(json.dumps(d))
    else:
        for n in res.notes:
            print(f"note: {n}", file=sys.stderr)
        print(f"{scene.name}: shape {scene.cube.shape}, bands {res.bands} ({res.band_adapter}), "
              f"methods {', '.join(res.maps)}")
        if res.auc:
            print(_table([(scene.name, res.auc)], list(res.maps)))
        if a.out:
            print(f"maps written to {a.out}")
    return 0


def cmd_bench(a) -> int:
    from tqdm import tqdm

    from .bands import parse_band_spec
    from .io import load_cube
    from .metrics import auc
    from .normalize import normalize_cube
    from .rx import rx

    pairs = _scene_files(a.files)
    scenes, notes = [], []
    for cube_path, gt_path in tqdm(pairs, desc="bench", unit="scene", file=sys.stderr):
        t = time.perf_counter()
        scene = load_cube(cube_path, gt_path=gt_path, mmap=_mmap_for(cube_path))
        load_s = time.perf_counter() - t
        if scene.gt is None:
            raise FersInputError("no ground truth in the file; bench needs one (ABU .mat or a HAD100 folder)",
                                 cube_path)
        res = _detect_file(cube_path, scene, a)
        d = _result_dict(scene.name, scene, res)
        d["seconds"]["load"] = round(load_s, 4)
        if res.bands not in ("all", "auto") and a.detector == "rx" and scene.cube.shape[0] * scene.cube.shape[1] <= 250_000:
            # reference: plain RX on every original band (the usual "Original" column of HAD papers)
            d["rx_all_bands_auc"] = round(auc(rx(normalize_cube(scene.cube)), scene.gt), 6)
        scenes.append(d)
        notes.extend(n for n in res.notes if n not in notes)
    methods = [m for m in scenes[0]["auc"] if all(m in s["auc"] for s in scenes)] if scenes else []
    mean_auc = {m: round(float(np.mean([s["auc"][m] for s in scenes])), 6) for m in methods}
    stages = [k for k in scenes[0]["seconds"] if all(k in s["seconds"] for s in scenes)] if scenes else []
    mean_sec = {k: round(float(np.mean([s["seconds"][k] for s in scenes])), 4) for k in stages}
    if a.json:
        print(json.dumps({
            "bands": parse_band_spec(a.bands).describe(),
            "backend": a.backend, "detector": a.detector, "scenes": scenes,
            "mean_auc": mean_auc, "mean_seconds": mean_sec, "notes": notes,
        }))
        return 0
    for n in notes:
        print(f"note: {n}", file=sys.stderr)
    rows = [(s["name"], s["auc"]) for s in scenes] + [("MEAN", mean_auc)]
    print(f"bands {a.bands}, backend {a.backend}, detector {a.detector}")
    print(_table(rows, methods))
    print("mean seconds: " + ", ".join(f"{k} {v:.3f}" for k, v in mean_sec.items()))
    return 0


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return cmd_detect(args) if args.command == "detect" else cmd_bench(args)
    except FersInputError as e:
        print(f"fers: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("fers: interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        print("fers: error: out of memory (try a smaller scene or a band range)", file=sys.stderr)
        return 1
