"""Issue 18 item 1: no-data is decided on the bands that will be used, and a band that is fill in
every pixel is a bad band (reported), not a reason to mask the whole scene. Files written here:
a plain GeoTIFF like an EnMAP L2A tile without its XML (int16, bbl-0 bands all -32768) and an
ENVI cube with ``data ignore value`` + ``bbl``."""

from __future__ import annotations

import json

import numpy as np
import pytest

rasterio = pytest.importorskip("rasterio")

from fers.cli import main  # noqa: E402
from fers.io.cube import load_cube  # noqa: E402
from fers.pipeline import detect  # noqa: E402
from tests.io import make_products as mp  # noqa: E402
from tests.io.test_tiff_meta import write_geotiff  # noqa: E402

FILL = -32768
EMPTY = (5, 6, 7)  # 0-based bands that are fill everywhere
PIXELS = ((0, 0), (3, 4))  # pixels that are fill in every band


def _enmap_like_tiff(path, rows=16, cols=14, bands=20):
    wl = np.linspace(420.0, 2400.0, bands)
    dn = np.round(mp.smooth_cube(rows, cols, wl) * 1e4).astype(np.int16)
    dn[:, :, list(EMPTY)] = FILL
    for r, c in PIXELS:
        dn[r, c] = FILL
    tags = [{"wavelength": f"{w:.2f}", "wavelength_units": "Nanometers", "bbl": "0" if i in EMPTY else "1"}
            for i, w in enumerate(wl)]
    write_geotiff(path, dn, band_tags=tags, nodata=FILL)
    return wl


def _detect_json(capsys, *args):
    capsys.readouterr()
    code = main(["detect", *map(str, args), "--json", "--backend", "onnx", "--detector", "rx"])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if code == 0 else None), err


def test_geotiff_fill_bands_are_bad_bands_not_a_masked_scene(tmp_path, capsys):
    p = tmp_path / "tile.tif"
    _enmap_like_tiff(p)
    s = load_cube(p)
    assert s.info["masked_pixels"] == len(PIXELS)
    assert s.info["empty_bands"] == [i + 1 for i in EMPTY]
    assert set(np.flatnonzero(s.bad_bands)) == set(EMPTY)
    assert any("hold only no-data" in n for n in s.info["metadata_notes"])
    for flags in ([], ["--keep-bad-bands"], ["--bands", "400-1300nm"]):
        code, d, err = _detect_json(capsys, p, *flags)
        assert code == 0, err
        assert d["masked_pixels"] == len(PIXELS)
        if "--keep-bad-bands" in flags:  # the fill bands cannot be kept: they hold no value
            assert d["wavelengths_used_nm"]["count"] == 20 - len(EMPTY)
            assert any(n["code"] == "bands.empty" and "hold only no-data" in n["message"] for n in d["notes"])


def test_envi_data_ignore_value_and_bbl_fill_band(tmp_path, capsys):
    prod = mp.make_aviris_ng(tmp_path / "ang_rfl", rows=14, cols=12, bands=24, bad_band_idx=(3, 4))
    data = tmp_path / "ang_rfl"
    raw = np.fromfile(data, dtype="<f4").reshape(14, 24, 12)  # BIL: (rows, bands, cols)
    raw[:, 3, :] = -9999.0  # a bbl-0 band that is fill everywhere
    raw[2, 4, 5] = -9999.0  # fill in one pixel of a bbl-0 band only: not a masked pixel by default
    raw.tofile(data)
    s = load_cube(prod.path)
    assert s.info["empty_bands"] == [4]
    assert s.info["masked_pixels"] == len(prod.fill_pixels)
    code, d, err = _detect_json(capsys, prod.path)
    assert code == 0, err
    assert d["masked_pixels"] == len(prod.fill_pixels)
    code, d, err = _detect_json(capsys, prod.path, "--keep-bad-bands")  # band 5 used: its fill pixel masked
    assert code == 0, err
    assert d["masked_pixels"] == len(prod.fill_pixels) + 1


def test_detect_on_an_array_drops_an_all_nan_band():
    cube = mp.smooth_cube(20, 18, np.linspace(400, 900, 12))
    cube[:, :, 4] = np.nan
    res = detect(cube, bands="all", detector="rx", backend="onnx", keep_bad_bands=True)
    assert res.masked_pixels == 0 and np.isfinite(res.maps["rx"]).all()
    assert any(n.code == "bands.empty" and "hold only no-data (band 5)" in str(n) for n in res.notes)
    cube[:] = np.nan
    with pytest.raises(Exception, match="every pixel is no-data"):
        detect(cube, bands="all", backend="onnx")
