"""Memory estimates and the choice in-memory / streamed / refused (fers.budget, fers.pipeline.plan_request)."""

import numpy as np
import pytest

from fers import budget, progress
from fers.errors import FersInputError, FersResourceError
from fers.pipeline import detect, plan_request


def test_parse_size_and_budget(monkeypatch):
    assert budget.parse_size("3.5GiB") == int(3.5 * 2**30) and budget.parse_size("800MB") == 800 * 2**20
    assert budget.parse_size("123") == 123 and budget.parse_size("2 g") == 2 * 2**30
    with pytest.raises(ValueError):
        budget.parse_size("lots")
    monkeypatch.setenv("FERS_MAX_MEMORY", "lots")
    with pytest.raises(FersInputError, match="FERS_MAX_MEMORY"):
        budget.max_memory()
    monkeypatch.setenv("FERS_MAX_MEMORY", "1GB")
    assert budget.max_memory() <= 2**30


@pytest.fixture
def fresh_process(monkeypatch):
    """The estimates include this process's resident size; pin it to a fresh CLI process's (~200 MiB), so
    the decisions below do not depend on what earlier tests loaded into the pytest process."""
    monkeypatch.setattr(budget, "current_rss", lambda: 200 * 2**20)
    monkeypatch.setenv("FERS_MAX_MEMORY", "3.5GB")


def test_paths_chosen_from_shapes(fresh_process):
    assert plan_request((100, 100, 205), resident=100 * 100 * 205 * 4) is False  # a benchmark scene: in memory
    assert plan_request((1000, 1000, 200), memmap=True) is True  # flight-line scene: streamed
    # under 1 Mpixel but too big for memory with the models: streamed instead of refused
    assert plan_request((700, 1000, 100), resident=700 * 1000 * 100 * 4, gt=True) is True
    with pytest.raises(FersResourceError, match="crop the scene to about"):  # the AE never streams
        plan_request((900, 1000, 205), resident=900 * 1000 * 205 * 4, detector="ae")
    with pytest.raises(FersResourceError, match=r"100000000 bands.*select fewer bands"):
        plan_request((30, 20, 12), resident=30 * 20 * 12 * 4, bands="100000000")
    with pytest.raises(FersResourceError) as info:
        plan_request((5000, 5000, 3), resident=5000 * 5000 * 3 * 4)
    msg = str(info.value)
    assert "5000x5000 pixels x 50 bands" in msg and "bands 'all' (plain RX" in msg and "\n" not in msg
    assert plan_request((5000, 5000, 3), resident=5000 * 5000 * 3 * 4, bands="all") is True


def test_a_budget_refusal_says_what_fits(fresh_process):
    with pytest.raises(FersResourceError) as info:
        plan_request((5000, 5000, 3), resident=5000 * 5000 * 3 * 4)
    side = int(str(info.value).split("crop the scene to about ")[1].split("x")[0])
    plan_request((side, side, 3), resident=side * side * 3 * 4)  # the advice holds
    with pytest.raises(FersResourceError):
        plan_request((side + 50, side + 50, 3), resident=(side + 50) ** 2 * 3 * 4)


def test_detect_streams_what_does_not_fit_in_memory(monkeypatch, small_cube):
    """When the in-memory estimate is over the budget, detect takes the streamed path: same RX map."""
    cube, gt = small_cube
    ref = detect(cube, gt, bands="all")
    monkeypatch.setattr(budget, "in_memory_need", lambda req: budget.Need(0, {"everything": 2**50}))
    res = detect(cube, gt, bands="all")
    assert any(n.code == "large.streamed" for n in res.notes)
    np.testing.assert_allclose(res.maps["rx"], ref.maps["rx"], rtol=1e-5, atol=1e-9)


def test_progress_bars_only_when_shown(capsys, small_cube):
    cube, gt = small_cube
    detect(cube, gt, bands="all")
    assert "detect" not in capsys.readouterr().err  # the library is quiet by default
    with progress.shown():
        detect(cube, gt, bands="all")
    assert "detect" in capsys.readouterr().err
