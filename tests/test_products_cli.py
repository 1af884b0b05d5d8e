"""End to end on product files (generated following each product's published structure): ``fers
detect PRODUCT --out maps.tif`` reads wavelengths, bad bands and fill values, and writes a GeoTIFF
that overlays its input: same CRS, same transform (EMIT: the GLT's map grid)."""

from __future__ import annotations

import json

import numpy as np
import pytest

rasterio = pytest.importorskip("rasterio")
pytest.importorskip("xarray")
from rasterio.crs import CRS  # noqa: E402

from fers.bands import water_bands  # noqa: E402
from fers.cli import main  # noqa: E402
from tests.io import make_products as mp  # noqa: E402


def _detect(capsys, *args):
    capsys.readouterr()
    code = main(["detect", *map(str, args), "--json", "--backend", "onnx"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)



PRODUCTS = {
    "emit": lambda d: mp.make_emit(d / "EMIT_L2A_RFL_001_20230316T045133_2307503_005.nc", rows=24, cols=20, bands=60,
                                   bad_band_idx=(0, 1, 59)),
    "aviris-ng": lambda d: mp.make_aviris_ng(d / "ang20230101t000000_rfl", rows=24, cols=20, bands=60),
    "enmap": lambda d: mp.make_enmap(d, rows=24, cols=20, bands=60),
    "prisma": lambda d: mp.make_prisma(d / "PRS_L2D_STD_20230101.he5", rows=24, cols=20, n_vnir=30, n_swir=30),
}


@pytest.mark.parametrize("kind", list(PRODUCTS))
def test_product_to_geotiff_overlays_its_input(tmp_path, capsys, kind):
    prod = PRODUCTS[kind](tmp_path)
    out = tmp_path / "maps.tif"
    d = _detect(capsys, prod.path, "--out", out, "--out", tmp_path / "objects.geojson")
    b = prod.cube.shape[2]
    drop = prod.bad_bands | water_bands(prod.wavelengths)
    assert d["wavelengths_used_nm"]["count"] == b - int(drop.sum())
    assert d["masked_pixels"] == len(prod.fill_pixels)
    if drop.any():
        assert any(n["code"] == "bands.dropped" and n["message"].startswith(f"dropped {int(drop.sum())} of {b} bands")
               for n in d["notes"])
    with rasterio.open(out) as ds:
        assert ds.crs == CRS.from_epsg(prod.epsg)
        np.testing.assert_allclose(tuple(ds.transform)[:6], prod.transform)
        assert list(ds.descriptions[:-1]) == d["methods"] and ds.descriptions[-1].startswith("mask")
        rx = ds.read(1)
        if prod.glt is None:
            assert rx.shape == prod.cube.shape[:2]
            for r, c in prod.fill_pixels:
                assert np.isnan(rx[r, c])  # no-data in, NaN out
        else:  # EMIT: on the GLT's grid, NaN where the GLT has no pixel
            gx, gy = prod.glt
            assert rx.shape == gx.shape and np.isnan(rx[gx == 0]).all()
            i, j = np.argwhere(gx > 0)[7]
            r, c = gy[i, j] - 1, gx[i, j] - 1
            tifs = set(map(tuple, prod.fill_pixels))
            assert np.isnan(rx[i, j]) == ((r, c) in tifs)
    assert json.loads((tmp_path / "objects.geojson").read_text())["type"] == "FeatureCollection"


def test_emit_wavelength_bands_keep_bad_bands_and_sensor_geometry(tmp_path, capsys):
    prod = PRODUCTS["emit"](tmp_path)
    d = _detect(capsys, prod.path, "--bands", "400-1000nm", "--out", tmp_path / "m.tif")
    inside = (prod.wavelengths >= 400) & (prod.wavelengths <= 1000) & ~prod.bad_bands
    assert d["bands"] == "400-1000nm" and d["wavelengths_used_nm"]["count"] == int(inside.sum())
    d = _detect(capsys, prod.path, "--keep-bad-bands")
    assert d["wavelengths_used_nm"]["count"] == prod.cube.shape[2]
    d = _detect(capsys, prod.path, "--no-ortho", "--out", tmp_path / "raw.tif")
    assert "plain TIFF" in d["out_notes"][0]
    with rasterio.open(tmp_path / "raw.tif") as ds:
        assert ds.crs is None and ds.shape == prod.cube.shape[:2]
