"""Command line: ``fers detect CUBE ...``, ``fers bench FILE ...`` and ``fers batch INPUT... --out DIR``
(also ``python -m fers``; ``fers --version`` prints the version). ``batch`` runs one Dask task per scene
(:mod:`fers.batch`, docs/batch.md). Progress bars are drawn on stderr only when it is a terminal.

A refusal is one line ``fers: error: ...`` on stderr and an exit code per kind of
:mod:`fers.errors` (:data:`EXIT_HELP`): bad input 2 (argument errors included), a missing or broken
model 3, not enough memory or a failed write 4, an unreachable Dask cluster 5. ``--json`` prints one JSON object (:meth:`fers.result.DetectResult.to_dict`) on stdout;
progress and notes go to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from fers._version import __version__
from fers.bands import ADAPTERS, DEFAULT_ADAPTER
from fers.enhance import BACKENDS
from fers.errors import FersError, FersInputError, FersResourceError
from fers.io.formats import formats_text
from fers.notes import cli_text
from fers.outputs import MASK_RULE
from fers.pipeline import options_from_namespace
from fers.scenes import detect_file, precheck, scene_files

BANDS_HELP = ("band spec: 'auto' (default: plain RX on every band, the models on the cube adapted to the "
              "nearest shipped model: 50/100/200), 'all' (every band; model-based methods skipped), N (adapt "
              "to N bands: first N, or interpolated when the cube has fewer; every method incl. plain RX runs "
              "on the adapted cube, as the paper's tables), 'START:STOP' (0-based band range, STOP exclusive, "
              "either end may be left out), 'i,j,k' (distinct 0-based band indices) or wavelength ranges "
              "'400-1000nm' / '400-1340nm,1450-1800nm' (files with wavelengths), then adapted to the nearest "
              "shipped model. With wavelengths or a bad-band list in the file, bad bands and the water-vapour "
              "windows are dropped first. The grammar: docs/formats.md, 'Band spec'")
LAYOUT_HELP = ("TIFF only: where the band axis is, 'bands_first' (B, H, W) or 'bands_last' (H, W, B), when the "
               "file does not record it (docs/formats.md, 'TIFF band axis')")
NODATA_HELP = ("no-data value: pixels with any band equal to it (or NaN/Inf) are masked: NaN in the maps, left "
               "out of statistics and AUCs (overrides the file's ENVI 'data ignore value' / GeoTIFF nodata tag)")


EXIT_HELP = ("exit codes: 0 done; 2 bad input (file, option or environment variable), or any scene of bench/batch "
             "failed; 3 a model or checkpoint is missing or broken; 4 not enough memory, or an output could not "
             "be written; 5 the Dask cluster cannot be reached or started; 1 other failures; 130 interrupted. "
             "Every refusal is one line 'fers: error: ...' on stderr.")


class _Parser(argparse.ArgumentParser):
    """argparse with the one-line error contract (``--help`` is unchanged)."""

    def error(self, message):
        print(f"fers: error: {' '.join(str(message).split())} (see --help)", file=sys.stderr)
        raise SystemExit(2)


def _option_type(option):
    """argparse type of a detector option: its own parser, with its one-line message on a bad value."""
    def parse(text: str):
        try:
            return option.parse(text)
        except FersInputError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    parse.__name__ = option.name  # argparse names the option's type in its messages
    return parse


def _detector_arguments(sp) -> None:
    """``--detector`` and every registered detector's options (:mod:`fers.detectors.registry`)."""
    from fers.detectors import DEFAULT_DETECTOR, all_options, get, names

    sp.add_argument("--detector", choices=names(), default=DEFAULT_DETECTOR,
                    help="anomaly detector applied to H and to the enhanced cubes: "
                         + "; ".join(f"{n}: {get(n).title}" for n in names()) + " (default %(default)s)")
    for name, option in all_options().items():
        users = [n for n in names() if any(o.name == name for o in get(n).options)]
        sp.add_argument(f"--{name.replace('_', '-')}", dest=name, type=_option_type(option),
                        help=f"{', '.join(users)}: {option.help} (default {option.text})")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="fers", description="FERS hyperspectral anomaly detection", epilog=EXIT_HELP)
    p.add_argument("--version", action="version", version=f"fers {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def common(sp):
        sp.add_argument("--bands", default="auto", help=BANDS_HELP)
        sp.add_argument("--backend", choices=BACKENDS, default="auto",
                        help="enhancer backend: auto (ONNX Runtime on the shipped ONNX files, else torch), torch or onnx")
        _detector_arguments(sp)
        sp.add_argument("--adapter", choices=ADAPTERS, default=DEFAULT_ADAPTER,
                        help="how the cube's bands meet the model's: first N bands, the whole range resampled "
                             "to N, or (auto) the largest shipped N <= B (default %(default)s; docs/formats.md)")
        sp.add_argument("--weights", help="a FERS checkpoint (.pt) to use instead of the shipped models "
                                          "(ours, one you trained, or one converted by export/import_ferd.py)")
        sp.add_argument("--layout", choices=("bands_first", "bands_last"), help=LAYOUT_HELP)
        sp.add_argument("--nodata", type=float, help=NODATA_HELP)
        sp.add_argument("--keep-bad-bands", action="store_true",
                        help="keep the bands the file marks bad (ENVI bbl, EMIT good_wavelengths) and the "
                             "water-vapour windows 1340-1450 and 1790-1960 nm, which are dropped by default")
        sp.add_argument("--json", action="store_true", help="print one JSON object on stdout")

    d = sub.add_parser("detect", help="anomaly maps of one cube (+ AUCs with ground truth)")
    d.add_argument("cube", help=f"cube file: {formats_text()} (docs/formats.md)")
    d.add_argument("--gt", help="ground-truth file (.png, .mat, .npy, .tif); .mat cubes may carry their own")
    d.add_argument("--key", help="variable name of the cube inside a .mat")
    d.add_argument("--gt-key", help="variable name of the ground truth inside a .mat")
    d.add_argument("--out", action="append", metavar="FILE",
                   help="write the result; repeat for several files, the extension decides: .tif/.tiff a "
                        "GeoTIFF (one band per method + a threshold mask band, georeferenced like the input), "
                        ".geojson the mask's objects as polygons, anything else a .npz (every map, 'gt', "
                        "'meta' JSON); docs/formats.md")
    d.add_argument("--threshold", default=MASK_RULE,
                   help="mask of the GeoTIFF/GeoJSON outputs: the default map's pNN.N percentile of valid scores "
                        "(default %(default)s: the top 0.1%%) or a score value")
    d.add_argument("--no-ortho", dest="ortho", action="store_false",
                   help="GLT products (EMIT): keep the outputs in sensor geometry (plain TIFF) instead of placing "
                        "them on the product's map grid")
    common(d)

    b = sub.add_parser("bench", help="AUC and time per scene and method, with means")
    b.add_argument("files", nargs="+", help="cube files with ground truth inside (ABU .mat) or a HAD100 folder")
    common(b)

    t = sub.add_parser("batch", help="many scenes on Dask (a local cluster or an existing one): a maps .npz "
                                     "per scene and summary.csv in --out (docs/batch.md)")
    t.add_argument("inputs", nargs="+", help="cube files, glob patterns (quote them), .txt files listing one path "
                                             "or pattern per line, HAD100 folders")
    t.add_argument("--out", required=True, help="output folder: <scene>.npz per scene (as detect --out) and "
                                                "summary.csv; on a cluster every worker must be able to write it")
    t.add_argument("--workers", type=_positive_int, help="local cluster: worker processes (default: cores // "
                                                         "threads per worker, at most one per scene)")
    t.add_argument("--threads-per-worker", type=_positive_int, help="local cluster: scenes run at once per "
                                                                    "worker process (default 1)")
    t.add_argument("--memory-limit", type=_memory_limit, help="local cluster: memory per worker, e.g. 4GiB, or a "
                                                              "fraction of the machine's memory such as 0.25 "
                                                              "(default auto: the memory split evenly)")
    t.add_argument("--oversubscribe", action="store_true", help="local cluster: start every --workers process "
                                                                "even beyond the machine's cores (default: capped)")
    t.add_argument("--scheduler", help="address of an existing Dask scheduler (e.g. tcp://host:8786) instead "
                                       "of a local cluster")
    t.add_argument("--resume", action="store_true", help="skip scenes whose output in --out is complete and "
                                                         "made with the same options")
    t.add_argument("--geotiff", action="store_true", help="also write <scene>.tif: every map and a p99.9 mask "
                                                          "band, georeferenced like the input (as detect --out "
                                                          "x.tif)")
    common(t)
    return p


def _positive_int(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return n


def _memory_limit(text: str):
    """``auto``, a fraction of the machine's memory in (0, 1], or bytes with a unit (``4GiB``)."""
    if text.strip().lower() == "auto":
        return "auto"
    try:
        f = float(text)
    except ValueError:
        f = None
    if f is not None and 0 < f <= 1:
        return f
    try:
        from dask.utils import parse_bytes

        n = parse_bytes(text)
    except ImportError:
        return text  # reported by fers batch itself (Dask missing)
    except (ValueError, TypeError):
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected auto, a fraction such as 0.5, or a size such as 4GiB, "
                                         f"got {text!r}")
    return n


def _table(rows, methods) -> str:
    head = f"{'scene':28s} " + " ".join(f"{m:>11s}" for m in methods)
    lines = [head, "-" * len(head)]
    for name, vals in rows:
        lines.append(f"{name[:28]:28s} " + " ".join(
            f"{vals[m]:11.4f}" if vals.get(m) is not None else f"{'-':>11s}" for m in methods))
    return "\n".join(lines)


def _read_as(info: dict) -> str:
    """One line on how the file was read, when that was a choice (byte order, band axis, no-data)."""
    parts = [str(info[k]) for k in ("byte_order", "layout") if info.get(k)]
    if info.get("nodata") is not None:
        parts.append(f"no-data value {info['nodata']:g} ({info.get('nodata_source', 'given')})")
    return "read as: " + "; ".join(parts) if parts else ""


def cmd_detect(a) -> int:
    from fers.io import load_cube

    if a.out:
        from fers.outputs import check_outputs

        check_outputs(a.out, a.threshold)  # refused before the work, not after
    t = time.perf_counter()
    opts = options_from_namespace(a)
    mmap = precheck(opts, a.cube, a.key, a.gt, a.gt_key)
    scene = load_cube(a.cube, key=a.key, gt_path=a.gt, gt_key=a.gt_key, mmap=mmap, layout=a.layout,
                      nodata=a.nodata)
    load_s = time.perf_counter() - t
    res = detect_file(a.cube, scene, opts, a.layout)
    res.seconds = {"load": load_s, **res.seconds}
    written = []
    if a.out:
        from fers.outputs import save_outputs

        t = time.perf_counter()
        written = save_outputs(res, scene, a.out, threshold=a.threshold, ortho=a.ortho)
        res.seconds["save"] = time.perf_counter() - t  # in the JSON; the files cannot hold their own save time
    d = res.to_dict()
    d["input"] = _jsonable(scene.info)
    if scene.wavelengths is not None:
        d["input"]["wavelengths_nm"] = [round(float(scene.wavelengths.min()), 3), round(float(scene.wavelengths.max()), 3)]
    if scene.georef is not None:
        d["input"]["georef"] = scene.georef.describe()
    if a.out:
        d["out"] = [str(w.path) for w in written]
        d["out_notes"] = [w.note for w in written]
    if a.json:
        print(json_line(d))
        return 0
    for n in [_read_as(scene.info)] + [cli_text(n) for n in res.notes] + ([res.auc_note] if res.auc_note else []):
        if n:
            print(f"note: {n}", file=sys.stderr)
    print(f"{scene.name}: shape {scene.cube.shape}, bands {res.bands} ({res.band_adapter}), "
          f"methods {', '.join(res.maps)}; default map: {res.default_method}")
    if res.auc:
        print(_table([(scene.name, res.auc)], list(res.maps)))
    for w in written:
        print(f"{w.kind} written to {w.path}: {w.note}")
    return 0


def _finite(obj):
    """``obj`` with every NaN/Inf float replaced by None (JSON has no NaN), recursively."""
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj


def json_line(obj) -> str:
    """Strict JSON (never ``NaN``): what ``--json`` prints."""
    return json.dumps(_finite(obj), allow_nan=False)


def _jsonable(info: dict) -> dict:
    """``Scene.info`` with NumPy values as plain numbers/lists (for ``--json``)."""
    out = {}
    for k, v in info.items():
        if isinstance(v, np.ndarray):
            v = v.tolist()
        elif isinstance(v, np.generic):
            v = v.item()
        out[k] = v
    return out


def cmd_bench(a) -> int:
    """Every scene is scored; a bad file becomes an error entry, the rest go on, and the exit code
    is 2 when any file failed."""
    from fers.io import load_cube
    from fers.progress import bar

    pairs = scene_files(a.files)
    opts = options_from_namespace(a)
    scenes, errors, notes = [], [], []
    for cube_path, gt_path in bar(pairs, desc="bench", unit="scene"):
        try:
            t = time.perf_counter()
            scene = load_cube(cube_path, gt_path=gt_path, mmap=precheck(opts, cube_path, gt_path=gt_path),
                              layout=a.layout, nodata=a.nodata)
            load_s = time.perf_counter() - t
            if scene.gt is None:
                raise FersInputError("no ground truth in the file; bench needs one (ABU .mat or a HAD100 folder)",
                                     cube_path)
            res = detect_file(cube_path, scene, opts, a.layout)
            if res.auc is None:
                raise FersInputError(res.auc_note, cube_path)
        except FersError as e:
            errors.append({"file": str(cube_path), "error": str(e)})
            _say(f"fers: error: {e}")
            continue
        res.seconds = {"load": load_s, **res.seconds}  # before to_dict: the total counts it
        d = res.to_dict()
        d["input"] = _jsonable(scene.info)
        scenes.append(d)
        notes.extend(n for n in d["notes"] if n not in notes)
    summary = _run_summary(scenes, errors, notes, a)
    _print_summary(summary, a)
    return 2 if errors else 0


def _run_summary(scenes, errors, notes, a, **extra) -> dict:
    """The ``bench --json`` object (``batch --json`` adds ``extra``): the options, the scenes, the errors,
    mean AUCs over the scenes that have AUCs and mean seconds over the scenes computed in this run (a
    scene ``batch --resume`` took from an earlier run has ``resumed`` set)."""
    from fers.bands import parse_band_spec
    from fers.enhance import resolve_backend

    def mean_over(dicts, digits):
        keys = [k for k in dicts[0] if all(k in d for d in dicts)] if dicts else []
        return {k: round(float(np.mean([d[k] for d in dicts])), digits) for k in keys}

    defaults = {s["default_method"] for s in scenes}
    return {
        "bands": parse_band_spec(a.bands).describe(), "backend": scenes[0]["backend"] if scenes else resolve_backend(a.backend, a.weights),
        "detector": a.detector, "weights": a.weights or "shipped", "default_method": defaults.pop() if len(defaults) == 1 else None,
        "scenes": scenes, "errors": errors, "mean_auc": mean_over([s["auc"] for s in scenes if s["auc"]], 6),
        "mean_seconds": mean_over([s["seconds"] for s in scenes if not s.get("resumed")], 4), "notes": notes,
        **extra,
    }


def _print_summary(summary: dict, a) -> None:
    """``--json``: the summary as one JSON object on stdout; else notes (stderr) and the AUC table."""
    if a.json:
        print(json_line(summary))
        return
    scenes, mean_auc = summary["scenes"], summary["mean_auc"]
    for n in summary["notes"]:
        print(f"note: {cli_text(n)}", file=sys.stderr)
    rows = [(s["name"], s["auc"]) for s in scenes] + ([("MEAN", mean_auc)] if mean_auc else [])
    print(f"bands {a.bands}, backend {summary['backend']}, detector {a.detector}, default map "
          f"{', '.join(sorted({s['default_method'] for s in scenes})) or '-'}")
    print(_table(rows, list(mean_auc)))
    if summary["mean_seconds"]:  # none when every scene was resumed from an earlier run
        print("mean seconds: " + ", ".join(f"{k} {v:.3f}" for k, v in summary["mean_seconds"].items()))


def cmd_batch(a) -> int:
    """One Dask task per scene (:mod:`fers.batch`); a failed scene is an error entry, the rest go on,
    and the exit code is 2 when any failed. The summary is ``bench``'s plus the run's details."""
    try:
        import distributed  # noqa: F401  (fers.batch imports it where it is used)
    except ImportError as e:
        print(f"fers: error: fers batch needs Dask distributed ({e}); pip install 'fers[batch]' "
              f"or 'dask[distributed]'", file=sys.stderr)
        return 1
    from fers import batch
    from fers.progress import is_shown

    sized = [f for f, v in (("--workers", a.workers), ("--threads-per-worker", a.threads_per_worker),
                            ("--memory-limit", a.memory_limit), ("--oversubscribe", a.oversubscribe or None))
             if v is not None]
    if a.scheduler and sized:
        raise FersInputError(f"{', '.join(sized)} size a local cluster; with --scheduler the workers are sized "
                             f"where they are started (docs/batch.md)")
    pairs = batch.expand_inputs(a.inputs)
    out = Path(a.out).resolve()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise FersInputError(f"cannot create the output folder: {e.strerror or e}", a.out) from None
    detect_opts = options_from_namespace(a)
    if a.weights:
        detect_opts = detect_opts.with_(weights=str(Path(a.weights).resolve()))
    options = batch.SceneOptions(detect_opts, layout=a.layout, geotiff=a.geotiff)
    with batch.connect(a.scheduler, a.workers, a.threads_per_worker, a.memory_limit,
                       max_workers=len(pairs), oversubscribe=a.oversubscribe) as (client, _):
        cluster = batch.cluster_info(client)
        print(f"fers batch: {len(pairs)} scene(s) on {cluster['workers']} worker(s), {cluster['threads']} "
              f"thread(s), scheduler {cluster['scheduler']}", file=sys.stderr)
        if cluster["dashboard"]:
            from importlib.util import find_spec

            hint = "" if a.scheduler or find_spec("bokeh") else " (its plots need bokeh: pip install 'bokeh>=3.1')"
            print(f"dashboard: {cluster['dashboard']}{hint}", file=sys.stderr)
        run = batch.run_batch(client, pairs, out, options, resume=a.resume, progress=is_shown())
    csv_path = batch.write_summary_csv(run.rows, out)
    ok = [r for r in run.rows if not r["error"]]
    errors = [{"file": r["file"], "error": r["error"]} for r in run.rows if r["error"]]
    notes: list = []
    for r in ok:
        notes.extend(n for n in r.get("notes", []) if n not in notes)
    summary = _run_summary(ok, errors, notes, a, out=str(out), summary_csv=str(csv_path),
                           resumed=[r["name"] for r in ok if r.get("resumed")], throughput=run.throughput,
                           cluster=cluster)
    _print_summary(summary, a)
    print(f"fers batch: {batch.throughput_text(run)}; summary {csv_path}", file=sys.stderr)
    return 2 if errors else 0


def _say(line: str) -> None:
    """One line on stderr on a line of its own, even while a progress bar is drawn there."""
    from tqdm import tqdm

    tqdm.write(line, file=sys.stderr)


def main(argv=None) -> int:
    from fers import progress

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        # tqdm bars on stderr for every stage that can take a while; none when stderr is a file or a pipe
        with progress.shown(progress.stderr_is_terminal()):
            return {"detect": cmd_detect, "bench": cmd_bench, "batch": cmd_batch}[args.command](args)
    except FersError as e:
        _say(f"fers: error: {e}")
        return e.exit_code
    except KeyboardInterrupt:
        _say("fers: interrupted")
        return 130
    except MemoryError:  # the estimate (fers.budget) should refuse first; the machine had less than it said
        what = getattr(args, "cube", None) or "request"
        _say(f"fers: error: {what}: out of memory; set FERS_MAX_MEMORY below this machine's free memory so "
             "the request is refused or streamed up front, or crop the scene")
        return FersResourceError.exit_code
