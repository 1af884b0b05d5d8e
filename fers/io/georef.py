"""Georeferencing carried from an input product to the output maps.

:class:`Georef` is what a reader found: a coordinate reference system (WKT) and the affine
geotransform of the cube's pixel grid, or, for swath products such as EMIT, a geometry lookup
table (GLT) that places sensor pixels on a map grid. The writers of :mod:`fers.io.maps_out` use it
so that an output map overlays its input exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Georef:
    """``crs``: WKT (or an ``EPSG:n`` string) or None. ``transform``: the affine geotransform in
    rasterio order ``(a, b, c, d, e, f)`` (``x = a*col + b*row + c``, ``y = d*col + e*row + f``,
    pixel corners) or None. ``source``: where they came from (shown to the user).

    ``glt``: for swath products, ``(glt_x, glt_y)`` int arrays ``(Ho, Wo)`` of 1-based cube column
    and row numbers (0 = no data); ``crs``/``transform`` then describe that ortho grid, not the
    cube's own pixels (the cube has no geotransform of its own)."""

    crs: str | None
    transform: tuple | None
    source: str = ""
    glt: tuple | None = None

    @property
    def on_cube_grid(self) -> bool:
        """True when ``crs``/``transform`` apply to the cube's pixels as they are."""
        return self.glt is None and self.transform is not None

    def describe(self) -> str:
        if self.glt is not None:
            return f"GLT to a {self.glt[0].shape[0]}x{self.glt[0].shape[1]} map grid ({self.source})"
        return self.source or "georeferenced"


GLT_MAX_RATIO = 16  # a GLT map grid may have at most this many cells per cube pixel


def check_glt_size(shape, rows: int, cols: int) -> str | None:
    """The problem with a GLT map grid of ``shape`` ``(Ho, Wo)`` for a ``rows x cols`` cube, from shapes
    alone (before it is decoded), or None. A real swath's ortho grid is a small multiple of its pixels
    (the swath's rotation and pixel spreading: about 2-3x for EMIT); one over ``GLT_MAX_RATIO`` times the
    cube is not this cube's GLT and would cost memory (two int arrays) and output size out of all
    proportion to the scene."""
    cells = 1
    for s in shape:
        cells *= int(s)
    pixels = max(int(rows) * int(cols), 1)
    if cells > GLT_MAX_RATIO * pixels:
        dims = "x".join(str(int(s)) for s in shape)
        return (f"GLT map grid {dims} has {cells:,} cells, {cells / pixels:,.0f}x the cube's {rows}x{cols} pixels "
                f"(at most {GLT_MAX_RATIO}x is read): it does not belong to this cube")
    return None


def check_glt(glt_x: np.ndarray, glt_y: np.ndarray, rows: int, cols: int) -> str | None:
    """The problem with a GLT for a ``rows x cols`` cube, or None: equal 2-D shapes, integer
    values, 1-based indices within the cube (0 or negative = no data)."""
    if glt_x.shape != glt_y.shape or glt_x.ndim != 2:
        return f"GLT x {glt_x.shape} and y {glt_y.shape} must be 2-D arrays of one shape"
    ok = (glt_x > 0) & (glt_y > 0)
    if not ok.any():
        return "GLT has no valid entry"
    if glt_x[ok].max() > cols or glt_y[ok].max() > rows:
        return f"GLT points beyond the cube's {rows} rows x {cols} columns"
    return None


def gdal_open(path):
    """``rasterio.open(path)`` with GDAL's warnings silenced, or None when GDAL cannot open it."""
    import warnings

    try:
        import rasterio

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return rasterio.open(str(path))
    except Exception:
        return None


def georef_of(ds, rows: int, cols: int, source: str):
    """:class:`~fers.io.georef.Georef` of an open rasterio dataset whose grid is ``rows x cols``;
    None without a projected or geographic CRS or with an identity (i.e. absent) transform."""
    try:
        if (ds.height, ds.width) != (rows, cols) or ds.crs is None or ds.transform.is_identity:
            return None
        if not (ds.crs.is_projected or ds.crs.is_geographic):  # e.g. ENVI "Arbitrary": a local pixel grid
            return None
        return Georef(crs=ds.crs.to_wkt(), transform=tuple(ds.transform)[:6], source=source)
    except Exception:
        return None


def gdal_georef(path, rows: int, cols: int, source: str):
    """Georeference of a raster file as GDAL reads it (ENVI ``map info`` incl. ``rotation``,
    GeoTIFF keys) for a ``rows x cols`` grid, or None; never raises (a cube reads without one)."""
    ds = gdal_open(path)
    if ds is None:
        return None
    with ds:
        return georef_of(ds, rows, cols, source)


def _crs_name(crs) -> str:
    try:
        return crs.to_string() or crs.name or "its CRS"
    except Exception:  # noqa: BLE001 - a name for a message only
        return "its CRS"


def check_georef(g: Georef, rows: int, cols: int) -> tuple[Georef | None, str]:
    """``(georef, "")`` when ``g`` is usable for a ``rows x cols`` cube, else ``(None, why)``.

    Usable: a finite, non-degenerate geotransform; a CRS that GDAL/PROJ understand and that is
    projected or geographic; and the grid's corners (the cube's, or the GLT's map grid) on Earth --
    within longitude/latitude bounds for a geographic CRS, transformable to longitude/latitude for a
    projected one. This catches an ENVI ``map info`` with an invalid UTM zone (GDAL then falls back
    to EPSG:4326 and metre coordinates become degrees) and junk ``spatial_ref`` / EPSG codes, when
    the file is read instead of after the detection."""
    t = None
    if g.transform is not None:
        t = np.asarray(g.transform[:6], dtype=np.float64)
        if t.size != 6 or not np.all(np.isfinite(t)) or t[0] * t[4] - t[1] * t[3] == 0:
            return None, "its geotransform is not finite or is degenerate"
    if g.crs is None:
        return g, ""
    try:
        from rasterio.crs import CRS

        crs = CRS.from_user_input(g.crs)
    except Exception as e:  # noqa: BLE001 - any parse failure means the CRS cannot be used
        msg = " ".join(str(e).split())[:120]
        return None, f"its CRS is not understood ({msg})"
    if not (crs.is_projected or crs.is_geographic):
        return None, f"its CRS {_crs_name(crs)} is neither projected nor geographic"
    if t is None:
        return g, ""
    h, w = (np.shape(g.glt[0]) if g.glt is not None else (rows, cols))
    c = np.array([0, w, 0, w], dtype=np.float64)
    r = np.array([0, 0, h, h], dtype=np.float64)
    xs, ys = t[0] * c + t[1] * r + t[2], t[3] * c + t[4] * r + t[5]
    where = f"x {xs.min():.6g}..{xs.max():.6g}, y {ys.min():.6g}..{ys.max():.6g}"
    if crs.is_geographic:
        lon, lat = xs, ys
    else:
        try:
            from rasterio.warp import transform as warp

            lon, lat = (np.asarray(v, dtype=np.float64) for v in warp(crs, "EPSG:4326", xs.tolist(), ys.tolist()))
        except Exception:  # noqa: BLE001
            return None, f"its corners ({where}) cannot be placed on Earth in {_crs_name(crs)}"
    if not (np.all(np.isfinite(lon)) and np.all(np.isfinite(lat)) and np.all(np.abs(lat) <= 90.0)
            and np.all(np.abs(lon) <= 540.0)):
        return None, f"its corners ({where}) are not on Earth in {_crs_name(crs)}"
    return g, ""
