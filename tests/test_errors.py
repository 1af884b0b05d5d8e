"""The error kinds of :mod:`fers.errors`: one line each, and the CLI's exit code per kind."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fers import cli
from fers.enhance import ModelUnavailable
from fers.errors import (
    EXIT_CODES,
    FersClusterError,
    FersError,
    FersInputError,
    FersModelError,
    FersResourceError,
    kind_of,
    with_path,
)

REPO = Path(__file__).resolve().parents[1]
KINDS = [(FersInputError, 2), (FersModelError, 3), (FersResourceError, 4), (FersClusterError, 5)]


def test_kinds_are_one_line_fers_errors():
    for cls, code in KINDS:
        e = cls("line one\n  line two", "cube.npy")
        assert isinstance(e, FersError) and str(e) == "cube.npy: line one line two" and e.exit_code == code
        assert kind_of(e) is cls and EXIT_CODES[cls.__name__] == code
    assert isinstance(FersInputError("x"), ValueError)  # as before the hierarchy
    assert not isinstance(FersModelError("x"), ValueError)
    assert isinstance(ModelUnavailable("x"), FersModelError) and kind_of(ModelUnavailable("x")) is FersModelError


def test_with_path_keeps_the_kind_and_an_existing_path():
    e = with_path(FersResourceError("over the budget"), "a.tif")
    assert type(e) is FersResourceError and str(e) == "a.tif: over the budget"
    named = FersModelError("broken", "m.pt")
    assert with_path(named, "a.tif") is named


@pytest.mark.parametrize("cls, code", KINDS)
def test_cli_exit_code_per_kind(monkeypatch, capsys, cls, code):
    def refuse(a):
        raise cls("the problem", a.cube)

    monkeypatch.setattr(cli, "cmd_detect", refuse)
    assert cli.main(["detect", "x.npy"]) == code
    assert capsys.readouterr().err.strip().splitlines() == ["fers: error: x.npy: the problem"]


def test_exit_codes_are_in_the_help():
    text = " ".join(cli.build_parser().format_help().split())
    for phrase in ("2 bad input", "3 a model", "4 not enough memory", "5 the Dask cluster"):
        assert phrase in text


def test_a_broken_checkpoint_exits_3(tmp_path):
    """Through the real command: ``--weights`` that is not a checkpoint is a model error, not bad input."""
    pytest.importorskip("torch")
    np.save(tmp_path / "c.npy", np.random.default_rng(0).random((12, 12, 20)).astype(np.float32))
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    r = subprocess.run([sys.executable, "-m", "fers", "detect", str(tmp_path / "c.npy"), "--weights",
                        str(tmp_path / "bad.pt")], cwd=REPO, capture_output=True, text=True, timeout=300)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 3 and lines == [f"fers: error: {tmp_path / 'bad.pt'}: cannot read checkpoint "
                                           "(UnpicklingError)"], r.stderr


def test_an_unreachable_scheduler_is_a_cluster_error(monkeypatch):
    distributed = pytest.importorskip("dask.distributed")
    from fers import batch

    def no_scheduler(*a, **k):
        raise OSError("Timed out trying to connect to tcp://10.0.0.1:8786")

    monkeypatch.setattr(distributed, "Client", no_scheduler)
    with pytest.raises(FersClusterError, match="cannot connect to the Dask scheduler"):
        with batch.connect("tcp://10.0.0.1:8786"):
            pass
