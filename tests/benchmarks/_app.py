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


def launch_app(workdir: Path, extra_env=None, timeout=180.0, repo: Path = REPO):
    """Start ``python <repo>/app.py`` with cwd and TMPDIR inside ``workdir``; return ``(process, url)``."""
    port = free_port()
    tmp = workdir / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, GRADIO_SERVER_NAME="127.0.0.1", GRADIO_SERVER_PORT=str(port),
               GRADIO_ANALYTICS_ENABLED="False", TMPDIR=str(tmp), GRADIO_TEMP_DIR=str(tmp / "gradio"),
               **(extra_env or {}))
    env.pop("MPLCONFIGDIR", None)  # the app must put matplotlib's cache into its own temp dir
    log = open(workdir / "app.log", "wb")
    proc = subprocess.Popen([sys.executable, str(repo / "app.py")], cwd=workdir, env=env, stdout=log,
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
