"""``fers batch``: many scenes on Dask distributed, one task per scene (docs/batch.md).

The parts, in the order a run uses them:

* **Inputs** (:func:`expand_inputs`, client side): files, glob patterns, ``.txt`` files listing one
  path or pattern per line (relative lines are relative to the list file) and HAD100 folders become
  ``(cube, gt | None)`` pairs of absolute paths. Only paths travel to the workers, never arrays.
* **Options** (:class:`SceneOptions`): what ``fers.detect`` is called with; the same fields as the
  CLI's ``bench`` options, so a batch scene and a bench scene run the very same code.
* **The task** (:func:`run_scene`, worker side): loads the scene itself, runs ``fers.detect``
  exactly as ``fers bench`` does (same loading, memory-mapping and streamed large-scene path), writes
  ``<out>/<scene>.npz`` (and ``.tif``) all or nothing through :func:`fers.outputs.save_outputs`
  (temporary names in the same folder, read back, then ``os.replace``) and
  returns a small summary dict: :meth:`fers.result.DetectResult.to_dict` plus ``seconds`` for
  ``load`` and ``save``, the worker's address, ``file``, ``out`` and ``error``. Every problem of the
  scene becomes a one-line ``error`` in that dict, so one bad file never stops the run. The models
  are loaded once per worker process: :func:`fers.enhance.make_enhancer` caches them per process.
* **Resume** (:func:`complete_output`): an output counts as done when its zip members pass their
  CRC check, it has its ``meta`` and that meta was written with the same value of every option that
  changes a result (``meta["options"]``, :func:`fers.scenes.result_options`: band spec, backend,
  detector and its options, weights, adapter, layout, no-data value, keep-bad-bands); anything else (a
  truncated file, other options, an output from before options were stored) is computed again.
* **The cluster** (:func:`connect`): a ``LocalCluster`` of worker processes sized to the machine,
  or a ``Client`` on an existing scheduler's address.
* **The driver** (:func:`run_batch`): submits one task per scene, collects the results as they
  finish behind a tqdm bar of done / failed / resumed scenes (stderr), turns a worker that died on a
  scene more often than Dask's ``distributed.scheduler.allowed-failures`` into that scene's error,
  and measures the throughput (scenes/s, megapixels/s) of the scenes it computed.
* **The summary table** (:func:`write_summary_csv`): ``<out>/summary.csv``, one row per scene (stdlib
  ``csv``; written atomically too).
"""

from __future__ import annotations

import csv
import glob
import os
import sys
import time
import uuid
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from fers.errors import FersClusterError, FersError, FersInputError, FersResourceError
from fers.notes import cli_text
from fers.pipeline import DetectOptions
from fers.scenes import detect_file, precheck, scene_files
from fers.settings import adopt, env_for, settings

SUMMARY_CSV = "summary.csv"
TMP_PREFIX = ".fers-"  # partial outputs: ".fers-<random>.tmp.npz" (fers.io.atomic); never taken as done


# ---------------------------------------------------------------- inputs

def expand_inputs(items) -> list[tuple[str, str | None]]:
    """``[(cube, gt | None), ...]`` (absolute paths, input order) of files, globs, ``.txt`` lists and
    HAD100 folders. A pattern that matches nothing, or an unreadable or empty list, is a
    :class:`FersInputError`; a missing plain file is left to the worker, which reports it as that
    scene's error (on a cluster the client may not see the workers' files)."""
    pairs: list = []
    for item in items:
        item = str(item)
        if item.lower().endswith(".txt") and not glob.has_magic(item):
            pairs.extend(_expand_list(Path(item)))
        else:
            pairs.extend(_expand_one(item))
    return one_per_envi_pair([(os.path.abspath(c), os.path.abspath(g) if g else None) for c, g in pairs])


def _envi_header_of(path: str) -> str | None:
    """The ``.hdr`` of an ENVI image named by its header or its data file (existing), else None."""
    from fers.io.envi import envi_header_of

    hdr = envi_header_of(path)
    return None if hdr is None else str(hdr)


def one_per_envi_pair(pairs):
    """``pairs`` with an ENVI image counted once: a glob such as ``scenes/*`` matches both
    ``x.hdr`` and ``x.img``, one scene; the header is kept (in the place of the first of the two)."""
    out, seen = [], {}
    for cube, gt in pairs:
        hdr = _envi_header_of(cube)
        if hdr is None:
            out.append((cube, gt))
        elif hdr not in seen:
            seen[hdr] = len(out)
            out.append((hdr, gt))
    return out


def _expand_one(item: str, base: Path | None = None):
    path = item if base is None or os.path.isabs(item) else str(base / item)
    if glob.has_magic(path):
        matches = sorted(glob.glob(path, recursive=True))
        if not matches:
            raise FersInputError("no file matches this pattern", item)
        return scene_files(matches)
    return scene_files([path])


def _expand_list(list_file: Path):
    try:
        lines = list_file.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise FersInputError(f"cannot read the list of scenes: {getattr(e, 'strerror', None) or e}",
                             list_file) from None
    entries = [ln.strip() for ln in lines if ln.strip() and not ln.strip().startswith("#")]
    if not entries:
        raise FersInputError("lists no scene (one path or glob per line; '#' starts a comment)", list_file)
    out = []
    for entry in entries:
        out.extend(_expand_one(entry, base=list_file.parent))
    return out


def scene_name(cube_path) -> str:
    """The output name of a scene (``<name>.npz``): the file name without its extension, as
    :func:`fers.io.load_cube` names the scene."""
    return Path(cube_path).stem


# ---------------------------------------------------------------- options and the task

@dataclass(frozen=True)
class SceneOptions:
    """The options of a run: the ``fers.detect`` options (:class:`fers.pipeline.DetectOptions`, the same
    value ``fers bench`` builds) and what only files have: the TIFF ``layout``, and ``geotiff`` (also
    ``<scene>.tif``: every map + a p99.9 mask band, georeferenced)."""

    detect: DetectOptions = field(default_factory=DetectOptions)
    layout: str | None = None
    geotiff: bool = False

    @classmethod
    def make(cls, layout: str | None = None, geotiff: bool = False, **options) -> SceneOptions:
        """From keyword options as :func:`fers.detect` takes them (``bands=...``, ``windows=...``)."""
        return cls(DetectOptions.make(**options), layout, geotiff)

    def matches(self, meta: dict) -> bool:
        """True when an output's ``meta`` was written with these options: every option that changes
        a result (:func:`fers.scenes.result_options`, stored as ``meta["options"]``). An output
        without them (written before they were stored) does not match."""
        from fers.scenes import result_options

        return meta.get("options") == result_options(self.detect, self.layout)


def _one_line(e: BaseException, path) -> str:
    if isinstance(e, FersError):
        return str(e)
    if isinstance(e, MemoryError):
        return f"{path}: out of memory (raise --memory-limit, run fewer workers, or use a band range)"
    return f"{path}: {type(e).__name__}: {' '.join(str(e).split())}"


def _worker_address() -> str:
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):
        return f"local:{os.getpid()}"  # called outside a Dask worker (serial use, tests)


def _limit_ort_threads() -> None:
    """ONNX Runtime ignores ``OMP_NUM_THREADS``, which Dask's nanny sets to 1 in every worker; give
    it the same thread count (for the rest of this worker process, through :func:`fers.settings.adopt`;
    the environment is left as it is) so N workers do not start N x cores ORT threads."""
    s = settings()
    if s.ort_threads is None and s.omp_threads:
        adopt(ort_threads=s.omp_threads)


def complete_output(path, options: SceneOptions | None = None) -> dict | None:
    """The ``meta`` of a finished output at ``path`` (written with ``options`` when given), or None
    when it is missing, truncated, corrupt, not a FERS maps file or made with other options."""
    from fers.result import NPZ_FORMAT, load_npz

    try:
        with zipfile.ZipFile(path) as z:
            if z.testzip() is not None:  # a member whose CRC does not match
                return None
        _, meta = load_npz(path)
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile):
        return None
    if meta.get("format") != NPZ_FORMAT or (options is not None and not options.matches(meta)):
        return None
    return meta


def run_scene(cube_path: str, gt_path: str | None, out_dir: str, options: SceneOptions,
              resume: bool = False) -> dict:
    """One scene on a worker: load, detect, write ``<out_dir>/<scene>.npz``; returns the summary row.

    The row is ``DetectResult.to_dict()`` with ``seconds['load']`` and ``seconds['save']`` added (and in
    ``seconds['total']``; the ``.npz`` meta has ``load`` but cannot have ``save``), and
    ``file``, ``out``, ``worker``, ``error`` (None, or the one-line problem) and ``resumed``. With
    ``resume`` a complete output made with the same options is not recomputed: its stored meta is
    the row (``resumed`` True)."""
    from fers.io import load_cube
    from fers.io.formats import GEOTIFF_EXT

    final = Path(out_dir) / f"{scene_name(cube_path)}.npz"
    base = {"file": str(cube_path), "out": str(final), "worker": _worker_address(), "error": None,
            "resumed": False}
    if resume:
        meta = complete_output(final, options)
        if meta is not None and (not options.geotiff or final.with_suffix(GEOTIFF_EXT).is_file()):
            meta.pop("format", None)
            return {**meta, **base, "resumed": True}
    _limit_ort_threads()
    try:
        t = time.perf_counter()
        scene = load_cube(cube_path, gt_path=gt_path, mmap=precheck(options.detect, cube_path, gt_path=gt_path),
                          layout=options.layout, nodata=options.detect.nodata)
        load_s = time.perf_counter() - t
        res = detect_file(cube_path, scene, options.detect, options.layout)
        res.seconds = {"load": load_s, **res.seconds}  # in the .npz meta and its total too
        t = time.perf_counter()
        final.parent.mkdir(parents=True, exist_ok=True)
        from fers.outputs import save_outputs  # all or nothing: temporary names, read back, renamed

        save_outputs(res, scene, [final] + ([final.with_suffix(GEOTIFF_EXT)] if options.geotiff else []))
        save_s = time.perf_counter() - t
    except Exception as e:  # noqa: BLE001 - every problem of one scene is that scene's error row
        return {**base, "name": scene_name(cube_path), "out": None, "error": _one_line(e, cube_path)}
    res.seconds["save"] = save_s
    return {**res.to_dict(), **base}


# ---------------------------------------------------------------- the cluster

def plan_workers(workers: int | None, threads: int = 1, max_workers: int | None = None,
                 oversubscribe: bool = False, cores: int | None = None) -> tuple[int, str]:
    """``(worker processes to start, note or "")``: ``workers`` (default: ``cores // threads``),
    capped by the cores (``workers x threads <= cores``) unless ``oversubscribe``, and by
    ``max_workers`` (the number of scenes)."""
    from dask.system import CPU_COUNT

    cores = cores or CPU_COUNT
    fit = max(1, cores // threads)
    n, note = workers or fit, ""
    if workers and workers > fit and not oversubscribe:
        n, note = fit, (f"--workers {workers} capped at {fit}: {cores} core(s) / {threads} thread(s) per worker "
                        "(--oversubscribe starts them all)")
    if max_workers:
        n = max(1, min(n, max_workers))
    return n, note


def worker_memory(memory_limit, n: int, total: int | None = None):
    """Dask ``memory_limit`` per worker: ``None``/``"auto"`` = the machine's memory split over the
    ``n`` workers actually started (Dask's own ``auto`` splits it by cores, so 4 workers on a
    2-core machine got half the memory each); a fraction in (0, 1] = that share of the machine's
    memory; anything else passes through (bytes, ``"4GiB"``)."""
    from distributed.system import MEMORY_LIMIT  # the machine (or cgroup) limit Dask itself uses

    total = total or MEMORY_LIMIT
    if memory_limit is None or memory_limit == "auto":
        return int(total // max(1, n))
    if isinstance(memory_limit, float) and 0 < memory_limit <= 1:
        return int(total * memory_limit)
    return memory_limit


def worker_env(n: int, threads: int = 1, cores: int | None = None) -> dict:
    """Environment of each of ``n`` local workers with ``threads`` task threads: every library's
    compute threads set to ``cores // (n * threads)`` (at least 1), so the workers share the cores
    without oversubscribing them and a single worker still uses them all (Dask's nanny would set
    ``OMP_NUM_THREADS=1`` whatever the worker count). ``FERS_THREADS`` serves fers's own thread
    pools (:mod:`fers.threads`), ``FERS_ORT_THREADS`` ONNX Runtime's intra-op threads."""
    from dask.system import CPU_COUNT

    k = str(max(1, (cores or CPU_COUNT) // max(1, n * threads)))
    return {**{v: k for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")},
            **env_for(threads=k, ort_threads=k)}


@contextmanager
def connect(scheduler: str | None = None, workers: int | None = None, threads_per_worker: int | None = None,
            memory_limit: str | float | int | None = None, max_workers: int | None = None,
            oversubscribe: bool = False):
    """Yield ``(client, cluster | None)``: a ``Client`` on ``scheduler`` (an existing cluster's
    address), else on a new ``LocalCluster`` of worker processes: ``workers`` of them (default: the
    machine's cores // ``threads_per_worker``; capped there unless ``oversubscribe``; at most
    ``max_workers``, see :func:`plan_workers`), ``threads_per_worker`` (default 1) task threads
    each, compute threads per worker ``cores // (workers x task threads)`` (:func:`worker_env`), ``memory_limit`` per worker (:func:`worker_memory`; default: the machine's memory split
    over the workers started; Dask's nanny restarts a worker that goes past 95 % of it). Both are
    closed on exit."""
    from dask.distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout="30s")
        except (OSError, TimeoutError, ValueError) as e:
            raise FersClusterError(f"cannot connect to the Dask scheduler: {' '.join(str(e).split())}",
                                 scheduler) from None
        try:
            yield client, None
        finally:
            client.close()
        return
    threads = threads_per_worker or 1
    n, note = plan_workers(workers, threads, max_workers, oversubscribe)
    if note:
        print(f"note: {note}", file=sys.stderr)
    try:
        cluster = LocalCluster(n_workers=n, threads_per_worker=threads, processes=True,
                               memory_limit=worker_memory(memory_limit, n), env=worker_env(n, threads))
    except ValueError as e:
        raise FersClusterError(f"cannot start the local cluster: {' '.join(str(e).split())}") from None
    client = Client(cluster)
    try:
        yield client, cluster
    finally:
        client.close()
        _stop_workers(cluster)
        cluster.close()


WORKER_EXIT_S = 60.0  # how long a local worker process may take to exit before it is killed


def _stop_workers(cluster, timeout: float = WORKER_EXIT_S) -> None:
    """Ask every worker process of a local ``cluster`` to exit and wait for it (at most ``timeout`` s).

    A worker that has imported torch takes one to several seconds to exit (the interpreter's
    teardown), more on a busy machine; ``LocalCluster.close()`` gives each only 4 s before it kills
    it with a "Worker process still alive after 4.0 seconds, killing" warning. Closing the nannies
    first with a longer timeout lets the processes end on their own; ``cluster.close()`` then finds
    them closed."""
    import asyncio

    async def close_all():
        await asyncio.gather(*(w.close(timeout=timeout) for w in list(cluster.workers.values())))

    try:
        cluster.sync(close_all)
    except Exception:  # noqa: BLE001 - cluster.close() still closes (and if need be kills) what is left
        pass


def dashboard_link(client) -> str | None:
    """The dashboard URL when the scheduler serves one (its plots need ``bokeh`` on the scheduler)."""
    try:
        if "dashboard" not in client.scheduler_info().get("services", {}):
            return None
        return client.dashboard_link
    except Exception:  # noqa: BLE001 - the link is a convenience, never a reason to fail
        return None


def cluster_info(client) -> dict:
    """Scheduler address, workers, task threads and memory limit per worker (bytes, None = none)."""
    info = client.scheduler_info()
    ws = list(info.get("workers", {}).values())
    limits = sorted({w.get("memory_limit") or None for w in ws}, key=lambda v: (v is None, v or 0))
    return {"scheduler": info.get("address"), "workers": len(ws),
            "threads": sum(int(w.get("nthreads", 0)) for w in ws),
            "memory_limit": limits[0] if len(limits) == 1 else limits, "dashboard": dashboard_link(client)}


# ---------------------------------------------------------------- the driver

@dataclass
class BatchRun:
    """What :func:`run_batch` returns: ``rows`` in input order, the wall time of the task phase and
    the throughput of the scenes computed in this run (resumed and failed ones excluded)."""

    rows: list
    seconds: float
    computed: int = 0
    failed: int = 0
    resumed: int = 0
    megapixels: float = 0.0
    throughput: dict = field(default_factory=dict)


def _killed_message(e: BaseException, path) -> str:
    from dask import config

    tries = int(config.get("distributed.scheduler.allowed-failures", 3)) + 1
    return (f"{path}: the worker process died {tries} times on this scene ({type(e).__name__}); out of "
            f"memory? raise --memory-limit or run fewer workers (docs/batch.md#sizing-workers)")


def run_batch(client, pairs, out_dir, options: SceneOptions, resume: bool = False, task=run_scene,
              progress: bool = True) -> BatchRun:
    """Run ``task`` (default :func:`run_scene`) on every ``(cube, gt)`` pair on ``client``'s cluster,
    one task per scene, writing into ``out_dir``. Two inputs with the same scene name would write the
    same output: the later one is not run and gets an error row instead."""
    from dask.distributed import as_completed
    from tqdm import tqdm

    out_dir = Path(out_dir)
    rows: list = [None] * len(pairs)
    owner: dict = {}
    futures = {}
    t0 = time.perf_counter()
    for i, (cube, gt) in enumerate(pairs):
        name = scene_name(cube)
        if name in owner:
            rows[i] = {"name": name, "file": str(cube), "out": None, "worker": None, "resumed": False,
                       "error": f"{cube}: same scene name as {owner[name]}; its output {name}.npz would "
                                f"overwrite that one (rename one of them)"}
            continue
        owner[name] = cube
        fut = client.submit(task, str(cube), gt, str(out_dir), options, resume,
                            key=f"fers-{name}-{uuid.uuid4().hex[:8]}", pure=False)
        futures[fut] = i
    bar = tqdm(total=len(pairs), desc="batch", unit="scene", file=sys.stderr, disable=not progress)
    run = BatchRun(rows=rows, seconds=0.0)

    def count(row):
        if row["error"]:
            run.failed += 1
            bar.write(f"fers: error: {row['error']}", file=sys.stderr)
        elif row.get("resumed"):
            run.resumed += 1
        else:
            run.computed += 1
            shape = row.get("shape") or [0, 0]
            run.megapixels += shape[0] * shape[1] / 1e6
        bar.set_postfix(failed=run.failed, resumed=run.resumed, refresh=False)
        bar.update(1)

    for row in rows:
        if row is not None:
            count(row)
    for fut in as_completed(list(futures)):
        i = futures[fut]
        cube = pairs[i][0]
        try:
            row = fut.result()
        except Exception as e:  # noqa: BLE001 - the task never raises: a worker kept dying, or the cluster went
            msg = _killed_message(e, cube) if type(e).__name__ == "KilledWorker" else _one_line(e, cube)
            row = {"name": scene_name(cube), "file": str(cube), "out": None, "worker": None, "resumed": False,
                   "error": msg}
        fut.release()
        rows[i] = row
        count(row)
    bar.close()
    run.seconds = time.perf_counter() - t0
    run.throughput = throughput(run.computed, run.megapixels, run.seconds)
    return run


def throughput(computed: int, megapixels: float, seconds: float) -> dict:
    """The throughput of ``computed`` scenes of ``megapixels`` in all in ``seconds`` of wall time
    (rates to 3 significant digits)."""
    per_s = 1 / max(seconds, 1e-9)
    return {"seconds": round(seconds, 3), "scenes_computed": computed, "megapixels": significant(megapixels),
            "scenes_per_s": significant(computed * per_s), "scenes_per_min": significant(computed * per_s * 60),
            "megapixels_per_s": significant(megapixels * per_s)}


def significant(x: float, digits: int = 3) -> float:
    """``x`` rounded to ``digits`` significant digits (a rate of 0.0019567 is 0.00196, 1234.5 is 1230)."""
    return float(f"{x:.{digits}g}")


def throughput_text(run: BatchRun) -> str:
    """The run in one line: counts, wall time, and scenes/s and Mpx/s of the computed scenes (3 significant
    digits, never in exponent notation), or "nothing computed" when every scene was resumed or failed."""
    import numpy as np

    tp = run.throughput
    head = f"{run.computed} computed, {run.resumed} resumed, {run.failed} failed in {tp['seconds']:.1f} s"
    if not tp.get("scenes_computed"):
        return head + " (nothing computed)"

    def num(x):
        return np.format_float_positional(x, precision=3, fractional=False, trim="-")

    return f"{head}: {num(tp['scenes_per_s'])} scenes/s, {num(tp['megapixels_per_s'])} Mpx/s"


# ---------------------------------------------------------------- the summary table

def _csv_row(row: dict) -> dict:
    shape = row.get("shape")
    out = {"name": row.get("name"), "file": row.get("file"),
           "status": "failed" if row.get("error") else ("resumed" if row.get("resumed") else "ok"),
           "shape": "x".join(str(s) for s in shape) if shape else "", "bands": row.get("bands"),
           "band_adapter": row.get("band_adapter"), "model_bands": row.get("model_bands"),
           "backend": row.get("backend"), "detector": row.get("detector"), "weights": row.get("weights"),
           "default_method": row.get("default_method")}
    for m, v in (row.get("auc") or {}).items():
        out[f"auc_{m}"] = v
    if row.get("rx_all_bands_auc") is not None:
        out["auc_rx_all_bands"] = row["rx_all_bands_auc"]
    for k, v in (row.get("seconds") or {}).items():
        out[f"seconds_{k}"] = v
    out.update(worker=row.get("worker"), out=row.get("out"), error=row.get("error") or "",
               notes=" | ".join(cli_text(n) for n in row.get("notes") or []))
    return out


def write_summary_csv(rows, out_dir) -> Path:
    """``<out_dir>/summary.csv``: one row per scene (name, file, status ok/failed/resumed, shape
    ``HxWxB``, bands, band adapter, model bands, ``auc_<method>`` when GT exists, ``seconds_<stage>``,
    worker, out, error, notes); columns in order of first appearance. Written atomically."""
    table = [_csv_row(r) for r in rows]
    cols: list = []
    for r in table:
        cols.extend(k for k in r if k not in cols)
    tail = ["worker", "out", "error", "notes"]
    cols = [c for c in cols if c not in tail] + tail
    path = Path(out_dir) / SUMMARY_CSV
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=cols)
            w.writeheader()
            w.writerows(table)
        os.replace(tmp, path)
    except OSError as e:
        raise FersResourceError(f"cannot write the summary: {e.strerror or e}", path) from None
    finally:
        tmp.unlink(missing_ok=True)
    return path
