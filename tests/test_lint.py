"""Lint (ruff, configured in pyproject.toml) and the public API's numpydoc docstrings."""

from __future__ import annotations

import importlib.util
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

import fers

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(importlib.util.find_spec("ruff") is None, reason="ruff is not installed (pip install ruff)")
def test_ruff_finds_nothing():
    r = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format", "concise",
                        "fers", "app.py", "export", "training", "tests"], cwd=REPO, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr


def _sections(obj) -> set:
    """numpydoc section titles (a line followed by a line of dashes as long) in ``obj``'s docstring."""
    lines = inspect.cleandoc(obj.__doc__ or "").splitlines()
    return {a.strip() for a, b in zip(lines, lines[1:]) if b.strip() and set(b.strip()) == {"-"}
            and len(b.strip()) == len(a.strip())}


PUBLIC = [n for n in fers.__all__ if n != "__version__"]


@pytest.mark.parametrize("name", PUBLIC)
def test_public_api_has_numpydoc_sections(name):
    obj = getattr(fers, name)
    got = _sections(obj)
    if inspect.isclass(obj) and issubclass(obj, Exception):
        assert obj.__doc__, name  # the kinds document their use in one paragraph; the base its parameters
        if obj is fers.FersError:
            assert "Parameters" in got
    elif inspect.isclass(obj):
        assert got & {"Attributes", "Parameters"}, f"{name}: no Attributes/Parameters section"
    else:
        assert {"Parameters", "Returns"} <= got, f"{name}: sections {sorted(got)}"
