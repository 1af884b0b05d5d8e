"""Score maps to a GeoTIFF that QGIS / GDAL open as they are.

:func:`write_maps_tiff` writes one float32 band per method (description = method name, human title
in the band's tags) and a last ``mask`` band (1 where the mask method's score reaches the threshold,
0 elsewhere, NaN at no-data pixels). NaN is the file's nodata value. The file carries the input's
georeference (:class:`fers.io.georef.Georef`): on the cube grid as it is, or, for swath products
with a GLT, orthorectified onto the GLT's map grid (:func:`orthorectify`). Without a usable
georeference it is a plain TIFF in pixel coordinates, and :attr:`MapsWritten.note` says so.

Layout: DEFLATE with the floating-point predictor, 256x256 tiles; from :data:`COG_MIN_SIDE` pixels
on either side a Cloud-Optimized GeoTIFF (GDAL's ``COG`` driver, 512x512 tiles, internal overviews
made by averaging, so a mask overview holds the flagged fraction). Files are written to a temporary
name in the target folder and renamed, so a reader never sees half a file.

Thresholds (:func:`parse_threshold`): ``pNN.N`` = that percentile of the map's valid scores
(default ``p99.9``: a 0.1 % false-alarm budget on background), or a plain number = absolute score.
"""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fers._version import __version__
from fers.errors import FersInputError
from fers.io.georef import Georef, check_glt

COG_MIN_SIDE = 1024  # either output side at least this: Cloud-Optimized GeoTIFF with overviews
TILE = 256  # GTiff tile side
COG_TILE = 512  # COG tile side (the driver's default)
MASK_BAND = "mask"
_GRAMMAR = "use pNN.N (a percentile of the map's valid scores, e.g. p99.9) or a plain number (a score)"


# ---------------------------------------------------------------------------------------- threshold
@dataclass(frozen=True)
class Threshold:
    """``kind``: ``"percentile"`` (``number`` in [0, 100]) or ``"absolute"`` (``number`` = score)."""

    kind: str
    number: float

    @property
    def text(self) -> str:
        return f"p{self.number:g}" if self.kind == "percentile" else f"{self.number:g}"

    def value(self, score: np.ndarray) -> float:
        """The score threshold for the map ``score`` (any shape; NaN = no data, ignored)."""
        if self.kind == "absolute":
            return float(self.number)
        valid = np.asarray(score, dtype=np.float64)
        valid = valid[np.isfinite(valid)]
        if valid.size == 0:
            raise FersInputError(f"threshold {self.text}: the map has no valid score")
        return float(np.percentile(valid, self.number))

    def describe(self) -> str:
        if self.kind == "absolute":
            return f"score >= {self.number:g}"
        return f"score >= p{self.number:g} ({self.number:g}th percentile of the valid scores)"


def parse_threshold(text) -> Threshold:
    """``"p99.9"`` -> percentile threshold, ``"12.5"`` (or a number) -> absolute; a
    :class:`Threshold` passes through. Anything else: a one-line :class:`FersInputError`."""
    if isinstance(text, Threshold):
        return text
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        if not np.isfinite(text):
            raise FersInputError(f"threshold {text!r} is not finite: {_GRAMMAR}")
        return Threshold("absolute", float(text))
    s = str(text).strip()
    m = re.fullmatch(r"[pP](\d+(?:\.\d*)?|\.\d+)", s)
    if m:
        p = float(m.group(1))
        if not 0 <= p <= 100:
            raise FersInputError(f"threshold {s!r}: a percentile must lie in 0..100")
        return Threshold("percentile", p)
    try:
        v = float(s)
    except ValueError:
        raise FersInputError(f"threshold {s!r} not understood: {_GRAMMAR}") from None
    if not np.isfinite(v):
        raise FersInputError(f"threshold {s!r} is not finite: {_GRAMMAR}")
    return Threshold("absolute", v)


DEFAULT_THRESHOLD = Threshold("percentile", 99.9)


# ------------------------------------------------------------------------------------ orthorectify
def orthorectify(array: np.ndarray, glt) -> np.ndarray:
    """Place a sensor-geometry ``(H, W)`` or ``(H, W, K)`` array on the GLT's map grid:
    ``out[i, j] = array[glt_y[i, j] - 1, glt_x[i, j] - 1]``, NaN where the GLT is 0 (no data).
    ``glt``: ``(glt_x, glt_y)``, int arrays ``(Ho, Wo)`` of 1-based columns / rows.
    Returns ``(Ho, Wo)`` or ``(Ho, Wo, K)``, float (float32 stays float32, others float64)."""
    gx, gy = (np.asarray(g) for g in glt)
    array = np.asarray(array)
    if array.ndim not in (2, 3):
        raise FersInputError(f"orthorectify needs an (H, W) or (H, W, K) array, got shape {array.shape}")
    problem = check_glt(gx, gy, array.shape[0], array.shape[1])
    if problem:
        raise FersInputError(f"{problem} (map is {array.shape[0]}x{array.shape[1]})")
    dtype = np.float32 if array.dtype == np.float32 else np.float64
    out = np.full(gx.shape + array.shape[2:], np.nan, dtype=dtype)
    ok = (gx > 0) & (gy > 0)
    out[ok] = array[gy[ok].astype(np.intp) - 1, gx[ok].astype(np.intp) - 1]
    return out


# ------------------------------------------------------------------------------------------ writer
@dataclass
class MapsWritten:
    """What :func:`write_maps_tiff` wrote. ``threshold``: the score threshold of the mask band;
    ``bands``: band names in order (methods, then ``mask``); ``shape``: ``(rows, cols)`` written;
    ``transform``: the affine tuple written (None for a plain TIFF); ``note``: one line for the user."""

    path: Path
    georeferenced: bool
    orthorectified: bool
    cog: bool
    threshold: float
    threshold_rule: str
    bands: list = field(default_factory=list)
    shape: tuple = ()
    transform: tuple | None = None
    note: str = ""


def rasterio_module():
    """``rasterio`` (with ``rasterio.shutil``), or a one-line error saying how to install it."""
    try:
        import rasterio
        import rasterio.shutil  # noqa: F401  (the COG copy)
    except ImportError:
        raise FersInputError("writing GeoTIFF maps needs rasterio: pip install rasterio") from None
    return rasterio


def writable_path(path) -> Path:
    """``path`` as a Path, refused in one line when it is a folder or its folder is not writable."""
    p = Path(path).expanduser()
    if p.is_dir():
        raise FersInputError("is a folder, not a file name", p)
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise FersInputError(f"folder {parent} does not exist", p)
    if not os.access(parent, os.W_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise FersInputError("not writable", p)
    return p


def temp_sibling(path: Path, suffix: str = ".tmp") -> Path:
    """A fresh hidden name next to ``path`` (same folder, so :func:`os.replace` is atomic; short,
    so a target name near the file system's limit still has one: :func:`fers.io.atomic.temp_name`)."""
    from fers.io.atomic import temp_name

    return temp_name(path, suffix)


def _tag_key(key) -> str:
    return re.sub(r"[\s=]+", "_", str(key).strip()) or "_"


def _check_maps(maps: dict, mask_method: str) -> tuple:
    if not maps:
        raise FersInputError("no score map to write")
    if mask_method not in maps:
        raise FersInputError(f"mask method {mask_method!r} is not among the maps ({', '.join(maps)})")
    shapes = {np.shape(m) for m in maps.values()}
    shape = next(iter(shapes))
    if len(shapes) != 1 or len(shape) != 2:
        raise FersInputError(f"score maps must be 2-D of one shape, got {sorted(shapes)}")
    return shape


def _default_titles(names) -> dict:
    from fers.methods import BY_NAME

    return {n: BY_NAME[n].title if n in BY_NAME else n for n in names}


def _fill(ds, maps: dict, grid, mask_method: str, thr: float, rule: Threshold, titles: dict) -> None:
    """Write the method bands (``grid(map)``: the output-grid ``(rows, cols)`` array) and the mask
    band into the open dataset ``ds``, one band at a time."""
    for i, name in enumerate(maps, start=1):
        ds.write(grid(maps[name]).astype(np.float32), i)
        ds.set_band_description(i, name)
        ds.update_tags(i, method=name, title=str(titles.get(name, name)))
    m = grid(maps[mask_method])
    k = len(maps) + 1
    ds.write(np.where(np.isnan(m), np.nan, m >= thr).astype(np.float32), k)
    ds.set_band_description(k, f"mask: {mask_method} >= {thr:.6g} ({rule.text})")
    ds.update_tags(k, method=MASK_BAND, title=f"{titles.get(mask_method, mask_method)}: {rule.describe()}",
                   mask_method=mask_method, threshold=f"{thr:.9g}", threshold_rule=rule.text)


@dataclass(frozen=True)
class _Grid:
    """Where the maps go: through the GLT (``use_glt``) or not, the output ``shape (rows, cols)``,
    the affine ``transform`` (rasterio order) and ``crs`` (None when unknown)."""

    use_glt: bool
    shape: tuple
    transform: tuple | None
    crs: object | None


def _grid(georef: Georef | None, rows: int, cols: int, ortho: bool, target) -> _Grid:
    """The output grid of ``(rows, cols)`` cube-grid maps under ``georef`` (a GLT is used when ``ortho``)."""
    use_glt = georef is not None and georef.glt is not None and ortho
    out_shape = (rows, cols)
    if use_glt:
        problem = check_glt(np.asarray(georef.glt[0]), np.asarray(georef.glt[1]), rows, cols)
        if problem:
            raise FersInputError(f"maps ({rows}x{cols}) do not fit the georeference's GLT: {problem}", target)
        out_shape = tuple(np.shape(georef.glt[0]))
    transform = None
    if georef is not None and georef.transform is not None and (georef.glt is None or use_glt):
        transform = tuple(float(v) for v in georef.transform[:6])
    return _Grid(use_glt, out_shape, transform, georef.crs if transform is not None else None)


def _grid_note(georef: Georef | None, g: _Grid, cog: bool) -> str:
    """One line for the user on the output's georeference."""
    if georef is None:
        note = "no georeference in the input: plain TIFF (pixel coordinates)"
    elif georef.glt is not None and not g.use_glt:
        note = "kept in sensor geometry (no orthorectification): plain TIFF (pixel coordinates)"
    elif g.transform is None:
        note = f"the input's georeference ({georef.describe()}) has no geotransform: plain TIFF (pixel coordinates)"
    elif g.use_glt:
        note = f"orthorectified through the GLT onto a {g.shape[0]}x{g.shape[1]} map grid ({georef.source or 'GLT'})"
    else:
        note = f"georeferenced ({georef.source})" if georef.source else "georeferenced"
    if g.transform is not None and g.crs is None:
        note += "; no CRS known (geotransform only)"
    return note + ("; Cloud-Optimized GeoTIFF with overviews" if cog else "")


def _profile(rio, g: _Grid, count: int, target) -> dict:
    """The rasterio creation profile: tiled float32, deflate, NaN no-data, ``count`` bands."""
    profile = dict(driver="GTiff", width=g.shape[1], height=g.shape[0], count=count,
                   dtype="float32", nodata=np.nan, tiled=True, blockxsize=TILE, blockysize=TILE,
                   compress="deflate", predictor=3, interleave="band", photometric="MINISBLACK")
    if g.transform is not None:
        profile["transform"] = rio.Affine(*g.transform)
    if g.crs:
        try:
            profile["crs"] = rio.crs.CRS.from_user_input(g.crs)
        except (rio.errors.CRSError, ValueError) as e:
            raise FersInputError(f"the georeference's CRS is not understood: {e}", target) from None
    return profile


def _write_staged(rio, target: Path, profile: dict, cog: bool, fill) -> None:
    """Write through a temporary name beside ``target`` (``fill(ds)`` writes the bands and tags), copy
    to a COG when ``cog``, then rename onto ``target``; temporary files never stay behind."""
    stage = temp_sibling(target, ".tif")
    final = temp_sibling(target, ".tif") if cog else stage
    try:
        with warnings.catch_warnings(), rio.Env(GDAL_PAM_ENABLED="NO"):  # no .aux.xml beside temp names
            warnings.simplefilter("ignore", rio.errors.NotGeoreferencedWarning)  # a plain TIFF is meant
            with rio.open(stage, "w", **profile) as ds:
                fill(ds)
            if cog:
                rio.shutil.copy(stage, final, driver="COG", COMPRESS="DEFLATE", PREDICTOR="YES",
                                BLOCKSIZE=COG_TILE, OVERVIEWS="AUTO", RESAMPLING="AVERAGE")
        os.replace(final, target)
    except (rio.errors.RasterioError, OSError) as e:
        raise FersInputError(f"cannot write the GeoTIFF: {e}", target) from None
    finally:
        for p in {stage, final}:
            if p.exists():
                p.unlink()


def write_maps_tiff(path, maps: dict, georef: Georef | None, mask_method: str,
                    threshold=DEFAULT_THRESHOLD, ortho: bool = True, tags: dict | None = None,
                    titles: dict | None = None) -> MapsWritten:
    """Write ``maps`` (method -> ``(H, W)`` score map on the cube grid, NaN = no data) and a
    ``mask`` band to ``path`` as float32 GeoTIFF (see the module docstring).

    ``threshold``: a :class:`Threshold`, its text (``"p99.9"``, ``"12.5"``) or a number; a
    percentile is taken over the mask method's valid cube-grid scores. ``georef``: transform/CRS on
    the cube grid, or a GLT used when ``ortho`` (otherwise the file stays in sensor geometry without
    georeference). ``tags``: extra dataset tags (e.g. AUCs); ``titles``: method -> human title
    (default from :data:`fers.methods.BY_NAME`). Bad input or an unwritable path: one-line
    :class:`FersInputError`."""
    rio = rasterio_module()

    target = writable_path(path)
    rows, cols = _check_maps(maps, mask_method)
    rule = parse_threshold(threshold)
    thr = rule.value(maps[mask_method])
    titles = {**_default_titles(maps), **(titles or {})}
    g = _grid(georef, rows, cols, ortho, target)
    cog = max(g.shape) >= COG_MIN_SIDE
    names = list(maps) + [MASK_BAND]

    def grid(a):
        a = np.asarray(a)
        return orthorectify(a, georef.glt) if g.use_glt else a

    def fill(ds):
        _fill(ds, maps, grid, mask_method, thr, rule, titles)
        extra = {_tag_key(key): str(v) for key, v in (tags or {}).items()}
        ds.update_tags(**{**extra, "fers_version": __version__, "threshold": f"{thr:.9g}",
                          "threshold_rule": rule.text, "mask_method": mask_method, "methods": ",".join(maps)})

    _write_staged(rio, target, _profile(rio, g, len(names), target), cog, fill)
    return MapsWritten(path=target, georeferenced=g.transform is not None, orthorectified=g.use_glt, cog=cog,
                       threshold=thr, threshold_rule=rule.text, bands=names, shape=g.shape,
                       transform=g.transform, note=_grid_note(georef, g, cog))
