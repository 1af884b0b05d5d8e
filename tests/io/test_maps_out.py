"""GeoTIFF map writer: georeference, GLT orthorectification, bands, mask, tags, COG layout, thresholds."""

from __future__ import annotations

import time

import numpy as np
import pytest

rasterio = pytest.importorskip("rasterio")

from fers._version import __version__  # noqa: E402
from fers.errors import FersInputError  # noqa: E402
from fers.io.georef import Georef  # noqa: E402
from fers.io.maps_out import (  # noqa: E402
    COG_MIN_SIDE,
    DEFAULT_THRESHOLD,
    Threshold,
    orthorectify,
    parse_threshold,
    write_maps_tiff,
)
from fers.methods import BY_NAME  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")

UTM = (30.0, 0.0, 500000.0, 0.0, -30.0, 4100000.0)


def _raises(match, fn, *args, **kw) -> str:
    with pytest.raises(FersInputError, match=match) as e:
        fn(*args, **kw)
    assert "\n" not in str(e.value)
    return str(e.value)


@pytest.fixture
def maps(rng):
    rx = rng.gamma(2.0, size=(40, 60))
    rx[0, :5] = np.nan
    fused = rng.random((40, 60))
    fused[0, :5] = np.nan
    return {"rx": rx, "fusion_rx": fused}


def _same(a, b):
    return np.array_equal(np.asarray(a, np.float32), np.asarray(b, np.float32), equal_nan=True)


def test_cube_grid_georef_bands_mask_and_tags(tmp_path, maps):
    geo = Georef(crs="EPSG:32611", transform=UTM, source="test header")
    out = write_maps_tiff(tmp_path / "m.tif", maps, geo, "rx", threshold="p90", tags={"auc rx": 0.91})
    assert out.georeferenced and not out.orthorectified and not out.cog
    assert out.bands == ["rx", "fusion_rx", "mask"] and out.shape == (40, 60)
    assert out.threshold == pytest.approx(np.nanpercentile(maps["rx"], 90))
    assert "georeferenced" in out.note
    with rasterio.open(out.path) as ds:
        assert ds.crs.to_epsg() == 32611
        assert ds.transform == rasterio.Affine(*UTM)
        assert ds.count == 3 and ds.dtypes == ("float32",) * 3
        assert ds.descriptions[:2] == ("rx", "fusion_rx") and ds.descriptions[2].startswith("mask: rx >= ")
        assert np.isnan(ds.nodata)
        assert ds.profile["tiled"] and ds.block_shapes[0] == (256, 256)
        assert ds.profile["compress"] == "deflate"
        assert _same(ds.read(1), maps["rx"]) and _same(ds.read(2), maps["fusion_rx"])
        mask = ds.read(3)
        tags, t1, t3 = ds.tags(), ds.tags(1), ds.tags(3)
    rx = maps["rx"]
    assert np.array_equal(np.isnan(mask), np.isnan(rx))
    valid = ~np.isnan(rx)
    assert np.array_equal(mask[valid] == 1, rx[valid] >= out.threshold)
    assert set(np.unique(mask[valid])) == {0.0, 1.0}
    assert abs((mask[valid] == 1).mean() - 0.10) < 0.01
    assert tags["fers_version"] == __version__ and tags["mask_method"] == "rx"
    assert float(tags["threshold"]) == pytest.approx(out.threshold) and tags["threshold_rule"] == "p90"
    assert tags["auc_rx"] == "0.91"
    assert t1["title"] == BY_NAME["rx"].title and t3["mask_method"] == "rx"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.tif"]  # no temp file left

    # overwriting works (atomic replace), an absolute threshold too
    out = write_maps_tiff(tmp_path / "m.tif", maps, geo, "fusion_rx", threshold=0.5)
    with rasterio.open(out.path) as ds:
        assert ds.tags()["mask_method"] == "fusion_rx" and ds.tags()["threshold_rule"] == "0.5"
        assert np.nansum(ds.read(3)) == np.sum(maps["fusion_rx"] >= 0.5)


def test_no_georef_is_plain_tiff(tmp_path, maps):
    out = write_maps_tiff(tmp_path / "plain.tiff", maps, None, "rx")
    assert not out.georeferenced and out.transform is None
    assert out.note == "no georeference in the input: plain TIFF (pixel coordinates)"
    assert out.threshold_rule == DEFAULT_THRESHOLD.text == "p99.9"
    with rasterio.open(out.path) as ds:
        assert ds.crs is None and ds.transform == rasterio.Affine.identity()
        assert ds.count == 3


def _glt_case():
    cube = np.arange(12, dtype=np.float64).reshape(3, 4)  # value = 4*row + col
    cube[2, 3] = np.nan
    glt_x = np.array([[1, 2, 0], [4, 3, 4]])  # 1-based columns, 0 = no data
    glt_y = np.array([[1, 1, 0], [3, 2, 1]])  # 1-based rows
    want = np.array([[0, 1, np.nan], [np.nan, 6, 3]])  # cube[2, 3] is NaN itself
    ortho = (0.001, 0.0, -117.5, 0.0, -0.001, 34.2)
    return cube, (glt_x, glt_y), want, ortho


def test_orthorectify_2d_and_3d():
    cube, glt, want, _ = _glt_case()
    assert _same(orthorectify(cube, glt), want)
    stack = np.stack([cube, cube * 2], axis=-1).astype(np.float32)
    out = orthorectify(stack, glt)
    assert out.shape == (2, 3, 2) and out.dtype == np.float32
    assert _same(out[..., 1], want * 2)
    _raises("beyond the cube", orthorectify, cube[:2], glt)


def test_glt_path_writes_ortho_grid(tmp_path):
    cube, glt, want, ortho = _glt_case()
    geo = Georef(crs="EPSG:4326", transform=ortho, source="EMIT location group", glt=glt)
    maps = {"rx": cube, "spectral": cube + 100}
    out = write_maps_tiff(tmp_path / "o.tif", maps, geo, "rx", threshold=5)
    assert out.orthorectified and out.georeferenced and out.shape == (2, 3)
    assert "orthorectified" in out.note
    with rasterio.open(out.path) as ds:
        assert (ds.height, ds.width) == (2, 3)
        assert ds.crs.to_epsg() == 4326 and ds.transform == rasterio.Affine(*ortho)
        assert _same(ds.read(1), want) and _same(ds.read(2), want + 100)
        assert _same(ds.read(3), np.array([[0, 0, np.nan], [np.nan, 1, 0]]))

    # sensor geometry on request: no CRS / transform, and the note says so
    out = write_maps_tiff(tmp_path / "s.tif", maps, geo, "rx", threshold=5, ortho=False)
    assert not out.orthorectified and not out.georeferenced and "sensor geometry" in out.note
    with rasterio.open(out.path) as ds:
        assert ds.crs is None and (ds.height, ds.width) == (3, 4)

    # maps that do not fit the cube the GLT indexes are refused
    small = {"rx": cube[:2, :3]}
    _raises("do not fit the georeference's GLT", write_maps_tiff, tmp_path / "x.tif", small, geo, "rx")


def test_big_output_is_cog_with_overviews(tmp_path, rng):
    n = 1100
    assert n >= COG_MIN_SIDE
    maps = {"rx": rng.random((n, n)), "fusion_rx": rng.random((n, n))}
    maps["rx"][:7] = np.nan
    t0 = time.perf_counter()
    out = write_maps_tiff(tmp_path / "big.tif", maps, Georef("EPSG:32611", UTM), "rx", tags={"name": "big"})
    assert time.perf_counter() - t0 < 5
    assert out.cog and "Cloud-Optimized" in out.note
    with rasterio.open(out.path) as ds:
        assert ds.overviews(1) and ds.overviews(3)
        assert ds.tags(ns="IMAGE_STRUCTURE").get("LAYOUT", "COG") == "COG"
        assert ds.crs.to_epsg() == 32611 and ds.count == 3 and np.isnan(ds.nodata)
        assert ds.descriptions[:2] == ("rx", "fusion_rx")
        assert ds.tags()["name"] == "big" and ds.tags(1)["title"] == BY_NAME["rx"].title
        assert _same(ds.read(2), maps["fusion_rx"])
        assert int(np.nansum(ds.read(3))) == int(np.sum(maps["rx"] >= out.threshold))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.tif"]


@pytest.mark.parametrize("text, kind, number", [
    ("p99.9", "percentile", 99.9), ("P50", "percentile", 50.0), ("p100", "percentile", 100.0),
    ("p.5", "percentile", 0.5), ("12.5", "absolute", 12.5), (" -3 ", "absolute", -3.0),
    ("1e3", "absolute", 1000.0), (7, "absolute", 7.0), (0.25, "absolute", 0.25),
])
def test_threshold_grammar(text, kind, number):
    t = parse_threshold(text)
    assert (t.kind, t.number) == (kind, number)
    assert parse_threshold(t) is t and t.describe()


@pytest.mark.parametrize("text", ["p101", "abc", "99.9%", "nan", "inf", "p", "", "pp9", "p-1", float("nan"), "q99"])
def test_threshold_refusals(text):
    _raises("threshold", parse_threshold, text)


def test_threshold_values():
    score = np.array([[np.nan, 1.0], [2.0, 3.0]])
    assert Threshold("percentile", 50).value(score) == 2.0
    assert Threshold("percentile", 100).value(score) == 3.0
    assert Threshold("absolute", 9).value(score) == 9.0
    _raises("no valid score", Threshold("percentile", 99).value, np.full((2, 2), np.nan))


def test_refusals(tmp_path, maps):
    _raises("is a folder", write_maps_tiff, tmp_path, maps, None, "rx")
    _raises("does not exist", write_maps_tiff, tmp_path / "no" / "m.tif", maps, None, "rx")
    _raises("mask method 'ae'", write_maps_tiff, tmp_path / "m.tif", maps, None, "ae")
    uneven = {"rx": maps["rx"], "b": maps["rx"][1:]}
    _raises("2-D of one shape", write_maps_tiff, tmp_path / "m.tif", uneven, None, "rx")
    _raises("threshold", write_maps_tiff, tmp_path / "m.tif", maps, None, "rx", threshold="top10")
    _raises("CRS is not understood", write_maps_tiff, tmp_path / "m.tif", maps, Georef("EPSG:nope", UTM), "rx")
    assert list(tmp_path.iterdir()) == []
