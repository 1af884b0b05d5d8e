"""fers.outputs: one result written as .npz, GeoTIFF and GeoJSON, chosen by extension."""

import json

import numpy as np
import pytest

rasterio = pytest.importorskip("rasterio")
from rasterio.crs import CRS  # noqa: E402

from fers.errors import FersInputError  # noqa: E402
from fers.io.cube import Scene  # noqa: E402
from fers.io.georef import Georef  # noqa: E402
from fers.outputs import check_outputs, output_kind, save_outputs  # noqa: E402
from fers.pipeline import detect  # noqa: E402

UTM = CRS.from_epsg(32611).to_wkt()
TRANSFORM = (30.0, 0.0, 500000.0, 0.0, -30.0, 4100000.0)


def _scene(rng, georef=None):
    cube = rng.normal(size=(32, 30, 12)).astype(np.float32).cumsum(axis=2)
    cube[10:12, 20:22] += 6.0
    gt = np.zeros((32, 30), bool)
    gt[10:12, 20:22] = True
    return Scene(cube=cube, gt=gt, wavelengths=None, name="s", path=None, georef=georef)


def test_kinds_by_extension():
    assert [output_kind(p) for p in ("a.tif", "b.TIFF", "c.geojson", "d.npz", "e")] == [
        "geotiff", "geotiff", "geojson", "npz", "npz"]


def test_all_three_outputs_overlay_the_input(tmp_path, rng):
    scene = _scene(rng, Georef(UTM, TRANSFORM, "test"))
    res = detect(scene.cube, scene.gt, bands="all")
    written = save_outputs(res, scene, [tmp_path / "m.tif", tmp_path / "o.geojson", tmp_path / "m.npz"])
    assert [w.kind for w in written] == ["geotiff", "npz", "geojson"]
    with rasterio.open(tmp_path / "m.tif") as ds:
        assert ds.crs == CRS.from_epsg(32611) and tuple(ds.transform)[:6] == TRANSFORM
        assert ds.descriptions[: len(res.maps)] == tuple(res.maps) and ds.descriptions[-1].startswith("mask")
        np.testing.assert_allclose(ds.read(1), res.maps["rx"].astype(np.float32))
        mask = ds.read(ds.count)
        assert ds.tags()["auc_rx"] == f"{res.auc['rx']:.6f}"
    thr = np.percentile(res.maps[res.default_method], 99.9)
    np.testing.assert_array_equal(mask > 0, res.maps[res.default_method] >= thr)
    fc = json.loads((tmp_path / "o.geojson").read_text())
    assert fc["features"], "the implanted 2x2 target is above the 99.9th percentile"
    lon, lat = fc["features"][0]["geometry"]["coordinates"][0][0]
    assert -120 < lon < -116 and 36 < lat < 38  # UTM 11N near 500 km E, 4100 km N, in lon/lat
    with np.load(tmp_path / "m.npz", allow_pickle=False) as z:
        assert set(res.maps) <= set(z.files) and "gt" in z.files


def test_no_georef_gives_a_plain_tiff_and_says_so(tmp_path, rng):
    scene = _scene(rng)
    res = detect(scene.cube, None, bands="all")
    (w,) = save_outputs(res, scene, [tmp_path / "m.tif"], threshold="5")
    assert "no georeference" in w.note
    with rasterio.open(tmp_path / "m.tif") as ds:
        assert ds.crs is None and float(ds.tags()["threshold"]) == 5.0


def test_bad_outputs_refused_before_work(tmp_path):
    with pytest.raises(FersInputError, match="does not exist"):
        check_outputs([tmp_path / "nope" / "m.tif"])
    with pytest.raises(FersInputError, match="twice"):
        check_outputs([tmp_path / "m.tif", tmp_path / "m.tif"])
    with pytest.raises(FersInputError, match="not understood"):
        check_outputs([tmp_path / "m.tif"], threshold="top5")
    with pytest.raises(FersInputError, match="folder"):
        check_outputs([tmp_path])
