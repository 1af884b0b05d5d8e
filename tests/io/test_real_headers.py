"""Issue 18 items 2, 3, 5, 6, 7, 10: what real product files carry, read right. Every file is
written here: ENVI cubes with wavelengths only in ``band names`` or only in GDAL's ``.aux.xml``,
descending wavelengths, ``data gain values``; a GeoTIFF with a GDAL band scale; an invalid UTM
zone; a PRISMA file with an unknown EPSG code; broken ``.wavelengths.npy`` sidecars."""

from __future__ import annotations

import json

import numpy as np
import pytest

rasterio = pytest.importorskip("rasterio")

from fers import memmap  # noqa: E402
from fers.cli import main  # noqa: E402
from fers.io.cube import load_cube  # noqa: E402
from fers.io.georef import Georef, check_georef  # noqa: E402
from fers.scenes import mmap_for  # noqa: E402
from tests.io import make_products as mp  # noqa: E402
from tests.io.test_tiff_meta import write_geotiff  # noqa: E402

ROWS, COLS, BANDS = 14, 12, 10
WL = np.linspace(376.86, 1800.0, BANDS)


def write_envi(stem, cube, extra=(), data_ext=".img"):
    """``cube (H, W, B)`` float32 -> ``{stem}{data_ext}`` (BSQ little-endian) + ``{stem}.hdr`` with
    the ``extra`` header lines. Returns the header path."""
    h, w, b = cube.shape
    data = stem.with_name(stem.name + data_ext)
    np.ascontiguousarray(np.moveaxis(cube.astype("<f4"), 2, 0)).tofile(data)
    hdr = stem.with_name(stem.name + ".hdr")
    hdr.write_text("\n".join(["ENVI", f"samples = {w}", f"lines = {h}", f"bands = {b}", "header offset = 0",
                              "file type = ENVI Standard", "data type = 4", "interleave = bsq", "byte order = 0",
                              *extra, ""]))
    return hdr


def listing(values, fmt="{:.4f}"):
    return "{ " + " , ".join(fmt.format(v) for v in values) + " }"


def _cli(capsys, *args):
    capsys.readouterr()
    code = main(["detect", *map(str, args), "--backend", "onnx", "--json"])
    out, err = capsys.readouterr()
    return code, out, err


def _json(capsys, *args):
    code, out, err = _cli(capsys, *args)
    assert code == 0, err
    return json.loads(out)


# ---------------------------------------------------------------- item 2: wavelength sources

def test_wavelengths_from_envi_band_names(tmp_path, capsys):
    cube = mp.smooth_cube(ROWS, COLS, WL)
    names = "band names = { " + " , ".join(f"Radiance band {i + 1} ({w:.2f} nm)" for i, w in enumerate(WL)) + " }"
    hdr = write_envi(tmp_path / "ang_rdn", cube, [names])
    s = load_cube(hdr)
    np.testing.assert_allclose(s.wavelengths, np.round(WL, 2))
    assert s.info["wavelength_source"] == "ENVI 'band names'"
    d = _json(capsys, hdr, "--bands", "400-1300nm")
    assert d["input"]["wavelength_source"] == "ENVI 'band names'"
    assert d["wavelengths_used_nm"]["min"] >= 400 and d["wavelengths_used_nm"]["max"] <= 1300


def test_wavelengths_from_gdal_aux_xml_sidecar(tmp_path, capsys):
    cube = mp.smooth_cube(ROWS, COLS, WL)
    hdr = write_envi(tmp_path / "scene", cube)
    bands = "".join(f'<PAMRasterBand band="{i + 1}"><Metadata><MDI key="wavelength">{w:.3f}</MDI>'
                    f'<MDI key="wavelength_units">Nanometers</MDI></Metadata></PAMRasterBand>'
                    for i, w in enumerate(WL))
    (tmp_path / "scene.img.aux.xml").write_text(f"<PAMDataset>{bands}</PAMDataset>")
    s = load_cube(hdr)
    np.testing.assert_allclose(s.wavelengths, np.round(WL, 3))
    assert s.info["wavelength_source"] == "GDAL .aux.xml sidecar"
    (tmp_path / "scene.img.aux.xml").unlink()
    assert load_cube(hdr).wavelengths is None


# ---------------------------------------------------------------- item 3: scale / offset

def test_gdal_band_scale_and_offset_are_applied(tmp_path):
    dn = np.round(mp.smooth_cube(ROWS, COLS, WL) * 1e4).astype(np.int16)
    p = tmp_path / "scaled.tif"
    tags = [{"wavelength": f"{w:.2f}", "wavelength_units": "nm"} for w in WL]
    write_geotiff(p, dn, band_tags=tags, nodata=-32768)
    with rasterio.open(p, "r+") as ds:
        ds.scales = (1e-4,) * BANDS
        ds.offsets = (0.01,) * BANDS
    s = load_cube(p)
    np.testing.assert_allclose(s.cube, dn * 1e-4 + 0.01, rtol=1e-5)
    assert s.info["scaling"].startswith("x 0.0001 + 0.01") and "GDAL" in s.info["scaling"]


def test_envi_data_gain_values_per_band(tmp_path):
    cube = mp.smooth_cube(ROWS, COLS, WL)
    gain = np.linspace(0.5, 2.0, BANDS)
    hdr = write_envi(tmp_path / "g", cube,
                     [f"wavelength = {listing(WL)}", f"data gain values = {listing(gain, '{:.12g}')}"])
    s = load_cube(hdr)
    np.testing.assert_allclose(s.cube, cube * gain, rtol=1e-5)
    m = load_cube(hdr, mmap=True)  # per-band scales change the result: read into memory, applied
    np.testing.assert_allclose(np.asarray(m.cube), cube * gain, rtol=1e-5)
    assert "per band" in s.info["scaling"]


# ---------------------------------------------------------------- item 5: band order

def test_descending_wavelengths_are_sorted_and_give_the_same_maps(tmp_path, capsys):
    cube = mp.smooth_cube(ROWS, COLS, WL)
    cube[5, 6] += 0.3  # an anomaly
    up = write_envi(tmp_path / "up", cube, [f"wavelength = {listing(WL)}"])
    down = write_envi(tmp_path / "down", cube[..., ::-1], [f"wavelength = {listing(WL[::-1])}"])
    s = load_cube(down)
    np.testing.assert_allclose(s.wavelengths, np.round(WL, 4))
    np.testing.assert_array_equal(s.cube, load_cube(up).cube)
    assert s.info["band_order"].startswith("sorted by wavelength")
    m = load_cube(down, mmap=True)  # reversed: still a memory map, now ascending
    assert isinstance(m.cube, np.memmap)
    np.testing.assert_array_equal(np.asarray(m.cube), cube)
    out_up, out_down = tmp_path / "up.npz", tmp_path / "down.npz"
    _json(capsys, up, "--out", out_up)
    d = _json(capsys, down, "--out", out_down)
    assert any("sorted by ascending wavelength" in n for n in d["input"]["metadata_notes"])
    with np.load(out_up, allow_pickle=False) as a, np.load(out_down, allow_pickle=False) as b:
        for k in a.files:
            if k != "meta":
                np.testing.assert_allclose(a[k], b[k], rtol=1e-4, atol=1e-6)


# ---------------------------------------------------------------- item 6: memory decision

def test_envi_named_by_header_is_mapped_like_its_data_file(tmp_path, monkeypatch):
    hdr = write_envi(tmp_path / "big", mp.smooth_cube(ROWS, COLS, WL), [f"wavelength = {listing(WL)}"])
    data = tmp_path / "big.img"
    monkeypatch.setattr(memmap, "LARGE_MEMMAP_BYTES", data.stat().st_size - 1)  # the data file is "large"
    assert mmap_for(data) is True
    assert mmap_for(hdr) is True  # was decided by the header's few hundred bytes
    monkeypatch.setattr(memmap, "LARGE_MEMMAP_BYTES", data.stat().st_size + 1)
    assert mmap_for(hdr) is False


# ---------------------------------------------------------------- item 7: georeference checked on reading

def test_invalid_utm_zone_is_dropped_when_read(tmp_path, capsys):
    prod = mp.make_aviris_ng(tmp_path / "ang_rfl", rows=14, cols=12, bands=20, zone=99)
    s = load_cube(prod.path)
    assert s.georef is None and "not on Earth" in s.info["georef_dropped"]
    out = tmp_path / "maps.tif"
    d = _json(capsys, prod.path, "--out", out, "--out", tmp_path / "o.geojson")
    assert any("georeference dropped" in n for n in d["input"]["metadata_notes"])
    assert "pixel coordinates" in d["out_notes"][0] and "pixel coordinates" in d["out_notes"][1]
    ok = mp.make_aviris_ng(tmp_path / "ok_rfl", rows=14, cols=12, bands=20, zone=11)
    assert load_cube(ok.path).georef is not None


def test_junk_crs_is_dropped_before_any_work(tmp_path, capsys):
    g, why = check_georef(Georef(crs="EPSG:99999", transform=(30.0, 0, 5e5, 0, -30.0, 5e6)), 10, 10)
    assert g is None and "not understood" in why
    g, why = check_georef(Georef(crs="not a crs at all", transform=(30.0, 0, 5e5, 0, -30.0, 5e6)), 10, 10)
    assert g is None
    g, why = check_georef(Georef(crs="EPSG:4326", transform=(30.0, 0, 5e5, 0, -30.0, 5e6)), 10, 10)
    assert g is None and "not on Earth" in why  # metres read as degrees
    g, why = check_georef(Georef(crs="EPSG:32632", transform=(30.0, 0, 5e5, 0, -30.0, 5e6)), 10, 10)
    assert g is not None and why == ""
    pytest.importorskip("h5py")
    prod = mp.make_prisma(tmp_path / "PRS_L2D_STD_x.he5", rows=10, cols=9, epsg=99999)
    s = load_cube(prod.path)
    assert s.georef is None and s.info["georef_dropped"]


# ---------------------------------------------------------------- item 10: sidecars, long names, JSON

@pytest.mark.parametrize("bad, why", [(np.array(["a", "b", "c", "d", "e", "f"]), "expected numbers"),
                                      (np.array([400, 500, np.nan, 700, 800, 900.0]), "positive numbers"),
                                      (np.array([400, 500, -600, 700, 800, 900.0]), "positive numbers")])
def test_broken_wavelength_sidecar_is_one_line(tmp_path, capsys, bad, why):
    p = tmp_path / "c.npy"
    np.save(p, mp.smooth_cube(10, 9, np.linspace(400, 900, 6)))
    np.save(tmp_path / "c.wavelengths.npy", bad)
    code, out, err = _cli(capsys, p)
    assert code == 2 and out == ""
    line = err.strip().splitlines()[-1]
    assert line.startswith("fers: error: ") and "wavelengths.npy" in line and why in line
    assert "Traceback" not in err


def test_long_cube_name_and_strict_json(tmp_path, capsys):
    p = tmp_path / ("c" * 245 + ".npy")  # 249 characters: its sidecar's name would be too long
    np.save(p, mp.smooth_cube(10, 9, np.linspace(400, 900, 6)))
    code, out, err = _cli(capsys, p)
    assert code == 0, err
    json.loads(out, parse_constant=lambda c: pytest.fail(f"{c} in the JSON output"))


# ---------------------------------------------------------------- item 4: EnMAP L1B pair

def test_enmap_l1b_vnir_image_is_refused_in_one_line(tmp_path, capsys):
    name = "ENMAP01-____L1B-DT0000004950_20221103T162438Z_006_V010302_20221118T145147Z"
    prod = mp.make_enmap(tmp_path, rows=10, cols=9, bands=12, name=name)
    vnir = prod.path.with_name(f"{name}-SPECTRAL_IMAGE_VNIR.TIF")
    prod.path.rename(vnir)
    wl = np.linspace(418.0, 2445.0, 30)  # the L1B table: VNIR and SWIR bands together
    (tmp_path / f"{name}-METADATA.XML").write_text(mp.enmap_metadata_xml(name, wl, np.full(30, 8.0), 1e-4))
    code, out, err = _cli(capsys, vnir)
    assert code == 2 and out == ""
    line = err.strip().splitlines()[-1]
    assert line.startswith("fers: error: ") and "EnMAP L1B VNIR image" in line and "SPECTRAL_IMAGE.TIF" in line
