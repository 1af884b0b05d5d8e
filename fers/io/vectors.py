"""Detected objects as GeoJSON polygons.

:func:`mask_polygons` labels the connected pixels (8-connectivity) of ``score >= threshold`` and
outlines each object with pixel-edge polygons (GDAL polygonize through ``rasterio.features.shapes``;
an object whose pixels touch only at corners becomes a MultiPolygon, so every geometry is valid).

Coordinates: with a transform and a CRS they are reprojected to WGS84 longitude/latitude, as RFC 7946
requires (exact at every vertex; areas are still measured in the source CRS); with a transform but
no CRS they stay in the transform's units; without a transform they are pixel ``(col, row)``
corners. The collection's ``properties`` say which. At most ``max_objects`` objects are kept (highest
``max_score`` first) so that a low threshold cannot produce an unbounded file.

For swath products with a GLT, orthorectify the score map first
(:func:`fers.io.maps_out.orthorectify`) and pass the ortho grid's transform.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
from scipy import ndimage

from fers.errors import FersInputError
from fers.io.maps_out import rasterio_module, temp_sibling, writable_path

MAX_OBJECTS = 10_000
_M_PER_DEG = math.pi / 180 * 6_371_008.8  # metres per degree on the mean-radius sphere
_EIGHT = np.ones((3, 3), dtype=bool)


def mask_polygons(score: np.ndarray, threshold: float, transform=None, min_pixels: int = 1,
                  crs=None, max_objects: int = MAX_OBJECTS) -> dict:
    """GeoJSON FeatureCollection of the objects in ``score >= threshold``.

    ``score``: ``(H, W)`` float map, NaN = no data (never part of an object). ``transform``: the
    map grid's affine ``(a, b, c, d, e, f)`` (rasterio order) or None for pixel coordinates.
    ``crs``: WKT / ``EPSG:n`` / rasterio CRS of that grid, or None. Objects smaller than
    ``min_pixels`` are dropped. Each feature's properties: ``id`` (1 = highest score),
    ``max_score``, ``mean_score``, ``pixels``, ``area`` (CRS units squared, pixels without a
    transform), ``centroid_row`` / ``centroid_col`` (grid pixel indices, pixel centres at integers),
    ``centroid_x`` / ``centroid_y`` (in the output coordinates) and, on a longitude/latitude grid,
    ``area_m2`` (spherical approximation)."""
    rasterio = rasterio_module()
    score = np.asarray(score, dtype=np.float64)
    if score.ndim != 2:
        raise FersInputError(f"mask_polygons needs an (H, W) score map, got shape {score.shape}")
    thr = float(threshold)
    labels, pixels, keep, maxs, found = _objects(score, thr, min_pixels, max_objects)
    space = _space(rasterio, transform, crs)
    ranked = _ranked(labels, keep)
    geoms, centers, cents = _geometries(score, ranked, keep.size, space)
    features = []
    for k, (geom, center) in enumerate(zip(geoms, centers)):
        npix = int(pixels[keep[k] - 1])
        r, c = cents[k]
        props = {"id": k + 1, "max_score": float(maxs[k]), "mean_score": float(center["mean"]),
                 "pixels": npix, "area": float(npix * space["pixel_area"]) if transform is not None else npix,
                 "centroid_row": round(float(r), 3), "centroid_col": round(float(c), 3),
                 "centroid_x": float(center["coordinates"][0]), "centroid_y": float(center["coordinates"][1])}
        if space["geographic"]:  # degrees^2 -> m^2 at the object's latitude (spherical Earth)
            props["area_m2"] = float(npix * space["pixel_area"] * math.cos(math.radians(center["native_y"]))
                                     * _M_PER_DEG**2)
        features.append({"type": "Feature", "id": k + 1, "geometry": geom, "properties": props})
    meta = {"threshold": thr, "objects_found": found, "objects_written": len(features),
            "truncated": found > len(features), "max_objects": int(max_objects),
            "min_pixels": int(min_pixels), "connectivity": 8, "coordinates": space["coords"],
            "area_unit": space["unit"]}
    if space["src_crs"] is not None:
        meta["source_crs"] = space["src_crs"].to_string()
    if meta["truncated"]:
        meta["note"] = f"only the {len(features)} highest-scoring of {found} objects are written"
    return {"type": "FeatureCollection", "properties": meta, "features": features}


def _objects(score: np.ndarray, thr: float, min_pixels: int, max_objects: int):
    """Connected objects (8-connectivity) of ``score (H, W) >= thr``: ``(labels (H, W), pixels per
    label (n,), kept labels (k,) by falling maximum, their maxima (k,), objects found)``."""
    labels, n = ndimage.label(score >= thr, structure=_EIGHT)
    ids = np.arange(1, n + 1)
    pixels = np.bincount(labels.ravel(), minlength=n + 1)[1:]
    keep = ids[pixels >= max(int(min_pixels), 1)]
    maxs = np.asarray(ndimage.maximum(score, labels, keep)) if keep.size else np.zeros(0)
    order = np.argsort(-maxs, kind="stable")
    return labels, pixels, keep[order][:max_objects], maxs[order][:max_objects], int(keep.size)


def _space(rasterio, transform, crs) -> dict:
    """The output coordinates: ``aff`` (pixel -> map), ``src_crs`` (or None), ``to_wgs84``,
    ``geographic``, ``pixel_area``, and the words ``coords`` / ``unit`` for the collection."""
    from rasterio.crs import CRS

    aff = rasterio.Affine(*transform[:6]) if transform is not None else rasterio.Affine.identity()
    try:
        src_crs = CRS.from_user_input(crs) if (crs is not None and transform is not None) else None
    except (rasterio.errors.CRSError, ValueError) as e:
        raise FersInputError(f"CRS {str(crs)[:40]!r} is not understood: {e}") from None
    if transform is None:
        coords, unit = "pixel (col, row) corners, rows down", "pixel"
    elif src_crs is None:
        coords, unit = "the transform's map units (CRS unknown)", "map unit^2"
    else:
        coords = "WGS84 longitude/latitude (EPSG:4326)"
        unit = f"{src_crs.linear_units or 'unit'}^2" if not src_crs.is_geographic else "degree^2"
    return {"aff": aff, "src_crs": src_crs, "to_wgs84": src_crs is not None and src_crs.to_epsg() != 4326,
            "geographic": src_crs is not None and src_crs.is_geographic,
            "pixel_area": abs(aff.a * aff.e - aff.b * aff.d), "coords": coords, "unit": unit}


def _ranked(labels: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """``labels (H, W)`` with the kept objects relabelled 1..k by rank, everything else 0."""
    rank = np.zeros(int(labels.max(initial=0)) + 1, dtype=np.int32)
    rank[keep] = np.arange(1, keep.size + 1, dtype=np.int32)
    return rank[labels]


def _geometries(score: np.ndarray, ranked: np.ndarray, k: int, space: dict):
    """``(geometries, centres, centroids)`` of the ``k`` ranked objects: pixel-edge (Multi)Polygons and
    centre Points in the output coordinates (each centre also carries the object's ``mean`` score and
    ``native_y``, its y before reprojection), and ``(row, col)`` centroids."""
    from rasterio.features import shapes
    from rasterio.warp import transform_geom

    aff = space["aff"]
    parts: dict = {}
    if k:
        for geom, value in shapes(ranked, mask=ranked > 0, connectivity=4, transform=aff):
            parts.setdefault(int(value), []).append(geom["coordinates"])
    index = np.arange(1, k + 1)
    means = ndimage.mean(score, ranked, index) if k else []
    cents = ndimage.center_of_mass(np.ones_like(score), ranked, index) if k else []
    geoms, centers = [], []
    for i in range(k):
        polys = parts.get(i + 1, [])
        geoms.append({"type": "Polygon", "coordinates": polys[0]} if len(polys) == 1
                     else {"type": "MultiPolygon", "coordinates": polys})
        r, c = cents[i]
        centers.append({"type": "Point", "coordinates": aff @ (c + 0.5, r + 0.5)})
    native_y = [pt["coordinates"][1] for pt in centers]
    if space["to_wgs84"] and geoms:  # one call each: per-geometry calls cost more than the polygonizing
        geoms = list(transform_geom(space["src_crs"], "EPSG:4326", geoms))
        centers = list(transform_geom(space["src_crs"], "EPSG:4326", centers))
    centers = [{"coordinates": pt["coordinates"], "mean": means[i], "native_y": native_y[i]}
               for i, pt in enumerate(centers)]
    return geoms, centers, cents


def write_geojson(path, fc: dict) -> Path:
    """Write the FeatureCollection ``fc`` to ``path`` atomically (temp name in the same folder, then
    rename). A folder or unwritable path: one-line :class:`FersInputError`."""
    target = writable_path(path)
    tmp = temp_sibling(target)
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(fc, f, allow_nan=False, separators=(",", ":"))
            f.write("\n")
        os.replace(tmp, target)
    except (OSError, ValueError) as e:
        raise FersInputError(f"cannot write GeoJSON: {e}", target) from None
    finally:
        if tmp.exists():
            tmp.unlink()
    return target
