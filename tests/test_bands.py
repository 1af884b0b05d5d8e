"""Band specs, band selection, the band adapter (first N / interpolation) and normalisation."""

from __future__ import annotations

import numpy as np
import pytest

from fers.bands import ADAPTER_RULE, adapt_bands, nearest_model_bands, parse_band_spec, prepare_bands, select_bands
from fers.errors import FersInputError
from fers.normalize import NORMALIZATION, normalize_cube


@pytest.fixture
def cube(rng):
    return rng.random((4, 5, 30)).astype(np.float32) * 1000


def test_parse_band_spec_forms():
    assert parse_band_spec("all").kind == "all" and parse_band_spec(None).kind == "auto"
    assert parse_band_spec("100").count == 100 and parse_band_spec(50).count == 50
    r = parse_band_spec("10:60")
    assert (r.kind, r.start, r.stop, r.describe()) == ("range", 10, 60, "10:60")
    assert parse_band_spec(":20").start == 0
    assert parse_band_spec("3,1,7").indices == (3, 1, 7)
    assert parse_band_spec("").kind == "auto"
    for bad in ("abc", "1", "0", "5:5", "9:2", "-3:4", "1,-2", "1:2:3", "1,,2", "1,2,", "+3:9"):
        with pytest.raises(FersInputError, match="bad band spec"):
            parse_band_spec(bad)


def test_band_spec_grammar_is_consistent(cube):
    """Issue 11 item 16: '5:' works like ':50' does, and repeated indices are refused."""
    open_end = parse_band_spec("5:")
    assert (open_end.kind, open_end.start, open_end.stop, open_end.describe()) == ("range", 5, None, "5:")
    np.testing.assert_array_equal(select_bands(cube, open_end), cube[..., 5:])
    np.testing.assert_array_equal(select_bands(cube, parse_band_spec(" : ")), cube)
    assert parse_band_spec(" 2 : 9 ") == parse_band_spec("2:9")
    for dup in ("1,1,1", "4,2,4"):
        with pytest.raises(FersInputError, match=r"listed more than once; use 'auto'") as e:
            parse_band_spec(dup)
        assert "\n" not in str(e.value)
    with pytest.raises(FersInputError, match="STOP must be greater than START"):
        parse_band_spec("7:3")
    with pytest.raises(FersInputError, match="beyond"):
        select_bands(cube, parse_band_spec("30:"))


def test_first_n_when_enough_bands(cube):
    out, how = adapt_bands(cube, 20)
    np.testing.assert_array_equal(out, cube[..., :20])
    assert how == "first 20 of 30 bands"
    same, how2 = adapt_bands(cube, 30)
    assert same is cube and "identity" in how2


def test_interpolation_matches_np_interp_per_pixel(cube):
    out, how = adapt_bands(cube, 47)
    assert out.shape == (4, 5, 47) and out.dtype == np.float32 and "interpolation 30 -> 47" in how
    src, dst = np.linspace(0, 1, 30), np.linspace(0, 1, 47)
    for i in range(4):
        for j in range(5):
            np.testing.assert_allclose(out[i, j], np.interp(dst, src, cube[i, j]), rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(out[..., 0], cube[..., 0])  # end points are kept
    np.testing.assert_allclose(out[..., -1], cube[..., -1], rtol=1e-6)


def test_range_and_list_selection(cube):
    np.testing.assert_array_equal(select_bands(cube, parse_band_spec("5:12")), cube[..., 5:12])
    np.testing.assert_array_equal(select_bands(cube, parse_band_spec("25:99")), cube[..., 25:])
    np.testing.assert_array_equal(select_bands(cube, parse_band_spec("4,2,9")), cube[..., [4, 2, 9]])
    with pytest.raises(FersInputError, match="beyond"):
        select_bands(cube, parse_band_spec("40:50"))
    with pytest.raises(FersInputError, match="out of range"):
        select_bands(cube, parse_band_spec("1,31"))
    with pytest.raises(FersInputError, match="leaves 1 band"):
        select_bands(cube, parse_band_spec("29:40"))


def test_prepare_bands_and_adapter_description(cube):
    out, n, how = prepare_bands(cube, parse_band_spec("all"))
    assert out is cube and n is None and "all 30" in how
    out, n, how = prepare_bands(cube, parse_band_spec("50"))
    assert out.shape[-1] == 50 and n == 50 and "interpolation" in how
    out, n, how = prepare_bands(cube, parse_band_spec("0:20"))  # 20 bands -> nearest model, 50
    assert n == nearest_model_bands(20) == 50 and out.shape[-1] == 50 and how.startswith("bands 0:20 then")
    assert nearest_model_bands(75) == 100 and nearest_model_bands(160) == 200 and nearest_model_bands(140) == 100
    assert "first N" in ADAPTER_RULE and "interpolation" in ADAPTER_RULE


def test_normalize_cube_range_and_constant(cube):
    h = normalize_cube(cube)
    s = NORMALIZATION["scale"]
    assert h.dtype == np.float32 and h.shape == cube.shape
    assert h.min() == pytest.approx(-s) and h.max() == pytest.approx(s)
    expect = s * (2 * (cube.astype(np.float64) - cube.min()) / (cube.max() - cube.min()) - 1)
    np.testing.assert_allclose(h, expect, atol=1e-6)
    assert not normalize_cube(np.full((2, 2, 3), 5.0)).any()


def test_auto_spec_adapts_to_nearest_model_and_says_so(cube):
    spec = parse_band_spec(None)
    assert spec.kind == "auto" and parse_band_spec("auto") == spec
    out, n, how = prepare_bands(cube, spec)  # 30 bands -> nearest shipped model is 50 (interpolated)
    assert n == 50 and out.shape == (4, 5, 50) and how.startswith("auto: rx on all 30 bands")


@pytest.mark.parametrize("n", [5, 12, 30])
def test_resample_bands_is_linear_interpolation_per_spectrum(n):
    """``resample_bands`` equals np.interp of every spectrum over the same band range (rows in
    chunks included)."""
    from fers.bands import resample_bands

    cube = np.random.default_rng(n).random((7, 9, 12), dtype=np.float32)
    want = np.apply_along_axis(lambda s: np.interp(np.linspace(0, 1, n), np.linspace(0, 1, 12), s), 2, cube)
    got = resample_bands(cube, n, chunk_bytes=9 * 12 * 4 * 2)  # two rows a chunk
    assert got.shape == (7, 9, n) and got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
