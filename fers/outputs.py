"""Writing a detection result to the files a user asked for, chosen by extension.

``save_outputs(result, scene, paths)``: ``.tif``/``.tiff`` -> a multi-band GeoTIFF of every map plus a
threshold mask band (:func:`fers.io.maps_out.write_maps_tiff`, georeferenced like the input),
``.geojson`` -> the mask's objects as polygons (:func:`fers.io.vectors.mask_polygons`), anything else
-> the ``.npz`` of :meth:`fers.result.DetectResult.save_npz`. The CLI (``detect --out``), ``batch``
and the app all write through here, so a map means the same file everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fers.errors import FersInputError

TIFF_EXTS = (".tif", ".tiff")
GEOJSON_EXTS = (".geojson",)


@dataclass
class Written:
    """One output file: ``kind`` (``npz``, ``geotiff``, ``geojson``), ``path``, ``note`` (one line
    for the user: georeference, threshold, object count)."""

    kind: str
    path: Path
    note: str = ""


def output_kind(path) -> str:
    ext = Path(path).suffix.lower()
    return "geotiff" if ext in TIFF_EXTS else "geojson" if ext in GEOJSON_EXTS else "npz"


def check_outputs(paths, threshold="p99.9"):
    """Refuse, before any work, output paths that cannot be written (a folder, a missing or read-only
    folder, the same file twice) and a threshold that does not parse; one line each. Returns the
    parsed threshold (:class:`fers.io.maps_out.Threshold`)."""
    from fers.io.maps_out import parse_threshold, writable_path

    rule = parse_threshold(threshold)
    if len({str(Path(p).expanduser().resolve()) for p in paths}) != len(paths):
        raise FersInputError("the same output file is given twice")
    for p in paths:
        writable_path(p)
    return rule


def result_tags(result) -> dict:
    """Dataset tags for a GeoTIFF: the scene, bands, backend, default map and AUCs."""
    d = result.to_dict()
    tags = {k: str(d[k]) for k in ("name", "bands", "band_adapter", "backend", "detector", "weights",
                                    "default_method") if d.get(k) not in (None, "")}
    if d.get("auc"):
        tags.update({f"auc_{m}": f"{v:.6f}" for m, v in d["auc"].items() if v is not None})
    return tags


def save_outputs(result, scene, paths, threshold="p99.9", ortho: bool = True, gt=None) -> list[Written]:
    """Write ``result`` (a :class:`fers.result.DetectResult` of ``scene``) to each of ``paths`` by
    extension (module docstring). ``threshold``: the mask rule (``p99.9`` = the top 0.1 % of the
    default map's valid scores, or a score); ``ortho``: place GLT (EMIT) products on their map grid.
    ``gt``: the ground truth stored in an ``.npz`` (default ``scene.gt``)."""
    rule = check_outputs(paths, threshold)
    kinds = [output_kind(p) for p in paths]
    out, tiff = [], None
    for path, kind in zip(paths, kinds):
        if kind == "npz":
            p = result.save_npz(path, gt=scene.gt if gt is None else gt)
            out.append(Written("npz", p, "every map, gt and meta (docs/formats.md)"))
        elif kind == "geotiff":
            tiff = _write_tiff(result, scene, path, rule, ortho)
            out.append(Written("geotiff", tiff.path, tiff.note))
    for path, kind in zip(paths, kinds):
        if kind == "geojson":
            out.append(_write_geojson(result, scene, path, rule, ortho, tiff))
    return out


def _write_tiff(result, scene, path, rule, ortho):
    from fers.io.maps_out import write_maps_tiff

    return write_maps_tiff(path, result.maps, scene.georef, result.default_method, threshold=rule, ortho=ortho,
                           tags=result_tags(result))


def _write_geojson(result, scene, path, rule, ortho, tiff) -> Written:
    """Objects of the default map above the threshold (the GeoTIFF's mask band when one was written),
    on the map grid the GeoTIFF uses."""
    from fers.io.maps_out import orthorectify
    from fers.io.vectors import mask_polygons, write_geojson

    score = np.asarray(result.maps[result.default_method], dtype=np.float64)
    thr = tiff.threshold if tiff is not None else rule.value(score)
    g = scene.georef
    transform = crs = None
    if g is not None and g.glt is not None and ortho:
        score, transform, crs = orthorectify(score, g.glt), g.transform, g.crs
    elif g is not None and g.on_cube_grid:
        transform, crs = g.transform, g.crs
    fc = mask_polygons(score, thr, transform, crs=crs)
    p = write_geojson(path, fc)
    where = "map coordinates" if transform is not None else "pixel coordinates (no georeference)"
    return Written("geojson", p, f"{len(fc['features'])} object(s) of {result.default_method} >= {thr:.6g} "
                                 f"({rule.text}), {where}")
