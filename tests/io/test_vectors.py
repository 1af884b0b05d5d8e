"""Mask -> GeoJSON polygons: objects, their properties, coordinates, the cap and the file."""

from __future__ import annotations

import json

import numpy as np
import pytest

rasterio = pytest.importorskip("rasterio")

from rasterio.warp import transform as warp_points  # noqa: E402

from fers.errors import FersInputError  # noqa: E402
from fers.io.maps_out import orthorectify  # noqa: E402
from fers.io.vectors import mask_polygons, write_geojson  # noqa: E402

UTM = (30.0, 0.0, 500000.0, 0.0, -30.0, 4100000.0)


@pytest.fixture
def score(rng):
    """(50, 60) background < 1 with two objects: a 3x4 block (max 9) and a diagonal of 3 pixels
    touching only at corners (max 5), plus NaN no-data that must never count."""
    s = rng.random((50, 60)) * 0.5
    s[5:8, 10:14] = 2.0
    s[6, 12] = 9.0
    s[30, 40], s[31, 41], s[32, 42] = 3.0, 5.0, 3.0
    s[45:, :] = np.nan
    return s


def _xy(geom):
    polys = [geom["coordinates"]] if geom["type"] == "Polygon" else geom["coordinates"]
    return np.array([pt for poly in polys for ring in poly for pt in ring], dtype=float)


def test_two_blobs_in_map_units(score):
    fc = mask_polygons(score, 1.0, UTM)
    assert fc["type"] == "FeatureCollection" and len(fc["features"]) == 2
    a, b = (f["properties"] for f in fc["features"])
    assert (a["id"], a["pixels"], a["max_score"], a["area"]) == (1, 12, 9.0, 12 * 900.0)
    assert a["mean_score"] == pytest.approx((11 * 2 + 9) / 12)
    assert (a["centroid_row"], a["centroid_col"]) == (6.0, 11.5)
    assert (b["id"], b["pixels"], b["max_score"], b["area"]) == (2, 3, 5.0, 2700.0)
    assert fc["features"][1]["geometry"]["type"] == "MultiPolygon"  # 8-connected, corners only
    for f, (r0, r1, c0, c1) in zip(fc["features"], [(5, 8, 10, 14), (30, 33, 40, 43)]):
        xy = _xy(f["geometry"])
        assert xy[:, 0].min() == 500000 + 30 * c0 and xy[:, 0].max() == 500000 + 30 * c1
        assert xy[:, 1].max() == 4100000 - 30 * r0 and xy[:, 1].min() == 4100000 - 30 * r1
    assert a["centroid_x"] == 500000 + 30 * 12 and a["centroid_y"] == 4100000 - 30 * 6.5
    meta = fc["properties"]
    assert meta["objects_found"] == 2 and not meta["truncated"] and "CRS unknown" in meta["coordinates"]


def test_projected_crs_is_reprojected_to_lonlat(score):
    fc = mask_polygons(score, 1.0, UTM, crs="EPSG:32611")
    meta = fc["properties"]
    assert meta["coordinates"].startswith("WGS84") and meta["area_unit"] == "metre^2"
    assert "crs" not in fc  # RFC 7946: lon/lat, no crs member
    f = fc["features"][0]
    assert f["properties"]["area"] == 12 * 900.0
    lons, lats = warp_points("EPSG:32611", "EPSG:4326", [500000 + 300, 500000 + 420], [4100000 - 150, 4100000 - 240])
    xy = _xy(f["geometry"])
    assert np.allclose([xy[:, 0].min(), xy[:, 0].max()], lons, atol=1e-4)
    assert np.allclose([xy[:, 1].max(), xy[:, 1].min()], lats, atol=1e-4)
    assert -117.0 < xy[:, 0].min() < -116.9 and 37 < xy[:, 1].min() < 37.1  # lon first, then lat


def test_lonlat_grid_keeps_coordinates_and_adds_metres(score):
    ll = (0.001, 0.0, -117.5, 0.0, -0.001, 34.2)
    fc = mask_polygons(score, 1.0, ll, crs="EPSG:4326")
    a = fc["features"][0]
    xy = _xy(a["geometry"])
    assert xy[:, 0].min() == pytest.approx(-117.5 + 0.010) and xy[:, 1].max() == pytest.approx(34.2 - 0.005)
    assert fc["properties"]["area_unit"] == "degree^2"
    m2 = a["properties"]["area_m2"]
    assert 12 * 111e3 * 92e3 * 1e-6 < m2 < 12 * 112e3 * 93e3 * 1e-6  # ~ 12 pixels of 111 m x 92 m


def test_pixel_coordinates_without_transform(score):
    fc = mask_polygons(score, 1.0)
    a = fc["features"][0]
    assert a["properties"]["area"] == 12 and fc["properties"]["area_unit"] == "pixel"
    xy = _xy(a["geometry"])
    assert (xy[:, 0].min(), xy[:, 0].max(), xy[:, 1].min(), xy[:, 1].max()) == (10, 14, 5, 8)


def test_min_pixels_cap_and_empty(score):
    assert [f["properties"]["pixels"] for f in mask_polygons(score, 1.0, min_pixels=4)["features"]] == [12]
    fc = mask_polygons(score, 1.0, max_objects=1)
    assert len(fc["features"]) == 1 and fc["features"][0]["properties"]["max_score"] == 9.0
    assert fc["properties"]["truncated"] and fc["properties"]["objects_found"] == 2
    empty = mask_polygons(score, 100.0, UTM)
    assert empty["features"] == [] and empty["properties"]["objects_found"] == 0
    nan_only = mask_polygons(np.full((4, 4), np.nan), 0.0)
    assert nan_only["features"] == []
    with pytest.raises(FersInputError, match="needs an"):
        mask_polygons(np.zeros(5), 0.0)
    with pytest.raises(FersInputError, match="not understood"):
        mask_polygons(score, 1.0, UTM, crs="EPSG:nope")


def test_glt_workflow_orthorectify_then_polygons():
    cube = np.zeros((3, 4))
    cube[1, 2] = 7.0
    glt_x = np.array([[1, 3, 3], [0, 2, 4]])
    glt_y = np.array([[1, 2, 2], [0, 1, 3]])
    ortho = orthorectify(cube, (glt_x, glt_y))
    fc = mask_polygons(ortho, 5.0, (10.0, 0, 0, 0, -10.0, 0), crs=None)
    (f,) = fc["features"]
    assert f["properties"]["pixels"] == 2 and f["properties"]["area"] == 200.0


def test_write_geojson_round_trip(tmp_path, score):
    fc = mask_polygons(score, 1.0, UTM, crs="EPSG:32611")
    p = write_geojson(tmp_path / "objects.geojson", fc)
    back = json.loads(p.read_text())
    assert back["properties"]["objects_written"] == 2 and len(back["features"]) == 2
    assert sorted(x.name for x in tmp_path.iterdir()) == ["objects.geojson"]
    with pytest.raises(FersInputError, match="is a folder"):
        write_geojson(tmp_path, fc)
