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
