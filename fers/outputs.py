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

from fers.errors import FersError, FersInputError, FersResourceError
from fers.io.formats import OUTPUT_EXTS

MASK_RULE = "p99.9"  # the default mask of GeoTIFF/GeoJSON outputs: the top 0.1 % of valid scores of the default map

TIFF_EXTS = OUTPUT_EXTS["geotiff"]
GEOJSON_EXTS = OUTPUT_EXTS["geojson"]


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


def target_path(path) -> Path:
    """The file an output path names: ``.npz`` is appended to an ``.npz`` output without it (as
    :meth:`fers.result.DetectResult.save_npz` does), so ``out/dup`` and ``out/dup.npz`` are one file."""
    p = Path(path).expanduser()
    if output_kind(p) == "npz" and p.suffix.lower() != ".npz":
        p = p.with_name(p.name + ".npz")
    return p


def check_outputs(paths, threshold=MASK_RULE):
    """Refuse, before any work, output paths that cannot be written (a folder, a missing or read-only
    folder, a name too long for the file system, the same file twice -- ``out/x`` and ``out/x.npz``
    included) and a threshold that does not parse; one line each. Returns the parsed threshold
    (:class:`fers.io.maps_out.Threshold`)."""
    from fers.io.atomic import name_too_long
    from fers.io.maps_out import parse_threshold, writable_path

    rule = parse_threshold(threshold)
    seen: dict = {}
    for p in paths:
        t = target_path(p)
        problem = name_too_long(Path(p).expanduser()) or name_too_long(t)
        if problem:
            raise FersInputError(problem, p)
        if Path(p).expanduser().is_dir():
            raise FersInputError("is a folder, not a file name", p)
        key = str(t.resolve())
        if key in seen:
            raise FersInputError(f"the same output file is given twice ({seen[key]} and {p})", t)
        seen[key] = p
        writable_path(t)
    return rule


def result_tags(result) -> dict:
    """Dataset tags for a GeoTIFF: the scene, bands, backend, default map and AUCs."""
    d = result.to_dict()
    tags = {k: str(d[k]) for k in ("name", "bands", "band_adapter", "backend", "detector", "weights",
                                    "default_method") if d.get(k) not in (None, "")}
    if d.get("auc"):
        tags.update({f"auc_{m}": f"{v:.6f}" for m, v in d["auc"].items() if v is not None})
    return tags


def save_outputs(result, scene, paths, threshold=MASK_RULE, ortho: bool = True, gt=None) -> list[Written]:
    """Write ``result`` (a :class:`fers.result.DetectResult` of ``scene``) to each of ``paths`` by
    extension (module docstring). ``threshold``: the mask rule (``p99.9`` = the top 0.1 % of the
    default map's valid scores, or a score); ``ortho``: place GLT (EMIT) products on their map grid.
    ``gt``: the ground truth stored in an ``.npz`` (default ``scene.gt``).

    All or nothing (:mod:`fers.io.atomic`): every file is written to a temporary name in its target
    folder, closed and read back, and only then are they all renamed into place; any write error is
    one :class:`~fers.errors.FersError` line and leaves no file behind."""
    from fers.io.atomic import Staging, check_written

    rule = check_outputs(paths, threshold)
    targets = [target_path(p) for p in paths]
    kinds = [output_kind(p) for p in paths]
    out, tiff = [], None
    with Staging() as staging:
        for target, kind in zip(targets, kinds):
            if kind == "npz":
                tmp = staging.stage(target, ".npz")
                _guarded(lambda: result.save_npz(tmp, gt=scene.gt if gt is None else gt), "npz", target)
                check_written("npz", tmp, target)
                out.append(Written("npz", target, "every map, gt and meta (docs/formats.md)"))
            elif kind == "geotiff":
                tmp = staging.stage(target, target.suffix)
                tiff = _guarded(lambda: _write_tiff(result, scene, tmp, rule, ortho), "GeoTIFF", target)
                check_written("geotiff", tmp, target, bands=len(tiff.bands))
                out.append(Written("geotiff", target, tiff.note))
        for target, kind in zip(targets, kinds):
            if kind == "geojson":
                tmp = staging.stage(target, ".geojson")
                w = _guarded(lambda: _write_geojson(result, scene, tmp, rule, ortho, tiff), "GeoJSON", target)
                check_written("geojson", tmp, target)
                out.append(Written("geojson", target, w.note))
        staging.commit()
    return out


def _guarded(write, what: str, target: Path):
    """``write()``, with any error (a FersError naming the temporary file, an OSError such as a full
    disk, a GDAL error) re-raised as one line naming the ``target``: a FersError keeps its kind, any
    other failure is a :class:`FersResourceError`."""
    try:
        return write()
    except FersError as e:
        msg = str(e)
        if e.path is not None and msg.startswith(f"{e.path}: "):
            msg = msg[len(str(e.path)) + 2 :]  # the temporary name means nothing to the user
        raise type(e)(f"cannot write the {what}: {msg}", target) from None
    except Exception as e:  # noqa: BLE001 - a writer's failure of any kind is one line, never a traceback
        msg = getattr(e, "strerror", None) or " ".join(str(e).split())
        raise FersResourceError(f"cannot write the {what}: {msg}", target) from None


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
