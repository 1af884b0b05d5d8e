"""The plan step of a detection: everything decided before any pixel is touched.

:func:`make_plan` turns a cube ``(H, W, B)``, its band metadata and :class:`DetectOptions` into a
:class:`Plan`: the detector, the resolved backend, the methods, the band spec resolved against the
scene (:func:`fers.bands.choose_bands`, the one call into band choice), whether the networks run,
and the memory path (in memory or streamed, :mod:`fers.budget`). :func:`plan_request` and
:func:`check_file_request` make the same memory decision from shapes and file headers alone.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from fers import budget, memmap
from fers import methods as M
from fers.bands import BandSpec, choose_bands, parse_band_spec, planned_bands
from fers.detectors import Detector, get
from fers.enhance import model_available, resolve_backend
from fers.errors import FersError, FersInputError, with_path
from fers.pipeline.options import DetectOptions

RX_ALL_BANDS_MAX_PIXELS = 250_000  # the extra all-band RX reference is computed on scenes up to this size


@dataclass(frozen=True)
class Plan:
    """A checked request. ``spec``: the band spec resolved against the scene; ``fixed``: the band count
    of a user's checkpoint (None for the shipped models); ``streamed``: :mod:`fers.large` runs it."""

    options: DetectOptions
    detector: Detector
    backend: str
    wanted: tuple
    spec: BandSpec
    notes: tuple
    fixed: int | None
    streamed: bool

    @property
    def need_model(self) -> bool:
        """Whether a wanted method needs the networks."""
        return _needs_model(self.wanted)


def _needs_model(wanted) -> bool:
    return any(M.BY_NAME[m].needs_model for m in wanted if m in M.BY_NAME)


def make_plan(cube, gt, opts: DetectOptions, wavelengths=None, bad_bands=None) -> Plan:
    """The :class:`Plan` of ``cube (H, W, B)`` (``gt (H, W)`` or None) under ``opts``."""
    opts = opts.checked()
    if cube.ndim != 3 or cube.shape[2] < 2:
        raise FersInputError(f"cube must be (H, W, B) with B >= 2, got shape {tuple(cube.shape)}")
    if gt is not None and np.shape(gt) != tuple(cube.shape[:2]):
        raise FersInputError(f"ground truth shape {np.shape(gt)} does not match the cube's (H, W) {cube.shape[:2]}")
    det = get(opts.detector)
    _refuse_large(cube.shape, det)
    backend = resolve_backend(opts.backend, opts.weights)
    fixed = _weights_bands(opts.weights) if opts.weights else None
    spec, notes = choose_bands(cube, parse_band_spec(opts.bands), wavelengths, bad_bands, opts.keep_bad_bands,
                               opts.nodata)
    wanted = opts.wanted()
    mapped = memmap.is_mapped(cube)
    resident = 0 if mapped else int(cube.nbytes)  # the plan counts a copy the bad-band drop makes
    streamed = _choose_path(tuple(cube.shape), resident, mapped, gt is not None, spec, fixed, opts, backend, wanted)
    return Plan(opts, det, backend, wanted, spec, tuple(notes), fixed, streamed)


def is_large(cube) -> bool:
    """True for scenes :func:`fers.detect` streams: :data:`fers.memmap.LARGE_PIXELS` pixels or more, or
    a ``np.memmap`` whose float32 copy would exceed :data:`fers.memmap.LARGE_MEMMAP_BYTES`."""
    return _large_shape(cube.shape, memmap.is_mapped(cube))


def _large_shape(shape, mapped: bool) -> bool:
    h, w, b = shape
    return h * w >= memmap.LARGE_PIXELS or (mapped and h * w * b * 4 > memmap.LARGE_MEMMAP_BYTES)


def plan_request(shape, resident: int = 0, memmap: bool = False, gt: bool = False, **options) -> bool:
    """The memory plan of a :func:`fers.detect` call from shapes alone, before any work: True when it
    will be streamed (:mod:`fers.large`), False for the in-memory path; :class:`FersInputError` (one
    line: what needs the memory, what to do) when no path fits the budget of :mod:`fers.budget`.

    ``shape``: the cube's ``(H, W, B)``; ``resident``: bytes of it already in memory; ``memmap``: the
    cube is a memory map; ``gt``: a ground truth is given; ``options``: as :func:`fers.detect`'s (or
    ``options=DetectOptions``)."""
    opts = options.pop("options", None) or DetectOptions()
    opts = opts.with_(**options) if options else opts
    backend = resolve_backend(opts.backend, opts.weights)
    fixed = _weights_bands(opts.weights) if opts.weights else None
    return _choose_path(tuple(int(s) for s in shape), int(resident), memmap, gt, parse_band_spec(opts.bands), fixed,
                        opts, backend, opts.wanted())


def _choose_path(shape, resident, mapped, gt, spec, fixed, opts: DetectOptions, backend, wanted) -> bool:
    h, w, b = shape
    det = get(opts.detector)
    _, n, copies = planned_bands(spec, b, fixed, opts.adapter)
    models = _needs_model(wanted) and spec.kind != "all" and model_available(n, backend, opts.weights)
    full = (spec.kind == "auto" and n != b) or (
        gt and spec.kind not in ("all", "auto") and det.reference and h * w <= RX_ALL_BANDS_MAX_PIXELS)
    full_rx = b if full else 0
    p = h * w
    req = budget.Request(height=h, width=w, bands=b, n=n, copy=copies, models=models, resident=resident,
                         n_maps=len(wanted), gt=gt, full_rx=full_rx, backend=backend,
                         torch=(models and backend == "torch") or det.needs_torch,
                         work=det.work(p, n, h), full_work=det.work(p, full_rx, h) if full_rx else 0,
                         state=det.state(max(n, full_rx)), streamable=det.streamable)
    rx_only = replace(req, n=b, copy=False, models=False, full_rx=0, torch=det.needs_torch, n_maps=1,
                      work=det.work(p, b, h), full_work=0, state=det.state(b))
    return budget.choose_path(req, large=_large_shape(shape, mapped) and det.streamable, rx_only=rx_only)


def check_file_request(path, key=None, gt_path=None, gt_key=None, mmap: bool = False, **options) -> None:
    """Refuse a detection request on a file from its headers alone (:mod:`fers.io.peek`), before it is
    decoded: a reader that decodes the whole file (compressed TIFF, ``.mat``, a ``.npy`` read without
    ``mmap``) must fit the memory budget, and so must :func:`plan_request` of the cube's shape.
    ``options``: as for :func:`plan_request`. Headers that cannot be read are left to the readers,
    which say what is wrong."""
    from fers.io.peek import peek_cube, peek_gt

    head = peek_cube(path, key)
    if head is None:
        return
    if head.problem:
        raise FersInputError(head.problem, path)
    mapped = mmap and head.mappable
    if not mapped:  # decoded whole, then converted to float32 (a .mat also holds its compressed bytes)
        extra = head.values * 4 + (Path(path).stat().st_size if head.fmt == "mat" else 0)
        budget.check_decode(head.values, head.itemsize, extra + head.aux_bytes, path)
    elif head.aux_bytes:  # a GLT is decoded whole whatever the cube's path
        budget.check_decode(head.aux_bytes // 8, 8, 0, path, "its GLT grid")
    if gt_path is not None and (g := peek_gt(gt_path, gt_key)) is not None:
        budget.check_decode(g.values, g.itemsize, g.values, gt_path, "ground truth")
    shape = head.hwb()
    try:
        plan_request(shape, 0 if mapped else shape[0] * shape[1] * shape[2] * 4, mapped,
                     gt_path is not None or head.fmt == "mat", **options)
    except FersError as e:
        raise with_path(e, path) from None


def _weights_bands(weights) -> int:
    """Band count of a user checkpoint (read from its config)."""
    from fers.models.checkpoint import checkpoint_bands

    return checkpoint_bands(weights)


def _refuse_large(shape, det: Detector) -> None:
    """Detectors that are not streamed (local RX: one factorisation per pixel and window; the AE:
    full-batch training on the whole in-memory scene) are refused on large scenes with a one-line hint."""
    h, w = shape[:2]
    if not det.streamable and h * w >= memmap.LARGE_PIXELS:
        from fers.detectors import names

        streamed = " or ".join(f"--detector {n}" for n in names() if get(n).streamable)
        raise FersInputError(f"{det.title} is not supported on large scenes ({h}x{w} = {h * w} pixels, limit "
                             f"{memmap.LARGE_PIXELS - 1}); crop the cube to a region of interest, or use {streamed}")
