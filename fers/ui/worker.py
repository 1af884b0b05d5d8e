"""Requests decoded and detected in child processes, each with its own memory and time limit.

Why a child process: the memory estimate (:mod:`fers.budget`) refuses what it can foresee from headers,
but a reader or a library can still allocate what no header announced. In a child, such a request
hits the child's limit and the child is replaced; the server process -- its memory, its other
sessions -- stays where it was, and the next request's estimate is made in a fresh process about that
request alone, not about memory an earlier request left behind.

* :class:`Pool` keeps ``size`` warm workers (spawned, so no server thread or lock is inherited), hands
  each call to an idle one and blocks while all are busy (the app's queue lets at most ``size``
  detections run at once, so a call never waits here in practice).
* A worker limits its heap with ``RLIMIT_DATA`` (private writable memory: arrays and the allocator's
  heap; not shared libraries or read-only memory maps of input files) to what it holds after start-up
  plus ``data_limit``. Past that, an allocation fails: NumPy raises ``MemoryError`` (answered as "not
  enough memory"), a C library may abort (the worker dies; the call answers the same line).
* A call that runs past ``time_limit`` seconds is answered with a refusal and its worker is killed.
* A worker that keeps more than ``RECYCLE_BYTES`` above its start-up size after a call is replaced
  (glibc does not always give freed memory back), so no request pays for an earlier one.

The standard library's ``ProcessPoolExecutor`` can neither kill a running task nor limit one task's
memory, hence this small pool over ``multiprocessing`` pipes.

Jobs are functions of :mod:`fers.ui.jobs` named by string (or ``"module:function"``); arguments and results are pickled
(arrays included). With no pool configured (:func:`configure` not called, as in unit tests that call the
handlers directly) :func:`run` calls the job in this process.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import queue
import threading
from multiprocessing.connection import Connection

from fers import errors
from fers.errors import FersError, kind_of
from fers.settings import export_env

log = logging.getLogger("fers.app")

RECYCLE_BYTES = 300 * 2**20
START_TIMEOUT_S = 180.0
MEMORY_LINE = ("not enough memory for this request on this server (the request was stopped); crop the scene "
               "or select fewer bands")


def _status_kb(field: str) -> int:
    """A ``/proc/self/status`` field (``VmData``, ``VmRSS``) in bytes (0 where there is no /proc)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _limit_heap(data_limit: int) -> None:
    """``RLIMIT_DATA`` = what the process holds now + ``data_limit``; fewer malloc arenas, so threads
    do not each reserve their own."""
    import resource

    try:
        import ctypes

        ctypes.CDLL("libc.so.6").mallopt(-8, 2)  # M_ARENA_MAX = 2
    except (OSError, AttributeError):
        pass
    if data_limit and (base := _status_kb("VmData")):
        soft = base + int(data_limit)
        _, hard = resource.getrlimit(resource.RLIMIT_DATA)
        if hard != resource.RLIM_INFINITY:
            soft = min(soft, hard)
        resource.setrlimit(resource.RLIMIT_DATA, (soft, hard))


def _serve(conn: Connection, data_limit: int, env: dict) -> None:
    """The worker's loop: warm imports, limit the heap, then ``(job, args, kwargs)`` -> ``(kind, value, rss)``
    with kind ``ok`` (the job's result), ``fers`` (a FersError's kind and line), ``memory`` or ``error``."""
    import tempfile

    export_env(env)
    tempfile.tempdir = None  # TMPDIR is read again
    from fers.ui import jobs

    jobs.warm_up()
    _limit_heap(data_limit)
    conn.send(("ready", None, _status_kb("VmRSS")))
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            return
        name, args, kwargs = msg
        try:
            out = ("ok", job(name)(*args, **kwargs))
        except FersError as e:
            out = ("fers", (kind_of(e).__name__, str(e)))
        except MemoryError:
            out = ("memory", MEMORY_LINE)
        except Exception as e:  # noqa: BLE001 -- the server logs it; the page gets one line
            import traceback

            out = ("error", f"{type(e).__name__}: {e}\n{traceback.format_exc()}")
        jobs.trim()
        try:
            conn.send(out + (_status_kb("VmRSS"),))
        except MemoryError:
            conn.send(("memory", MEMORY_LINE, _status_kb("VmRSS")))


def job(name: str):
    """A job function: ``"detect_upload"`` (of :mod:`fers.ui.jobs`) or ``"package.module:function"``.
    Names come from the app's own code, never from a client."""
    import importlib

    module, _, func = name.rpartition(":")
    return getattr(importlib.import_module(module or "fers.ui.jobs"), func)


class WorkerLost(Exception):
    """The worker died or ran out of time; the message is the one line for the user."""


class Worker:
    """One child process and its pipe."""

    def __init__(self, data_limit: int, env: dict):
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_serve, args=(child, data_limit, env), daemon=True, name="fers-worker")
        self.proc.start()
        child.close()
        try:
            if not self.conn.poll(START_TIMEOUT_S):
                raise EOFError
            _, _, self.base_rss = self.conn.recv()
        except (EOFError, OSError):
            self.kill()
            raise RuntimeError("the detection worker did not start (see the server log)") from None
        self.last_rss = self.base_rss

    @property
    def pid(self) -> int:
        return self.proc.pid

    def call(self, name: str, args, kwargs, time_limit: float):
        self.conn.send((name, args, kwargs))
        if not self.conn.poll(time_limit):
            self.kill()
            raise WorkerLost(f"the request took longer than this server's limit of {time_limit:g} s and was "
                             "stopped; crop the scene, select fewer bands, or use the command line")
        try:
            kind, value, self.last_rss = self.conn.recv()
        except (EOFError, OSError):
            self.kill()
            raise WorkerLost(MEMORY_LINE) from None
        return kind, value

    def worn(self) -> bool:
        return self.last_rss - self.base_rss > RECYCLE_BYTES

    def alive(self) -> bool:
        return self.proc.is_alive()

    def kill(self) -> None:
        try:
            self.proc.kill()
            self.proc.join(5)
        except (OSError, ValueError, AssertionError):
            pass
        self.conn.close()

    def stop(self) -> None:
        try:
            self.conn.send(None)
            self.proc.join(5)
        except (OSError, ValueError, AssertionError):
            pass
        if self.proc.is_alive():
            self.kill()


class Pool:
    """``size`` workers; :meth:`call` runs a job of :mod:`fers.ui.jobs` on an idle one."""

    def __init__(self, size: int, data_limit: int, time_limit: float):
        self.size, self.data_limit, self.time_limit = int(size), int(data_limit), float(time_limit)
        from fers.ui.tempdirs import app_temp_root

        scratch = app_temp_root() / "worker"  # what libraries write into TMPDIR goes with the app's temp dir
        scratch.mkdir(exist_ok=True)
        self.env = {"TMPDIR": str(scratch)}
        self._idle: queue.Queue = queue.Queue()
        for _ in range(self.size):
            self._idle.put(None)  # started on first use, or by warm()
        self.replaced = 0

    def warm(self) -> None:
        """Start every worker now (in the background at launch, so the first click does not wait)."""
        got = [self._idle.get() for _ in range(self.size)]
        for i, w in enumerate(got):
            if w is None:
                got[i] = self._start()
        for w in got:
            self._idle.put(w)

    def _start(self) -> Worker:
        return Worker(self.data_limit, self.env)

    def call(self, name: str, *args, **kwargs):
        w = self._idle.get()
        try:
            if w is None or not w.alive():
                w = self._start()
            try:
                kind, value = w.call(name, args, kwargs, self.time_limit)
            except WorkerLost:
                w = self._replace(None)
                raise
            if w.worn():  # memory a request left behind goes with its worker
                w = self._replace(w)
        finally:
            if w is not _TAKEN:  # a slot being refilled goes back when its successor is ready
                self._idle.put(w)
        if kind == "ok":
            return value
        if kind == "fers":
            raise getattr(errors, value[0])(value[1])
        if kind == "memory":
            raise MemoryError(value)
        log.error("detection worker: %s", value)
        raise RuntimeError(value.splitlines()[0])

    def _replace(self, old: Worker | None) -> None:
        """Stop ``old`` and start its successor in the background (the answer does not wait for it); the
        slot stays taken until the successor is ready (returns the marker for a taken slot)."""
        self.replaced += 1
        log.info("replacing a detection worker (%s)", "died or timed out" if old is None else "memory left behind")

        def succeed():
            if old is not None:
                old.stop()
            try:
                self._idle.put(self._start())
            except RuntimeError:
                log.exception("detection worker did not start")
                self._idle.put(None)  # the next call tries again

        threading.Thread(target=succeed, daemon=True, name="fers-worker-start").start()
        return _TAKEN

    def close(self) -> None:
        while not self._idle.empty():
            w = self._idle.get_nowait()
            if w is not None:
                w.stop()


_POOL: Pool | None = None
_TAKEN = object()  # a slot being refilled in the background: not put back by the call


def configure(pool: Pool | None) -> None:
    """Use ``pool`` for :func:`run` (None: run jobs in this process)."""
    global _POOL
    _POOL = pool


def run(name: str, *args, **kwargs):
    """Run job ``name`` of :mod:`fers.ui.jobs` in the configured pool, or here when there is none."""
    if _POOL is None:
        return job(name)(*args, **kwargs)
    return _POOL.call(name, *args, **kwargs)
