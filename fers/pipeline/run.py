"""``detect``: a cube in, every method's map out (paper eq. 17-23), as named steps.

plan (:mod:`fers.pipeline.plan`) -> prepare -> enhance -> score -> fuse (:mod:`fers.pipeline.steps`,
:func:`fers.methods.combine`) -> finish (masked maps, the result, AUCs).
"""

from __future__ import annotations

import numpy as np

from fers import methods as M
from fers.pipeline import steps
from fers.pipeline.options import DetectOptions
from fers.pipeline.plan import RX_ALL_BANDS_MAX_PIXELS, make_plan
from fers.result import DetectResult


def detect(cube, gt=None, bands=None, *, wavelengths=None, bad_bands=None, options: DetectOptions | None = None,
           **kwargs) -> DetectResult:
    """Run every available method on a cube; with ground truth also their AUCs.

    Parameters
    ----------
    cube : array_like, shape (H, W, B)
        The scene, bands last (any numeric dtype; a ``np.memmap`` of a large scene is streamed).
    gt : array_like, shape (H, W), optional
        Ground truth, nonzero = anomaly. Without anomaly pixels the maps come with ``auc`` None and
        ``auc_note`` saying why.
    bands : str or int, optional
        The band-spec grammar of :mod:`fers.bands.spec` (default ``"auto"``: plain RX on all B bands,
        the models on the cube adapted to the nearest shipped band count; ``N`` runs every method,
        plain RX included, on the adapted cube as the paper's tables do; ``"400-1000nm"`` selects by
        wavelength).
    wavelengths : array_like, shape (B,), optional
        Band centres in nm. With them (or ``bad_bands``) the bands marked bad and the water-vapour
        windows are dropped first, unless ``keep_bad_bands``.
    bad_bands : array_like of bool, shape (B,), optional
        Bands the file marks bad.
    options : DetectOptions, optional
        Every other option in one value; keyword arguments override its fields.
    **kwargs
        The fields of :class:`DetectOptions`: ``backend`` (``auto``, ``onnx``, ``torch``),
        ``detector`` (a name of :func:`fers.detectors.names`) and its options by name (``windows``
        for local RX), ``methods``, ``weights`` (a checkpoint instead of the shipped models),
        ``adapter`` (:data:`fers.bands.ADAPTERS`), ``nodata``, ``keep_bad_bands``, ``name``.

    Returns
    -------
    DetectResult
        One ``(H, W)`` float64 map per method of :data:`fers.methods.TABLE`, the AUCs with ``gt``,
        seconds per stage and structured notes (:class:`fers.notes.Note`) on what was skipped or
        changed.

    Notes
    -----
    No-data: pixels with a NaN/Inf value, or equal to ``nodata``, in a band used are masked (NaN in
    every map, out of the statistics and AUCs, counted in ``masked_pixels``); a band that is no-data
    everywhere is dropped. A cube with no valid pixel, or with one spectrum, is refused. Scenes
    smaller than the networks' 8x8 minimum get the plain detector only. Large scenes (see
    :func:`fers.pipeline.is_large`) are streamed (:mod:`fers.large`) with a detector that streams;
    others are refused there. Model-based methods without a model are skipped, with a note.
    """
    opts = options or DetectOptions()
    if bands is not None:
        kwargs["bands"] = bands
    opts = opts.with_(**kwargs) if kwargs else opts
    cube = cube if isinstance(cube, np.ndarray) else np.asarray(cube)
    clock = steps.Clock()
    with clock("prepare"):
        plan = make_plan(cube, gt, opts, wavelengths, bad_bands)
    clock.notes.extend(plan.notes)
    prep = steps.prepare(cube, plan, wavelengths, clock)
    enh = steps.load_enhancer(prep, plan, clock)
    f_spe = f_spa = None
    if plan.streamed:
        maps, h, normalized = steps.score_streamed(prep, plan, enh, clock), prep.cube_b, False
    else:
        (maps, h, f_spe, f_spa), normalized = steps.score_in_memory(prep, plan, enh, clock), True
    res = DetectResult(
        maps=steps.masked_maps(maps, prep, clock), auc=None, auc3d=None, seconds=clock.sec, band_adapter=prep.adapted,
        model_bands=prep.model_bands, cube_used=h, notes=clock.notes, detector=opts.detector, backend=plan.backend,
        bands=prep.spec.describe(), cube_used_normalized=normalized, default_method=M.default_method(maps),
        name=opts.name, shape=tuple(prep.cube.shape), weights=str(opts.weights) if opts.weights else "shipped",
        f_spe=f_spe, f_spa=f_spa, masked_pixels=prep.n_invalid, wavelengths_used=prep.wavelengths_used)
    if gt is not None:
        with clock("auc"):
            src = None if plan.streamed and prep.valid is not None else prep.src
            _score(res, src, gt, plan, prep.valid)
    return res


def _score(res: DetectResult, src, gt, plan, valid=None) -> None:
    """AUCs of every map, masked pixels left out (and, for a fixed band spec on small scenes, the
    reference detector's AUC on ``src``, the cube as given with masked pixels filled)."""
    from fers.metrics import auc, auc_3d
    from fers.normalize import normalize_cube

    g = np.asarray(gt) > 0
    gv = g if valid is None else g[valid]
    where = "" if valid is None else " among the pixels with data"
    if not np.any(gv) or np.all(gv):
        res.auc_note = (f"ground truth has no anomaly pixel{where}" if not np.any(gv)
                        else f"ground truth marks every pixel{where}") + "; AUC not available"
        return
    res.auc = {m: auc(s, gt) for m, s in res.maps.items()}
    res.auc3d = {m: auc_3d(s, gt) for m, s in res.maps.items()}
    h, w = g.shape
    if (src is not None and plan.spec.kind not in ("all", "auto") and plan.detector.reference
            and h * w <= RX_ALL_BANDS_MAX_PIXELS):
        ref = steps.scorer(plan, valid)(normalize_cube(src))  # the usual "Original" column of HAD papers
        res.rx_all_bands_auc = auc(ref if valid is None else np.where(valid, ref, np.nan), gt)
