"""The one settings home (:mod:`fers.settings`): parsing, one-line refusals, overrides, and the
documented table kept equal to the code."""

from __future__ import annotations

from dataclasses import FrozenInstanceError, fields
from pathlib import Path

import pytest

from fers import settings as S
from fers.errors import FersInputError

REPO = Path(__file__).resolve().parents[1]


def test_every_field_has_one_variable():
    assert [v.field for v in S.VARIABLES] == [f.name for f in fields(S.Settings)]
    assert len({v.name for v in S.VARIABLES}) == len(S.VARIABLES)


def test_values_are_parsed(monkeypatch, tmp_path):
    monkeypatch.setenv("FERS_MAX_MEMORY", "1.5GB")
    monkeypatch.setenv("FERS_THREADS", " 3 ")
    monkeypatch.setenv("FERS_CACHE", str(tmp_path))
    monkeypatch.setenv("FERS_APP_TIME_LIMIT", "2.5")
    monkeypatch.delenv("FERS_WEIGHTS", raising=False)
    s = S.settings()
    assert (s.max_memory, s.threads, s.cache, s.app_time_limit, s.weights) == (int(1.5 * 2**30), 3, tmp_path, 2.5,
                                                                               None)
    with pytest.raises(FrozenInstanceError):
        s.threads = 1
    monkeypatch.setenv("FERS_THREADS", "2")  # a changed environment is seen at the next call
    assert S.settings().threads == 2


@pytest.mark.parametrize("name, raw", [("FERS_MAX_MEMORY", "lots"), ("FERS_THREADS", "0"),
                                       ("FERS_APP_WORKERS", "two"), ("FERS_APP_TIME_LIMIT", "-1"),
                                       ("FERS_ORT_THREADS", "-2"), ("GRADIO_SERVER_PORT", "http")])
def test_a_bad_value_is_one_line_naming_the_variable(monkeypatch, name, raw):
    monkeypatch.setenv(name, raw)
    with pytest.raises(FersInputError) as e:
        S.settings()
    assert str(e.value).startswith(f"{name}={raw!r} is not ") and "\n" not in str(e.value)


def test_override_and_adopt(monkeypatch):
    monkeypatch.setenv("FERS_THREADS", "4")
    with S.override(threads=1, app_workers=3) as s:
        assert s.threads == 1 and S.settings().app_workers == 3
    assert S.settings().threads == 4
    with pytest.raises(TypeError, match="unknown settings: nope"):
        with S.override(nope=1):
            pass
    monkeypatch.setattr(S, "_OVERRIDES", {})  # adopt lasts for the process: keep it inside this test
    S.adopt(ort_threads=2)
    assert S.settings().ort_threads == 2


def test_users_read_through_settings(monkeypatch, tmp_path):
    from fers.cache import cache_dir
    from fers.enhance.paths import weights_dir
    from fers.threads import compute_threads
    from fers.ui.limits import max_cube_values, serving

    monkeypatch.delenv("FERS_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "fers"
    with S.override(cache=tmp_path / "c", weights=tmp_path / "w", threads=5, app_max_values=7,
                    app_workers=3, app_worker_memory=2**20):
        assert cache_dir() == tmp_path / "c" and weights_dir() == tmp_path / "w" and compute_threads() == 5
        assert max_cube_values() == 7
        assert serving()["workers"] == 3 and serving()["worker_memory"] == 2**20


def test_env_for_names_the_variables():
    assert S.env_for(threads=2, ort_threads=2) == {"FERS_THREADS": "2", "FERS_ORT_THREADS": "2"}


def test_the_documented_table_is_the_code():
    """docs/settings.md holds :func:`fers.settings.markdown_table` between its markers, so the table
    cannot drift from the variables the code reads."""
    text = (REPO / "docs" / "settings.md").read_text()
    table = text.split("keeps it equal -->\n", 1)[1].split("\n<!-- end of generated table -->", 1)[0]
    assert table == S.markdown_table(), "regenerate the table: python -c 'import fers.settings as s; " \
                                        "print(s.markdown_table())'"
