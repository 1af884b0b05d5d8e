"""From a :class:`fers.pipeline.DetectResult` to what the page shows: map figures, the AUC and timing
tables, the ROC plot, the downloads (.npz of all score maps, .csv of the table, the GeoTIFF of the maps and the
GeoJSON of the mask's objects) and the API's JSON.

Score maps are ``(H, W)``; ``gt`` is ``(H, W)`` bool or None.
"""

from __future__ import annotations

import csv
import json
import logging
import math

import numpy as np

import fers.ui.plots as plots
from fers import methods as M
from fers.detectors import DEFAULT_DETECTOR, get
from fers.outputs import MASK_RULE
from fers.ui.tempdirs import new_run_dir, prune_runs

log = logging.getLogger("fers.app")

# The four map slots of the page: (slot title, method names that can fill it, in order of preference).
SLOTS = (
    ("RX (original)", ("rx",)),
    ("FERD (spectral)", ("spectral",)),
    ("Spatial", ("spatial",)),
    ("Fused", None),  # filled with the chosen fusion method
)
AUC3D_LABELS = {"auc_pd_tau": "AUC(D,tau)", "auc_pf_tau": "AUC(F,tau)", "auc_td": "AUC_TD", "auc_bs": "AUC_BS",
                "auc_snpr": "AUC_SNPR", "auc_tdbs": "AUC_TDBS", "auc_odp": "AUC_ODP"}
DEFAULT_CHOICE = "default (measured)"
# fusion radio: label -> method name (None: resolved per run by default_method / the paper's rule)
FUSION_CHOICES = {DEFAULT_CHOICE: None, M.PAPER_DEFAULT: None,
                  **{M.BY_NAME[m].short: m for m in M.FUSIONS}}


def fused_method(choice: str | None, result) -> str:
    """Method name shown in the fused slot for a fusion ``choice`` (a label of :data:`FUSION_CHOICES`
    or a method name): the measured default, the paper's rule (A for 50 bands, B otherwise), or a fusion."""
    choice = choice or DEFAULT_CHOICE
    if choice in M.FUSIONS:
        return choice
    if choice == M.PAPER_DEFAULT:
        return M.paper_default_fusion(int(result.model_bands)) if result.model_bands else "fusion_add"
    return FUSION_CHOICES.get(choice) or result.default_method


def as_shown(result, method: str):
    """``result`` with the map the page shows in the fused slot as its default map, so the downloads
    (the GeoTIFF's mask band, the GeoJSON objects, the ``.npz`` metadata) follow the chosen fusion."""
    from dataclasses import replace

    return replace(result, default_method=method) if method in result.maps else result


def _num(v):
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def auc_rows(result, digits: int | None = 4, describe: bool = False) -> tuple[list[str], list[list]]:
    """``(headers, rows)``: one row per method with its AUC(D,F) and every 3-D ROC area
    (rounded to ``digits`` for display; ``None`` keeps full precision for the CSV, which also gets
    a ``description`` column when ``describe``)."""
    aucs = getattr(result, "auc", None) or {}
    auc3d = getattr(result, "auc3d", None) or {}
    extra = []
    for d in auc3d.values():
        for k in (d or {}):
            if k not in extra and k != "auc_pd_pf":  # the same number as AUC(D,F)
                extra.append(k)
    headers = ["method"] + (["description"] if describe else []) + ["AUC(D,F)"]
    headers += [AUC3D_LABELS.get(k, str(k)) for k in extra]
    rows = []
    for name in result.maps:
        row = [name] + ([_title(name)] if describe else []) + [_round(aucs.get(name), digits)]
        row += [_round((auc3d.get(name) or {}).get(k), digits) for k in extra]
        rows.append(row)
    return headers, rows


def _title(name: str) -> str:
    return M.BY_NAME[name].title if name in M.BY_NAME else name


def _round(v, nd=4):
    f = _num(v)
    return f if f is None or nd is None else round(f, nd)


def timing_rows(result, digits: int | None = 3) -> list[list]:
    """``[[stage, seconds], ...]`` from ``result.seconds`` (plus a total)."""
    secs = getattr(result, "seconds", None) or {}
    rows = [[str(k), _round(v, digits)] for k, v in secs.items()]
    if secs and "total" not in secs:
        rows.append(["total", _round(sum(_num(v) or 0.0 for v in secs.values()), digits)])
    return rows


def map_images(result, gt, fusion_name: str, unavailable_note: str) -> list[np.ndarray]:
    """Four RGB images for the slots: RX, spectral, spatial, fused (placeholders say why a map is missing).
    With another detector than the default every title names it."""
    aucs = getattr(result, "auc", None) or {}
    detector = getattr(result, "detector", DEFAULT_DETECTOR)
    tag = "" if detector == DEFAULT_DETECTOR else f" [{get(detector).title}]"
    out = []
    for title, names in SLOTS:
        names = names or (fusion_name,)
        name = next((n for n in names if n in result.maps), None)
        if name is None:
            fig = plots.placeholder_figure(title + tag, unavailable_note)
        else:
            label = f"Fused: {M.BY_NAME[name].short}" if title == "Fused" and name in M.BY_NAME else title
            fig = plots.score_map_figure(np.asarray(result.maps[name]), label + tag, gt, aucs.get(name))
        out.append(plots.fig_to_rgb(fig))
    return out


def roc_plot(result, gt):
    """ROC curves of every method (None without GT)."""
    if gt is None or not np.any(gt):
        return None
    from fers.metrics import auc as auc_fn
    from fers.metrics import roc_curve_points

    curves = {}
    for name, m in result.maps.items():
        pts = roc_curve_points(np.asarray(m), gt)
        fpr, tpr = pts[0], pts[1]
        a = (getattr(result, "auc", None) or {}).get(name)
        curves[_title(name)] = (fpr, tpr, a if a is not None else auc_fn(m, gt))
    return plots.roc_figure(curves)


MAPS_THRESHOLD = MASK_RULE  # the GeoTIFF's mask band and the GeoJSON objects: the top 0.1 % of the default map


def write_downloads(result, gt, scene_name: str, scene=None) -> list:
    """Write the downloads of a run into a new temp dir (earlier runs' dirs are pruned) and return them
    as :class:`fers.outputs.Written` (``kind``, ``path``, ``note``), in this order:

    * ``<scene>_maps.npz`` (:meth:`fers.result.DetectResult.save_npz`: every map, ``gt``, ``meta``);
    * ``<scene>_results.csv`` (full-precision AUC table, then the timing table);
    * with ``scene`` (the loaded :class:`fers.io.cube.Scene`), through :func:`fers.outputs.save_outputs`
      as ``fers detect --out`` writes them: ``<scene>_maps.tif`` (one band per map plus the
      :data:`MAPS_THRESHOLD` mask band, georeferenced like the input, EMIT placed on its GLT map grid)
      and ``<scene>_objects.geojson`` (the mask's objects as polygons). A problem there is logged and
      reported as a ``"skipped"`` entry (no path), so the ``.npz`` and ``.csv`` still come.
    """
    from fers.outputs import Written, save_outputs

    headers, rows = auc_rows(result, digits=None, describe=True)
    timing = timing_rows(result, digits=None)
    prune_runs("downloads")  # earlier runs' files: Gradio copied them into its cache when it answered
    out = new_run_dir("downloads")
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in scene_name) or "scene"
    npz = result.save_npz(out / f"{safe}_maps.npz", gt=gt)
    csv_path = out / f"{safe}_results.csv"
    with open(csv_path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(headers)
        w.writerows(rows)
        w.writerow([])
        w.writerow(["stage", "seconds"])
        w.writerows(timing)
    written = [Written("npz", npz, "every map, gt and meta"), Written("csv", csv_path, "AUC and timing tables")]
    if scene is not None:
        try:
            written += save_outputs(result, scene, [out / f"{safe}_maps.tif", out / f"{safe}_objects.geojson"],
                                    threshold=MAPS_THRESHOLD, ortho=True, gt=gt)
        except Exception as e:  # the maps are there; a GeoTIFF problem must not hide them
            log.warning("GeoTIFF / GeoJSON download not written: %s", e)
            written.append(Written("skipped", None, f"GeoTIFF and GeoJSON not written ({' '.join(str(e).split())})"))
    return written


def georef_phrase(note: str) -> str:
    """From a GeoTIFF's :attr:`fers.outputs.Written.note`: whether it carries map coordinates."""
    return "plain TIFF, no georeference" if "plain TIFF" in note else "georeferenced like the input"


def downloads_label(written) -> str:
    """The downloads box's label: what each file is."""
    what = {"npz": "score maps (.npz)", "csv": "result table (.csv)", "geojson": "mask objects (.geojson)"}
    parts = [f"GeoTIFF of the maps + {MAPS_THRESHOLD} mask ({georef_phrase(w.note)})" if w.kind == "geotiff"
             else what.get(w.kind, "") for w in written if w.path is not None]
    return "Downloads: " + ", ".join(p for p in parts if p)


def describe_written(w) -> str | None:
    """One phrase on a GeoTIFF or GeoJSON download for the status text (its note: georeference, mask
    threshold, object count), or None for the ``.npz`` / ``.csv`` (the box's label says what they are)."""
    note = w.note
    if w.path is None:
        return note
    if w.kind == "geotiff":
        phrase = georef_phrase(note)
        if phrase != "plain TIFF, no georeference":
            note = note.replace("georeferenced", phrase, 1) if note.startswith("georeferenced") else f"{phrase}: {note}"
        return f"GeoTIFF: {note}"
    return f"GeoJSON: {note}" if w.kind == "geojson" else None


def summary_json(result, fusion_choice: str | None) -> dict:
    """The ``/detect`` API's answer: :meth:`fers.result.DetectResult.to_dict` (the CLI's ``--json``)
    plus the fusion asked for and the method shown in the fused slot."""
    out = result.to_dict()
    fused = fused_method(fusion_choice, result)
    out.update(fusion=fusion_choice or DEFAULT_CHOICE, fused_method=fused if fused in result.maps else None)
    json.dumps(out)  # must be plain JSON
    return out
