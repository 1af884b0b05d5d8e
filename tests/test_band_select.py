"""Wavelength band specs and bad-band dropping (fers.bands grammar, fers.band_select, fers.detect)."""

import numpy as np
import pytest

from fers.bands import WATER_WINDOWS_NM, parse_band_spec, planned_bands, resolve_bands, take_bands, water_bands
from fers.errors import FersInputError
from fers.pipeline import detect

WL = np.linspace(380.0, 2500.0, 120)  # 120 bands, 17.8 nm apart


def test_wavelength_grammar():
    assert parse_band_spec("400-1000nm").ranges == ((400.0, 1000.0),)
    assert parse_band_spec(" 400-1340NM , 1450-1800nm ").ranges == ((400.0, 1340.0), (1450.0, 1800.0))
    assert parse_band_spec("0.4-1.0um").ranges == ((400.0, 1000.0),)
    assert parse_band_spec("0.4-1.0µm").ranges == ((400.0, 1000.0),)
    assert parse_band_spec("400-1340,1450-1800nm").ranges == ((400.0, 1340.0), (1450.0, 1800.0))
    assert parse_band_spec("400-1000nm").describe() == "400-1000nm"
    for bad, why in (("400-1000", "needs a unit"), ("1000-400nm", "0 < LO < HI"), ("400-nm", "LO-HI"),
                     ("400-1000nm,", "empty item"), ("400-1000nm,1450-1800", "no unit"), ("a-bnm", "bad band spec")):
        with pytest.raises(FersInputError, match=why):
            parse_band_spec(bad)


def test_water_windows_and_flags_are_dropped_by_default():
    water = water_bands(WL)
    assert water.sum() == sum(((WL >= lo) & (WL <= hi)).sum() for lo, hi in WATER_WINDOWS_NM) > 0
    bad = np.zeros(120, bool)
    bad[[0, 1, 119]] = True
    spec, notes = resolve_bands(parse_band_spec("auto"), 120, WL, bad)
    assert spec.kind == "auto" and len(spec.keep) == 120 - 3 - water.sum()
    assert not set(spec.keep) & {0, 1, 119} and not water[list(spec.keep)].any()
    assert notes[0].code == "bands.dropped" and "3 marked bad in the file" in str(notes[0]) and "water-vapour" in str(notes[0])
    spec, notes = resolve_bands(parse_band_spec("auto"), 120, WL, bad, keep_bad=True)
    assert spec.keep is None and notes == []
    # a bad-band list alone (no wavelengths): only the flagged bands go
    spec, _ = resolve_bands(parse_band_spec("all"), 120, None, bad)
    assert len(spec.keep) == 117


def test_wavelength_range_selects_good_bands_inside():
    spec, notes = resolve_bands(parse_band_spec("400-1340nm,1450-1800nm"), 120, WL)
    idx = np.array(spec.indices)
    assert spec.kind == "list" and spec.describe() == "400-1340nm,1450-1800nm"
    inside = ((WL >= 400) & (WL <= 1340)) | ((WL >= 1450) & (WL <= 1800))
    np.testing.assert_array_equal(idx, np.flatnonzero(inside & ~water_bands(WL)))
    with pytest.raises(FersInputError, match="records no wavelengths"):
        resolve_bands(parse_band_spec("400-1000nm"), 120, None, None)
    with pytest.raises(FersInputError, match="selects 0 usable"):
        resolve_bands(parse_band_spec("3000-4000nm"), 120, WL)
    with pytest.raises(FersInputError, match="every one of the 3 bands"):
        resolve_bands(parse_band_spec("auto"), 3, [1400.0, 1410.0, 1420.0])
    with pytest.raises(FersInputError, match="has 5 entries for 120 bands"):
        resolve_bands(parse_band_spec("auto"), 120, WL[:5])


def test_index_range_loses_only_its_own_bad_bands():
    spec, notes = resolve_bands(parse_band_spec("10:30"), 120, WL)
    assert spec == parse_band_spec("10:30") and notes == []  # nothing bad in 10..29
    k = int(np.flatnonzero(water_bands(WL))[0])
    spec, notes = resolve_bands(parse_band_spec(f"{k - 3}:{k + 2}"), 120, WL)
    assert spec.kind == "list" and spec.indices == (k - 3, k - 2, k - 1) and "dropped 2" in str(notes[0])


def test_take_bands_is_a_view_for_one_run_and_planned_as_such():
    cube = np.arange(2 * 2 * 10, dtype=np.float32).reshape(2, 2, 10)
    assert np.shares_memory(take_bands(cube, (2, 3, 4)), cube)
    out = take_bands(cube, (1, 5))
    assert not np.shares_memory(out, cube) and np.array_equal(out, cube[..., [1, 5]])
    spec, _ = resolve_bands(parse_band_spec("auto"), 120, WL)
    sel, n, copies = planned_bands(spec, 120)
    assert sel == len(spec.keep) and n == 100 and copies


def test_detect_with_wavelengths_records_what_it_used():
    rng = np.random.default_rng(3)
    cube = rng.normal(size=(24, 24, 120)).astype(np.float32).cumsum(axis=2)
    cube[12, 12] += 4.0
    gt = np.zeros((24, 24), bool)
    gt[12, 12] = True
    res = detect(cube, gt, bands="400-1000nm", wavelengths=WL, methods=["rx"])
    d = res.to_dict()
    inside = np.flatnonzero((WL >= 400) & (WL <= 1000))
    assert d["bands"] == "400-1000nm" and d["wavelengths_used_nm"]["count"] == inside.size
    assert res.cube_used.shape[2] == 50  # 33 bands adapted to the nearest model size
    np.testing.assert_allclose(res.wavelengths_used, WL[inside])
    # the default drops the water bands: RX on the remaining bands equals RX on the cube without them
    keep = ~water_bands(WL)
    a = detect(cube, gt, bands="all", wavelengths=WL, methods=["rx"]).maps["rx"]
    b = detect(cube[..., keep], gt, bands="all", methods=["rx"]).maps["rx"]
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9)
    c = detect(cube, gt, bands="all", wavelengths=WL, keep_bad_bands=True, methods=["rx"]).maps["rx"]
    assert not np.allclose(a, c)
    with pytest.raises(FersInputError, match="records no wavelengths"):
        detect(cube, gt, bands="400-1000nm")


def test_streamed_memmap_drops_bad_bands_through_a_lazy_view(tmp_path, monkeypatch):
    """A memory-mapped scene on the streamed path: the bad-band drop is a lazy view (no copy of the
    cube), and the maps equal those of the same scene without the bad bands."""
    import fers.pipeline as pl
    from fers.bands import BandView

    rng = np.random.default_rng(5)
    cube = rng.normal(size=(30, 28, 120)).astype(np.float32).cumsum(axis=2)
    cube[7, 9] += 5.0
    np.save(tmp_path / "c.npy", cube)
    mm = np.load(tmp_path / "c.npy", mmap_mode="r")
    keep = ~water_bands(WL)
    monkeypatch.setattr("fers.memmap.LARGE_PIXELS", 30 * 28)
    seen = []
    real = pl.steps.take_chosen
    monkeypatch.setattr(pl.steps, "take_chosen", lambda *a, **k: seen.append(real(*a, **k)) or seen[-1])
    a = detect(mm, None, bands="auto", wavelengths=WL, methods=["rx"])
    assert isinstance(seen[0][0], BandView) and seen[0][0].shape == (30, 28, int(keep.sum()))
    np.save(tmp_path / "k.npy", np.ascontiguousarray(cube[..., keep]))
    b = detect(np.load(tmp_path / "k.npy", mmap_mode="r"), None, bands="auto", methods=["rx"])
    np.testing.assert_allclose(a.maps["rx"], b.maps["rx"], rtol=1e-6, atol=1e-9)
    view = BandView(mm, np.flatnonzero(keep))
    np.testing.assert_array_equal(np.asarray(view[3:5, 2:4]), cube[3:5, 2:4][..., keep])
    np.testing.assert_array_equal(view[..., [0, 2]], cube[..., np.flatnonzero(keep)[[0, 2]]])
    assert isinstance(view[..., :10], BandView) and view[..., :10].shape == (30, 28, 10)
