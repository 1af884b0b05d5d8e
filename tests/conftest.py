"""Shared fixtures: the real-data folder (<repo>/../shared/data), checksum verification and a
session cache of loaded scenes, plus tiny seeded synthetic cubes."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = REPO.parent / "shared" / "data"
ABU_DIR = DATA_DIR / "abu"
WEIGHTS_REF_DIR = REPO.parent / "shared" / "weights"
NO_DATA_REASON = f"real data not found at {DATA_DIR} (a fresh clone has no ../shared/data)"


def _read_sums(root: Path = DATA_DIR) -> dict:
    sums = {}
    f = root / "SHA256SUMS"
    if f.is_file():
        for line in f.read_text().splitlines():
            if line.strip():
                digest, name = line.split(maxsplit=1)
                sums[name.strip().lstrip("*").removeprefix("./")] = digest
    return sums


_VERIFIED: dict = {}
_SCENES: dict = {}


def verified_path(rel: str, root: Path = DATA_DIR) -> Path:
    """Path of ``rel`` under ``root`` (the data folder, or :data:`WEIGHTS_REF_DIR`) after checking it
    against that folder's SHA256SUMS (skips when absent: a user's fresh clone has no ``../shared``)."""
    p = root / rel
    if not p.is_file():
        pytest.skip(f"{p} not found (a fresh clone has no ../shared)")
    if (root, rel) not in _VERIFIED:
        sums = _read_sums(root)
        assert rel in sums, f"{rel} is not listed in {root}/SHA256SUMS"
        digest = hashlib.sha256(p.read_bytes()).hexdigest()
        assert digest == sums[rel], f"{rel}: SHA256 mismatch (file changed or corrupt)"
        _VERIFIED[(root, rel)] = True
    return p


def load_verified_scene(rel: str):
    """:class:`fers.io.cube.Scene` of a checked data file, loaded once per test session."""
    from fers.io.cube import load_cube

    if rel not in _SCENES:
        _SCENES[rel] = load_cube(verified_path(rel))
    return _SCENES[rel]


def parse_readme_rx_table() -> dict:
    """``{file name: plain RX AUC}`` from the data README's ABU table."""
    out = {}
    for line in (DATA_DIR / "README.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 6 and cells[0].endswith(".mat"):
            out[cells[0]] = float(cells[4])
    return out


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not DATA_DIR.is_dir():
        pytest.skip(NO_DATA_REASON)
    return DATA_DIR


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture
def small_cube(rng):
    """(12, 10, 6) float32 cube with a few bright anomalies, and its (12, 10) bool ground truth."""
    cube = rng.normal(100.0, 5.0, size=(12, 10, 6)).astype(np.float32)
    gt = np.zeros((12, 10), dtype=bool)
    gt[3, 4] = gt[8, 2] = True
    cube[gt] += rng.normal(60.0, 10.0, size=(2, 6)).astype(np.float32)
    return cube, gt
