"""Imaging-spectrometer products in the app, through its handlers (no server, no browser): an EMIT L2A
``.nc`` with fill values and bad bands, an EnMAP L2A GeoTIFF + METADATA.XML pair uploaded as two files,
the wavelength band mode, the keep-bad-bands box and the GeoTIFF / GeoJSON downloads.

The generators are those of the reader tests (``tests/io/make_products.py``). Each upload is copied into
a folder of its own first, as Gradio keeps uploads, so a pair is found only through the app's staging.
"""

import json
import shutil
from pathlib import Path

import gradio as gr
import numpy as np
import pytest

from fers.ui import callbacks as cb
from fers.ui.tempdirs import app_temp_root

rasterio = pytest.importorskip("rasterio")
pytest.importorskip("netCDF4")
from tests.io.make_products import make_emit, make_enmap  # noqa: E402

EMIT_BANDS = 60  # 381-2493 nm: 8 bands fall into the water-vapour windows, 2 are marked bad in the file


def _uploaded(path: Path, root: Path) -> str:
    """``path`` copied into a folder of its own under ``root`` (Gradio keeps one folder per upload)."""
    folder = root / f"upload{len(list(root.glob('upload*')))}"
    folder.mkdir(parents=True)
    return str(shutil.copy(path, folder / Path(path).name))


def _run(files, mode=cb.DEFAULT_BAND_MODE, band_nm="", keep_bad=False, gt=None):
    out = cb.run_detection(list(files), "(auto)", gt, "(auto)", mode, 50, 0, "0:10", "default (measured)", "onnx",
                           "rx", "5,15", None, "", band_nm, keep_bad)
    return dict(zip(cb.RUN_OUTPUTS, out))


def _download(out, suffix: str) -> Path:
    return next(Path(f) for f in out["downloads"]["value"] if f.endswith(suffix))


@pytest.fixture(scope="module")
def emit(tmp_path_factory):
    root = tmp_path_factory.mktemp("emit")
    (root / "src").mkdir()
    product = make_emit(root / "src" / "EMIT_L2A_RFL_test.nc", rows=16, cols=14, bands=EMIT_BANDS,
                        fill_pixels=((0, 0), (9, 4)), bad_band_idx=(5, 6))
    return product, _uploaded(product.path, root)


def test_emit_upload_shows_its_bands_and_fills_the_wavelength_box(emit):
    product, nc = emit
    box, seen, cube_key, gt_key, info, band_nm = cb.on_cube_upload([nc])
    assert seen == [nc]
    assert "16 x 14 pixels, 60 bands, 381-2493 nm, 2 marked bad, 8 in the water-vapour windows" in info
    assert "georeferenced (GLT to a 18x17 map grid" in info
    assert band_nm["value"] == "381-2493nm"


def test_emit_runs_and_its_geotiff_sits_on_the_glt_grid(emit):
    """Maps, preview and spectrum of a scene with fill pixels; the GeoTIFF download carries the GLT map
    grid's CRS and transform, and its maps are the sensor-geometry maps placed through the GLT."""
    from fers.io.cube import load_cube
    from fers.pipeline import detect

    product, nc = emit
    out = _run([nc])
    scene = load_cube(product.path)
    ref = detect(scene.cube, None, backend="onnx", nodata=scene.nodata, wavelengths=scene.wavelengths,
                 bad_bands=scene.bad_bands)
    status = out["status"]
    assert "**Bands used**: 50 of 60 bands, 381-2493 nm; dropped 10 of 60 bands" in status
    assert "the 'keep bad bands' box keeps them" in status and "--keep-bad-bands" not in status
    assert f"Methods computed**: {', '.join(ref.maps)}" in status
    assert out["preview"].std() > 0 and (out["preview"] > 0).mean() > 0.9  # no-data pixels only are black
    for k in ("map_rx", "map_fused", "mask_image"):
        assert out[k].ndim == 3 and out[k].std() > 0
    assert int(out["mask_text"].split()[0]) > 0  # NaN pixels do not empty the min-max mask

    with np.load(_download(out, "_maps.npz"), allow_pickle=False) as z:
        for m, s in ref.maps.items():
            assert np.allclose(z[m], s, equal_nan=True, rtol=1e-6, atol=1e-9), m
        npz_maps = {m: z[m] for m in ref.maps}
    tif = _download(out, "_maps.tif")
    assert tif.name == "EMIT_L2A_RFL_test_maps.tif"
    assert "GeoTIFF of the maps + p99.9 mask (georeferenced like the input)" in out["downloads"]["label"]
    assert "orthorectified through the GLT onto a 18x17 map grid" in status
    glt_x, glt_y = product.glt
    with rasterio.open(tif) as ds:
        assert ds.crs == rasterio.crs.CRS.from_epsg(product.epsg) == rasterio.crs.CRS.from_wkt(scene.georef.crs)
        assert tuple(ds.transform)[:6] == pytest.approx(product.transform, abs=1e-12)
        assert tuple(ds.transform)[:6] == pytest.approx(scene.georef.transform, abs=1e-12)
        assert (ds.height, ds.width) == glt_x.shape and ds.count == len(ref.maps) + 1
        rx = ds.read(list(ref.maps).index("rx") + 1)
    ok = (glt_x > 0) & (glt_y > 0)
    assert np.allclose(rx[ok], npz_maps["rx"][glt_y[ok] - 1, glt_x[ok] - 1], equal_nan=True, rtol=1e-6)
    assert np.isnan(rx[~ok]).all()
    for r, c in product.fill_pixels:  # a fill pixel is no-data in every map, and so on the map grid
        assert np.isnan(rx[(glt_y == r + 1) & (glt_x == c + 1)]).all()
    geo = json.loads(_download(out, "_objects.geojson").read_text())
    assert geo["type"] == "FeatureCollection" and geo["features"]

    # the clicked pixel's spectrum is drawn against nm, with the dropped bands shaded
    k = out["state"]["upscale"]
    fig = cb.on_pixel_select(out["state"], gr.SelectData(None, {"index": [3 * k, 2 * k], "value": None}))
    ax = fig.axes[0]
    assert ax.get_xlabel() == "wavelength (nm)"
    labels = ax.get_legend_handles_labels()[1]
    assert "dropped as bad / water vapour (10)" in labels
    line = [ln for ln in ax.get_lines() if ln.get_label() == "selected pixel"][0]
    assert np.allclose(line.get_xdata(), scene.wavelengths) and np.allclose(line.get_ydata(), scene.cube[2, 3])
    fig = cb.on_pixel_select(out["state"], gr.SelectData(None, {"index": [4 * k, 9 * k], "value": None}))
    assert fig.axes[0].get_title() == "pixel row 9, col 4 (no data)"


def test_wavelength_mode_and_keep_bad_bands(emit, tmp_path):
    from fers.io.cube import load_cube
    from fers.pipeline import detect

    product, nc = emit
    scene = load_cube(product.path)
    used = {}
    for keep in (False, True):
        for text in ("381-2493nm", "400-1000"):  # a range without a unit is read in nm
            out = _run([nc], cb.WAVELENGTH_MODE, text, keep)
            ref = detect(scene.cube, None, bands=text if text.endswith("nm") else text + "nm", backend="onnx",
                         nodata=scene.nodata, wavelengths=scene.wavelengths, bad_bands=scene.bad_bands,
                         keep_bad_bands=keep)
            d = ref.to_dict()["wavelengths_used_nm"]
            assert f"**Bands used**: {d['count']} of 60 bands, {d['min']:g}-{d['max']:g} nm" in out["status"]
            with np.load(_download(out, "_maps.npz"), allow_pickle=False) as z:
                assert np.allclose(z["rx"], ref.maps["rx"], equal_nan=True, rtol=1e-6)
            used[keep, text] = d["count"]
    assert used[False, "381-2493nm"] == 50 and used[True, "381-2493nm"] == 60  # 2 bad + 8 water-vapour bands
    assert used[False, "400-1000"] == used[True, "400-1000"] - 2  # the two bands marked bad lie in 400-1000 nm

    # the band box in the wavelength mode
    assert cb.band_spec_from_controls(cb.WAVELENGTH_MODE, 50, 0, "", " 400-1340nm, 1450-1800nm ") == \
        "400-1340nm, 1450-1800nm"
    assert cb.band_spec_from_controls(cb.WAVELENGTH_MODE, 50, 0, "", "0.4-1um") == "0.4-1um"
    with pytest.raises(Exception, match="not a wavelength range"):
        cb.band_spec_from_controls(cb.WAVELENGTH_MODE, 50, 0, "", "10:60")
    with pytest.raises(Exception, match="wavelength range is empty"):
        cb.band_spec_from_controls(cb.WAVELENGTH_MODE, 50, 0, "", "  ")
    # a file without wavelengths: the library's one line
    np.save(tmp_path / "plain.npy", np.random.default_rng(0).random((12, 12, 6)).astype(np.float32))
    with pytest.raises(gr.Error) as refused:
        _run([tmp_path / "plain.npy"], cb.WAVELENGTH_MODE, "400-1000nm")
    assert refused.value.message == ("plain.npy: band spec 400-1000nm selects by wavelength, but the file records "
                                     "no wavelengths; use band numbers (START:STOP) instead")
    info = cb.on_cube_upload([str(tmp_path / "plain.npy")])[4]
    assert "6 bands, no wavelengths in the file" in info and "no georeference" in info


def test_enmap_pair_staged_together(tmp_path):
    """The TIF and its METADATA.XML, uploaded together or one after the other (in either order), are
    staged side by side so the reader applies the XML; the TIF alone is a plain GeoTIFF; the XML alone
    waits for its TIF. The staging dir goes when the request ends."""
    from fers.io.cube import load_cube
    from fers.pipeline import detect

    product = make_enmap(tmp_path / "src", rows=12, cols=12, bands=30)
    xml_src = product.path.with_name(product.path.name.replace("SPECTRAL_IMAGE.TIF", "METADATA.XML"))
    up = tmp_path / "uploads"
    tif, xml = _uploaded(product.path, up), _uploaded(xml_src, up)
    assert Path(tif).parent != Path(xml).parent

    info = cb.on_cube_upload([tif, xml])[4]
    assert "12 x 12 pixels, 30 bands, 418-2446 nm" in info and "georeferenced (GeoTIFF" in info
    # one after the other: the box keeps both halves
    assert cb.on_cube_upload([xml])[4] == cb.HALF_PAIR["enmap"]
    for first, second in ((xml, tif), (tif, xml)):
        box, seen, *_ = cb.on_cube_upload([first, second], [first])
        assert seen == [second, first] and box == gr.update()
    # the TIF alone: a plain GeoTIFF (raw DN, no wavelengths), with a hint
    alone = cb.on_cube_upload([tif])[4]
    assert "no wavelengths in the file" in alone and "without its METADATA.XML" in alone
    with pytest.raises(gr.Error, match="METADATA.XML uploaded alone; upload it together with its SPECTRAL_IMAGE"):
        _run([xml])

    out = _run([tif, xml])
    scene = load_cube(product.path)  # the XML lies beside the TIF in the generator's folder
    assert scene.wavelengths is not None
    ref = detect(scene.cube, None, backend="onnx", nodata=scene.nodata, wavelengths=scene.wavelengths,
                 bad_bands=scene.bad_bands)
    d = ref.to_dict()["wavelengths_used_nm"]
    assert f"**Bands used**: {d['count']} of 30 bands" in out["status"] and d["count"] < 30
    with np.load(_download(out, "_maps.npz"), allow_pickle=False) as z:
        assert np.allclose(z["rx"], ref.maps["rx"], equal_nan=True, rtol=1e-6)
    with rasterio.open(_download(out, "_maps.tif")) as ds:
        assert ds.crs == rasterio.crs.CRS.from_epsg(product.epsg)
        assert tuple(ds.transform)[:6] == pytest.approx(product.transform)
    assert not list(app_temp_root().glob("enmap-*"))  # the per-request staging dir is gone

    plain = _run([tif])  # the TIF alone: stored DN, every band
    assert "30 bands (tif, stored as int16)" in plain["status"] and "Bands used" not in plain["status"]


def test_upload_refusals_name_the_formats(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    from fers.io.formats import CUBE_FORMATS

    with pytest.raises(gr.Error, match=r"unsupported cube format \.txt; use ") as info:
        _run([tmp_path / "notes.txt"])
    assert all(name in info.value.message for name, _ in CUBE_FORMATS)  # the one list of formats
    (tmp_path / "other.xml").write_text("<a/>")
    with pytest.raises(gr.Error, match=r"other\.xml: \.xml is not a cube format"):
        _run([tmp_path / "other.xml"])


def test_prisma_he5_is_one_cube_file(tmp_path):
    pytest.importorskip("h5py")
    from tests.io.make_products import make_prisma

    product = make_prisma(tmp_path / "src.he5", rows=10, cols=9)
    he5 = _uploaded(product.path, tmp_path / "uploads")
    info = cb.on_cube_upload([he5])[4]
    n = len(product.wavelengths)
    lo, hi = product.wavelengths.min(), product.wavelengths.max()
    assert f"10 x 9 pixels, {n} bands, {lo:.0f}-{hi:.0f} nm, 1 marked bad" in info
    out = _run([he5])
    assert f"10 x 9 pixels, {n} bands" in out["status"] and "**Bands used**" in out["status"]
    with rasterio.open(_download(out, "_maps.tif")) as ds:
        assert ds.crs == rasterio.crs.CRS.from_epsg(product.epsg)
        assert tuple(ds.transform)[:6] == pytest.approx(product.transform)
