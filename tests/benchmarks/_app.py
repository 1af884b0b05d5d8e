"""A real app server in a subprocess, for the app tests and the app benchmarks (both import this file:
the tests as ``tests.benchmarks._app``, a benchmark script run from ``tests/benchmarks`` as ``_app``)."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch_app(workdir: Path, extra_env=None, timeout=180.0, repo: Path = REPO, args=()):
    """Start ``python <repo>/app.py [args]`` with cwd and TMPDIR inside ``workdir``; return ``(process, url)``."""
    port = free_port()
    tmp = workdir / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, GRADIO_SERVER_NAME="127.0.0.1", GRADIO_SERVER_PORT=str(port),
               GRADIO_ANALYTICS_ENABLED="False", TMPDIR=str(tmp), GRADIO_TEMP_DIR=str(tmp / "gradio"),
               **(extra_env or {}))
    env.pop("MPLCONFIGDIR", None)  # the app must put matplotlib's cache into its own temp dir
    log = open(workdir / "app.log", "wb")
    proc = subprocess.Popen([sys.executable, str(repo / "app.py"), *args], cwd=workdir, env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    t0 = time.time()
    while time.time() - t0 < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"app exited with {proc.returncode}: {(workdir / 'app.log').read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError(f"app did not answer within {timeout:.0f} s")


def stop_app(proc) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (the app's worker processes), from ``/proc``."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                todo += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                pass
    return out


def rss(pid: int, field: str = "VmRSS") -> int:
    """A process's ``VmRSS`` (now) or ``VmHWM`` (peak) in bytes; 0 when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class TreePeak:
    """Samples the summed resident size of a process tree in a thread: ``with TreePeak(pid) as t: ...``,
    then ``t.peak`` and ``t.start`` (bytes)."""

    def __init__(self, pid: int, every_s: float = 0.02):
        import threading

        self.pid, self.every = pid, every_s
        self.start = self.peak = self.now()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def now(self) -> int:
        return sum(rss(p) for p in process_tree(self.pid))

    def _run(self):
        while not self._stop.wait(self.every):
            self.peak = max(self.peak, self.now())

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.now())
