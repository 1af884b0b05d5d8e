"""Feature enhancement with the exported ONNX FENs (paper eq. 4 and 8), without PyTorch.

``OnnxEnhancer(spe_path, spa_path).enhance(h)`` takes a normalised cube ``h (H, W, N)`` float32
(``fers.normalize.normalize_cube``, bands already adapted to the model's N) and returns
``(F_spe, F_spa)``, each ``(H, W, N)`` float32 — the same API as ``fers.enhance.torch_backend.TorchEnhancer``.
Each ``.onnx`` file maps ``cube (K, N, H, W)`` to ``features (K, N, H, W)`` with dynamic K, H, W and
carries its band count, normalisation and method recipe in ``metadata_props`` (keys ``fers.*``).

Execution providers: CUDA first, then CPU. When the CUDA provider is installed but cannot start
(no driver or device, missing CUDA/cuDNN libraries) the sessions run on CPU and ONE warning is
logged per process. This module is a leaf: it imports neither torch nor the exporter (tested).
Files are found with :func:`fers.enhance.paths.find_onnx`.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import json
import logging
import os
import re
import tempfile
from pathlib import Path

import numpy as np

from fers.enhance.inputs import MIN_SIZE, check_enhance_input  # noqa: F401  (MIN_SIZE: public)
from fers.errors import FersInputError
from fers.settings import settings

log = logging.getLogger(__name__)

META_PREFIX = "fers."
INPUT_NAME = "cube"
OUTPUT_NAME = "features"
CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"

_cuda_state: dict = {"usable": None, "warned": False}  # process-wide, so the warning appears once


def decode_metadata(props: dict) -> dict:
    """``fers.*`` entries of a metadata map (ORT's ``custom_metadata_map``) as a dict, keys without
    the prefix, JSON values decoded."""
    out = {}
    for key, value in props.items():
        if key.startswith(META_PREFIX):
            try:
                out[key[len(META_PREFIX):]] = json.loads(value)
            except ValueError:
                out[key[len(META_PREFIX):]] = value
    return out


def session_options(threads: int | None = None):
    """ORT session options: all graph optimisations, no spin-waiting, ``threads`` intra-op threads
    (default: env ``FERS_ORT_THREADS`` or ORT's own choice)."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    threads = threads if threads is not None else (settings().ort_threads or 0)
    if threads > 0:
        so.intra_op_num_threads = threads
    so.log_severity_level = 3  # errors only
    # no CPU arena: ORT's arena keeps a run's peak for the session's life, so a long-lived process (the
    # app's workers) would carry one big scene's memory into every later request's budget; without it a
    # worker returns to the same size after each Airport-4 request (284 MB, vs 417 MB and growing)
    so.enable_cpu_mem_arena = False
    # idle pool threads sleep instead of spinning: two sessions (Spe/Spa) and NumPy's RX share the
    # cores, and spinning threads starve them (halves the enhance time on a 2-core CPU)
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return so


def _cuda_driver_problem() -> str | None:
    """Why no CUDA device can be used (no driver library / no device), or None if one is there."""
    try:
        lib = ctypes.CDLL("libcuda.so.1")
    except OSError:
        return "no NVIDIA driver: libcuda.so.1 not found"
    count = ctypes.c_int(0)
    if lib.cuInit(0) != 0 or lib.cuDeviceGetCount(ctypes.byref(count)) != 0 or count.value < 1:
        return "no CUDA device found"
    return None


@contextlib.contextmanager
def _native_stderr_to(buf: list):
    """Send C-level stderr (ONNX Runtime's own logger) to a temp file; its text lands in ``buf``."""
    try:
        fd = os.dup(2)
    except OSError:  # no usable stderr: nothing to silence
        yield
        return
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(fd, 2)
            os.close(fd)
            tmp.seek(0)
            buf.append(tmp.read().decode("utf-8", "replace"))


def _short_reason(text: str) -> str:
    """The informative part of ORT's CUDA failure text, as one short line."""
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", ln).strip() for ln in text.splitlines()]
    for line in lines:
        for marker in ("with error:", "Failed to create"):
            if marker in line:
                return " ".join(line.split(marker, 1)[1].split())[:160] or marker
    for line in lines:
        if "cuda" in line.lower():
            return " ".join(re.sub(r"^[^\]]*\]\s*", "", line).split())[:160]
    return "the CUDA provider could not start"


def _warn_cpu_fallback(reason: str) -> None:
    _cuda_state["usable"] = False
    if not _cuda_state["warned"]:
        _cuda_state["warned"] = True
        log.warning("ONNX Runtime CUDA provider unavailable (%s); running ONNX models on CPU", reason)


def _cpu_signature() -> str:
    """The CPU's instruction-set flags (``/proc/cpuinfo``), else the platform's processor name: an
    ORT-optimised CPU graph holds kernels laid out for one instruction set (NCHWc block sizes)."""
    import platform

    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith(("flags", "Features")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return f"{platform.machine()} {platform.processor()}"


def optimized_path(path) -> Path:
    """Where the ORT-optimised CPU graph of the model file ``path`` is cached: under the user cache
    (``fers.cache.cache_dir() / "onnx-optimized"``), named by a hash of the file (path, size, mtime),
    the ONNX Runtime version and the CPU's instruction set, so a new model, ORT or machine gets its own."""
    import hashlib

    import onnxruntime as ort

    from fers.cache import cache_dir

    path = Path(path).resolve()
    st = path.stat()
    key = "\0".join((str(path), str(st.st_size), str(st.st_mtime_ns), ort.__version__, _cpu_signature()))
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return cache_dir() / "onnx-optimized" / f"{path.stem}.{digest}.onnx"


def cpu_session(path, so):
    """A CPU-only session for ``path`` with options ``so``, through a cached optimised graph.

    The first session of a model file saves ONNX Runtime's optimised graph (``ORT_ENABLE_ALL``: fused
    and layout-transformed) to :func:`optimized_path`; later processes load that file with graph
    optimisation off, which skips the optimisation passes at every start (the Spa-FEN's ~400-node
    graph; timings in docs/results.md, "Speed where users wait"). Outputs are identical. Any cache
    problem (read-only cache, a damaged file) falls back to the original file; nothing is ever written
    next to the model.
    """
    import onnxruntime as ort

    path = str(path)
    if (settings().ort_graph_cache or "on").strip().lower() in ("0", "no", "false", "off"):
        return ort.InferenceSession(path, so, providers=[CPU])
    try:
        cached = optimized_path(path)
    except OSError:
        return ort.InferenceSession(path, so, providers=[CPU])
    if cached.is_file():
        level = so.graph_optimization_level
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        try:
            return ort.InferenceSession(str(cached), so, providers=[CPU])
        except Exception:  # noqa: BLE001 - a damaged or foreign cache file: drop it, use the original
            with contextlib.suppress(OSError):
                cached.unlink()
        finally:
            so.graph_optimization_level = level
    if so.graph_optimization_level != ort.GraphOptimizationLevel.ORT_ENABLE_ALL:
        return ort.InferenceSession(path, so, providers=[CPU])
    tmp = None
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(suffix=".onnx", prefix=".tmp-", dir=cached.parent)
        os.close(fd)
        so.optimized_model_filepath = tmp
    except OSError:
        tmp = None
    try:
        sess = ort.InferenceSession(path, so, providers=[CPU])
        if tmp is not None and os.path.getsize(tmp) > 0:
            os.replace(tmp, cached)  # atomic: concurrent workers never see half a file
            tmp = None
        return sess
    finally:
        so.optimized_model_filepath = ""
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def make_session(path, providers=None, threads: int | None = None):
    """``onnxruntime.InferenceSession`` for ``path``: CUDA -> CPU with a single fallback warning.

    ``providers`` forces a list (e.g. ``["CPUExecutionProvider"]``); env ``FERS_ORT_PROVIDERS=cpu``
    does the same for CPU. CPU-only sessions go through :func:`cpu_session` (the optimised graph
    cached in the user cache; ``FERS_ORT_GRAPH_CACHE=0`` turns that off).
    """
    import onnxruntime as ort

    so = session_options(threads)
    path = str(path)
    if providers is None and (settings().ort_providers or "").lower() == "cpu":
        providers = [CPU]
    if providers is not None:
        if list(providers) == [CPU]:
            return cpu_session(path, so)
        return ort.InferenceSession(path, so, providers=list(providers))
    if _cuda_state["usable"] is True:
        return ort.InferenceSession(path, so, providers=[CUDA, CPU])
    if CUDA in ort.get_available_providers() and _cuda_state["usable"] is None:
        reason = _cuda_driver_problem()
        if reason is None:
            captured: list = []
            sess, err = None, None
            with _native_stderr_to(captured):
                try:
                    if hasattr(ort, "preload_dlls"):  # CUDA/cuDNN from the nvidia-* wheels, if any
                        with contextlib.redirect_stdout(io.StringIO()):
                            ort.preload_dlls()
                    sess = ort.InferenceSession(path, so, providers=[CUDA, CPU])
                except Exception as exc:  # noqa: BLE001 - any start-up failure means "use CPU"
                    err = exc
            if sess is not None and CUDA in sess.get_providers():
                _cuda_state["usable"] = True
                return sess
            if err is not None and "CUDA" not in str(err) and "cuda" not in str(err):
                raise err  # not a provider problem (bad file, ...): let the caller report it
            reason = _short_reason("".join(captured) + (str(err) if err else ""))
        _warn_cpu_fallback(reason)
    return cpu_session(path, so)


class OnnxEnhancer:
    """Both ONNX FENs of one band count; ``.n_bands``, ``.config``, ``.providers``, ``.enhance``."""

    def __init__(self, spe_path, spa_path, providers=None, threads: int | None = None):
        self.paths = (Path(spe_path), Path(spa_path))
        for p in self.paths:
            if not p.is_file():
                raise FersInputError("ONNX model not found", p)
        try:
            self.sessions = [make_session(p, providers, threads) for p in self.paths]
        except FersInputError:
            raise
        except Exception as exc:  # noqa: BLE001 - unreadable or invalid model file
            raise FersInputError(f"cannot load ONNX model ({type(exc).__name__})", self.paths[0]) from None
        metas = [decode_metadata(s.get_modelmeta().custom_metadata_map) for s in self.sessions]
        for p, m, branch in zip(self.paths, metas, ("spe", "spa")):
            if "n_bands" not in m:
                raise FersInputError("not a FERS ONNX model (no fers.n_bands metadata)", p)
            if m.get("branch") != branch:
                raise FersInputError(f"expected the {branch} branch, file holds {m.get('branch')!r}", p)
        if int(metas[0]["n_bands"]) != int(metas[1]["n_bands"]):
            raise FersInputError(
                f"band counts differ: {metas[0]['n_bands']} (spe) vs {metas[1]['n_bands']} (spa)", self.paths[1]
            )
        self.metadata = metas[0]
        self.n_bands = int(metas[0]["n_bands"])
        self.config = dict(metas[0].get("config") or {"n_bands": self.n_bands})
        self.providers = self.sessions[0].get_providers()

    def _check(self, x: np.ndarray, ndim: int) -> np.ndarray:
        return check_enhance_input(x, ndim, self.n_bands, self.paths[0])

    def enhance_batch(self, hs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(K, H, W, N)`` -> ``(F_spe, F_spa)`` each ``(K, H, W, N)`` float32."""
        return self._run(self._check(hs, 4))

    def _run(self, hs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Checked ``(K, H, W, N)`` -> features; no second validation pass on the hot path."""
        x = np.ascontiguousarray(np.asarray(hs, dtype=np.float32).transpose(0, 3, 1, 2))
        outs = [s.run([OUTPUT_NAME], {INPUT_NAME: x})[0] for s in self.sessions]
        return tuple(np.ascontiguousarray(o.transpose(0, 2, 3, 1), dtype=np.float32) for o in outs)

    def enhance(self, h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(H, W, N)`` -> ``(F_spe, F_spa)`` each ``(H, W, N)`` float32."""
        f_spe, f_spa = self._run(self._check(h, 3)[None])
        return f_spe[0], f_spa[0]
