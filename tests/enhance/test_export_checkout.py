"""The README's ``python export/to_onnx.py`` on a fresh checkout (issue 21, items 1 and 2).

The script runs in a copy of this working tree made into its own git repository, with no
``../shared`` beside it and ``$FERS_CACHE`` in a temporary folder. It must leave ``git status``
clean (the files go to the user cache; only ``--release`` rewrites ``weights/onnx``) and report AUC
parity on the scenes bundled in ``fers/examples``. ``--bands 50`` keeps it to one model (about a
minute); the other band counts take the same path.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fers.methods import METHODS
from tests.conftest import REPO

pytest.importorskip("torch")
pytest.importorskip("onnxscript")

BUNDLED = sorted(p.stem for p in (REPO / "fers" / "examples").glob("*.mat"))


def _git(cwd, *args) -> str:
    return subprocess.run(["git", "-c", "user.name=fers-test", "-c", "user.email=test@invalid", *args], cwd=cwd,
                          check=True, capture_output=True, text=True).stdout


def copy_of_checkout(dst: Path) -> Path:
    """The working tree's files (tracked and new, not ignored ones) copied to ``dst`` and committed there."""
    listed = _git(REPO, "ls-files", "-z", "--cached", "--others", "--exclude-standard").split("\0")
    for rel in filter(None, listed):
        src = REPO / rel
        if src.is_file():
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst / rel)
    _git(dst, "init", "-q")
    _git(dst, "add", "-A")
    _git(dst, "commit", "-q", "-m", "copy")
    return dst


def test_readme_export_leaves_the_checkout_clean_and_reports_aucs(tmp_path):
    repo = copy_of_checkout(tmp_path / "fers")
    assert not (repo.parent / "shared").exists()
    cache = tmp_path / "cache"
    env = {k: v for k, v in os.environ.items() if k not in ("FERS_WEIGHTS", "PYTHONPATH")}
    env.update(FERS_CACHE=str(cache), PYTHONPATH=str(repo))
    r = subprocess.run([sys.executable, "export/to_onnx.py", "--bands", "50"], cwd=repo, env=env,
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout + r.stderr
    report = r.stdout

    assert _git(repo, "status", "--porcelain") == ""
    ignored = _git(repo, "status", "--porcelain", "--ignored").splitlines()
    assert all(line.rstrip("/").endswith("__pycache__") for line in ignored), ignored  # nothing else written
    assert sorted(p.name for p in (cache / "onnx").iterdir()) == ["fers_b50_spa.onnx", "fers_b50_spe.onnx"]

    assert "scenes bundled in" in report and "random cubes only" not in report
    for name in BUNDLED:  # every method's AUC, torch/onnx, on each bundled scene
        row = next(line for line in report.splitlines() if re.search(rf"\s{re.escape(name)}\s", line))
        assert len(re.findall(r"\d\.\d{4}/\d\.\d{4}", row)) == len(METHODS) and row.endswith("yes"), row
    assert re.search(r"parity OK on \d+ inputs", report)
    assert "weights/onnx are unchanged (--release replaces them)" in report
