"""export/import_ferd.py: the authors' released Spe-FEN through our pipeline reproduces FERD's
published AUCs (README of FERD: airport-1 0.9478, airport-2 0.9861), as a user's --weights file.
The reference weights carry no licence: they are converted into a temp folder, never shipped."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from export import import_ferd
from fers.errors import FersInputError
from tests.conftest import REPO, WEIGHTS_REF_DIR, verified_path


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    convh = verified_path("ferd-reference/abu/convh_200bands.pt", WEIGHTS_REF_DIR)
    pc = verified_path("ferd-reference/abu/pc_200bands.pt", WEIGHTS_REF_DIR)
    layer1 = verified_path("ferd-reference/enc_layer1.pt", WEIGHTS_REF_DIR)
    out = tmp_path_factory.mktemp("ferd") / "ferd_abu_b200.pt"
    assert import_ferd.main(["--convh", str(convh), "--pc", str(pc), "--layer1", str(layer1), "--bands", "200",
                             "--out", str(out)]) == 0
    return out


def test_converted_weights_reproduce_the_published_aucs(converted):
    a1 = verified_path("abu/abu-airport-1.mat")
    a2 = verified_path("abu/abu-airport-2.mat")
    r = subprocess.run([sys.executable, "-m", "fers", "bench", str(a1), str(a2), "--bands", "200", "--adapter", "first", "--weights",
                        str(converted), "--json"], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    auc = {s["name"]: s["auc"] for s in out["scenes"]}
    assert auc["abu-airport-1"]["spectral"] == pytest.approx(0.9478, abs=2e-3)
    assert auc["abu-airport-2"]["spectral"] == pytest.approx(0.9861, abs=2e-3)
    assert set(auc["abu-airport-1"]) == {"rx", "spectral"}  # no Spa-FEN: its methods are skipped, with a note
    assert any(n["code"] == "model.no_spa" and "no Spa-FEN" in n["message"] for n in out["notes"]) and out["weights"] == str(converted)
    assert out["default_method"] == "spectral"


def test_converted_file_is_a_spe_only_checkpoint(converted):
    blob = torch.load(converted, map_location="cpu", weights_only=True)
    assert blob["format"] == "fers-fens-v1" and "spa_fen" not in blob and blob["config"]["spa"] is None
    rec = blob["config"]["training"]["imported"]
    assert "never shipped" in rec["licence"] and len(rec["files"]) == 3


def test_wrong_files_are_refused_in_one_line(tmp_path):
    bad = tmp_path / "convh.pt"
    torch.save({"state_dict": {"convh.weight": torch.zeros(64, 50, 1, 1)}}, bad)
    pc = tmp_path / "pc.pt"
    torch.save({"state_dict": {}}, pc)
    with pytest.raises(FersInputError, match=r"not \(64, 200, 1, 1\)"):
        import_ferd.convert(bad, pc, 200, layer1=pc)
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(FersInputError, match="cannot read"):
        import_ferd.convert(tmp_path / "junk.pt", pc, 200, layer1=pc)
