"""Memory bounds: what a request needs, estimated from shapes alone before any work is done.

A :class:`Request` describes a detection in shapes -- cube shape, bands after adapting, whether the
networks run, the detector's own needs (from its registry entry), ground truth or not.
:func:`in_memory_need` and :func:`streamed_need` estimate the process's peak memory on the
in-memory path of :func:`fers.pipeline.detect` and on the streamed path of :mod:`fers.large`;
:func:`choose_path` takes the in-memory path when it fits the budget, else the streamed one when the
detector streams and that fits, and otherwise refuses with one line that names what needs the memory
and what to do instead. :func:`check_decode` refuses, from a file's header (:mod:`fers.io.peek`),
a file whose reader would decode it whole beyond the budget.

Budget: the peak resident memory of the whole process, ``FERS_MAX_MEMORY`` (default 3.5 GiB, e.g.
``FERS_MAX_MEMORY=8GB``), capped by the memory the machine has available. An estimate is the
process's current resident size, plus the libraries a run still has to load (PyTorch), plus the
arrays the run allocates (``Need.parts``). The coefficients below were measured with
``getrusage`` on this package's own code paths (``tests/benchmarks/bench_hostile.py`` checks the
bound end to end); they err on the high side.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field, replace

from fers.errors import FersResourceError
from fers.settings import parse_size, settings  # noqa: F401  (parse_size: also public here)

MiB = 2**20
GiB = 2**30
DEFAULT_MAX_MEMORY = int(3.5 * GiB)
TORCH_IMPORT = 700 * MiB  # resident size PyTorch adds when imported and run (measured ~500-850 MiB)
SLACK = 150 * MiB  # interpreter growth, allocator fragmentation, small arrays

# bytes per pixel (P) or per value (P x N) of the arrays each stage holds; see the module docstring
# both FENs on a whole image (Spe-FEN: 64-channel layer1 and the FPL hidden layer; Spa-FEN: the Conv2RGB
# hidden layer, three pooled maps of 256 channels resized to full resolution, the fuse), by backend
FEN_PER_PIXEL = {"torch": 8000, "onnx": 14000}
FEN_PER_VALUE = 8  # input/output copies per value of the adapted cube
RESNET_PER_PIXEL = 200  # streamed Spa-FEN: the frozen ResNet on the 3-channel image (stem at 1/2 resolution)
SCORE_PER_PIXEL = 160  # AUC and 3-D ROC areas of one map (sorted copies, thresholds)
CHUNK_WORK = 450 * MiB  # streamed RX and tiles: one row chunk of every scored cube, float32 and float64
RESAMPLE_WORK = 4 * 64 * MiB  # band interpolation (fers.bands.resample_bands): a 64 MiB row block and its temporaries
METHOD_MAPS = 6  # score maps alive at once (the methods and a fusion's temporaries), float64


def max_memory() -> int:
    """The budget in bytes: ``FERS_MAX_MEMORY`` (default 3.5 GiB), at most what the machine has available."""
    limit = settings().max_memory or DEFAULT_MAX_MEMORY
    avail = available_memory()
    return min(limit, avail + current_rss()) if avail else limit


def available_memory() -> int | None:
    """``MemAvailable`` of ``/proc/meminfo`` in bytes (None where there is no such file)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def current_rss() -> int:
    """This process's resident size in bytes (``/proc/self/statm``; else the peak from getrusage)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def human(n: float) -> str:
    """Bytes as ``"1.2 GB"`` / ``"350 MB"`` (powers of 1024, as the budget)."""
    for unit, size in (("TB", 2**40), ("GB", GiB), ("MB", MiB)):
        if n >= size or unit == "MB":
            v = n / size
            return f"{v:.1f} {unit}" if v < 100 else f"{v:,.0f} {unit}"
    return f"{n} B"


@dataclass
class Need:
    """An estimate: ``base`` (the process and libraries still to load) plus the named array ``parts``
    alive at the peak."""

    base: int
    parts: dict = field(default_factory=dict)

    @property
    def total(self) -> int:
        return self.base + sum(self.parts.values())

    def biggest(self) -> tuple[str, int]:
        return max(self.parts.items(), key=lambda kv: kv[1]) if self.parts else ("the process", self.base)


@dataclass(frozen=True)
class Request:
    """A detection request in shapes: cube ``(height, width, bands)``; ``resident``: bytes of the cube
    already in memory (0 for a memory map); ``itemsize``: bytes per value as stored; ``n``: bands the
    methods run on (after adapting to the model); ``copy``: whether picking/adapting copies the cube
    (interpolation, a band list); ``models``: the FENs run; ``full_rx``: bands of an extra plain
    detector cube (``auto`` on all bands, or the all-band reference with a GT), 0 if none.

    The detector's own needs come from its registry entry (:mod:`fers.detectors.registry`), in
    bytes: ``work`` to score one ``n``-band cube, ``full_work`` the ``full_rx``-band one, ``state``
    what it holds beside them (RX's covariance); ``streamable``: :mod:`fers.large` can stream it.
    ``torch``: PyTorch runs (counted as an import when it is not loaded yet)."""

    height: int
    width: int
    bands: int
    n: int
    resident: int = 0
    itemsize: int = 4
    copy: bool = False
    models: bool = True
    n_maps: int = 5
    gt: bool = False
    full_rx: int = 0
    torch: bool = True
    backend: str = "torch"
    work: int = 0
    full_work: int = 0
    state: int = 0
    streamable: bool = True

    @property
    def pixels(self) -> int:
        return self.height * self.width


def _base(req: Request) -> int:
    extra = TORCH_IMPORT if req.torch and "torch" not in sys.modules else 0
    return current_rss() + extra + SLACK


def _resample_work(p: int, n: int) -> int:
    """Temporaries of band interpolation, which works in row blocks (its output is counted apart)."""
    return min(12 * p * n, RESAMPLE_WORK)


def _stream_state(n: int) -> int:
    """The streamed path's global-RX statistics: the ``n x n`` float64 covariance, its factor and inverse."""
    return 3 * n * n * 8


def in_memory_need(req: Request) -> Need:
    """Peak of :func:`fers.pipeline.detect`'s in-memory path."""
    p, n = req.pixels, req.n
    parts = {"cube": req.resident, "score maps": min(req.n_maps + 1, METHOD_MAPS) * 8 * p}
    if req.copy:
        parts["band-adapted cube"] = 4 * p * n
    parts["normalised cube"] = 4 * p * n
    if req.models:
        parts["model features"] = 8 * p * n
    steps = {"band interpolation" if req.copy else "normalisation": _resample_work(p, n) if req.copy else 4 * p * n,
             "detector": (8 * p * n if req.models else 0) + req.work}  # the H + F sum and its scoring
    if req.models:
        steps["enhancement"] = FEN_PER_PIXEL.get(req.backend, max(FEN_PER_PIXEL.values())) * p + FEN_PER_VALUE * p * n
    if req.full_rx:
        steps["plain detector on all bands"] = 8 * p * req.full_rx + req.full_work
    if req.gt:
        steps["AUCs"] = SCORE_PER_PIXEL * p
    label, worst = max(steps.items(), key=lambda kv: kv[1])
    parts[label] = worst
    parts["detector statistics"] = req.state
    return Need(_base(req), {k: v for k, v in parts.items() if v})


def streamed_need(req: Request) -> Need:
    """Peak of the streamed path (:func:`fers.large.detect_large`, global RX only)."""
    p, n = req.pixels, req.n
    parts = {"cube": req.resident, "score maps": min(req.n_maps + 1, METHOD_MAPS) * 8 * p}
    if req.copy:
        parts["band-adapted cube"] = 4 * p * n
    if req.models:
        parts["model features"] = 8 * p * n + 8 * p  # F_spe, F_spa and the tile weights
    steps = {"band interpolation": _resample_work(p, n) if req.copy else 0, "row chunks": CHUNK_WORK}
    if req.models:
        steps["spatial network"] = (12 + RESNET_PER_PIXEL) * p + CHUNK_WORK
    if req.gt:
        steps["AUCs"] = SCORE_PER_PIXEL * p
    label, worst = max(steps.items(), key=lambda kv: kv[1])
    parts[label] = worst
    parts["RX covariance"] = _stream_state(n)
    return Need(_base(req), {k: v for k, v in parts.items() if v})


def _dims(req: Request) -> str:
    return f"{req.height}x{req.width} pixels x {req.n} bands"


def fits(need: Need, budget: int | None = None) -> bool:
    return need.total <= (max_memory() if budget is None else budget)


def _largest_crop(req: Request, streamed: bool, budget: int) -> int:
    """The largest square side (pixels) whose request fits ``budget`` (0 if none does)."""
    need_of = streamed_need if streamed else in_memory_need
    lo, hi = 0, max(req.height, req.width)
    per_value = req.resident / max(req.pixels, 1)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        small = replace(req, height=mid, width=mid, resident=int(per_value * mid * mid))
        if fits(need_of(small), budget):
            lo = mid
        else:
            hi = mid - 1
    return lo


def refusal(req: Request, need: Need, streamed: bool, budget: int, rx_only: Need | None = None) -> FersResourceError:
    """The one-line refusal: what needs the memory, the budget, and what to do instead."""
    label, size = need.biggest()
    what = f"{label}: {human(size)}" if label != "the process" else "the process itself"
    how = "streamed" if streamed else "in memory"
    advice = []
    if rx_only is not None and fits(rx_only, budget):
        advice.append(f"use bands 'all' (plain RX on the cube's {req.bands} bands: about {human(rx_only.total)})")
    side = _largest_crop(req, streamed, budget)
    if side >= 8 and side < max(req.height, req.width):
        advice.append(f"crop the scene to about {side}x{side} pixels")
    if req.n > req.bands and req.n > 200:
        advice.append("select fewer bands (the shipped models have 50, 100 or 200)")
    advice.append("or raise FERS_MAX_MEMORY if this machine has the memory")
    return FersResourceError(
        f"this request needs about {human(need.total)} of memory ({_dims(req)}, {how}; {what}), over the "
        f"{human(budget)} budget; " + ", ".join(advice[:-1]) + (" " if len(advice) > 1 else "") + advice[-1])


def choose_path(req: Request, large: bool, rx_only: Request | None = None) -> bool:
    """True to stream, False for the in-memory path; FersResourceError when neither fits the budget.

    ``large``: the scene is large by the pipeline's own rule (always streamed with global RX).
    Global RX streams whenever the in-memory path does not fit; local RX and the AE never stream.
    ``rx_only``: the same request with bands ``all`` (no models), offered as advice."""
    budget = max_memory()
    streamable = req.streamable
    if not large or not streamable:
        need = in_memory_need(req)
        if fits(need, budget):
            return False
        if not streamable:
            raise refusal(req, need, False, budget)
    need = streamed_need(req)
    if fits(need, budget):
        return True
    alt = None
    if rx_only is not None and rx_only != req:
        alt = min(in_memory_need(rx_only), streamed_need(rx_only), key=lambda x: x.total)
    raise refusal(req, need, True, budget, alt)


def check_decode(values: int, itemsize: int, extra: int, path, what: str = "cube") -> None:
    """Refuse, from its header, a file whose reader would decode it whole beyond the budget:
    ``values * itemsize`` decoded, plus ``extra`` (a float32 copy, a compressed buffer)."""
    budget = max_memory()
    need = current_rss() + SLACK + values * itemsize + extra
    if need > budget:
        raise FersResourceError(
            f"{what} decodes to {human(values * itemsize)} ({values:,} values) and reading it needs about "
            f"{human(need)} of memory, over the {human(budget)} budget; crop it, or save it as an uncompressed "
            ".npy or ENVI file (read memory-mapped, large scenes are streamed), or raise FERS_MAX_MEMORY", path)
