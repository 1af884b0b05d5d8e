"""The README's embedding snippet (NumPy + ONNX Runtime only) runs and reproduces the package.

The snippet is read from README.md, pointed at the shipped 50-band ONNX files (exported on first use
from weights/fers_b50.pt) and a bundled example scene, and its default map (and fusion A) must give the AUC of
``fers.pipeline.detect`` with the ONNX backend.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fers.enhance.paths import shipped_checkpoint
from fers.io.cube import load_cube
from fers.methods import DEFAULT_FUSION
from fers.metrics import auc
from fers.pipeline import detect

REPO = Path(__file__).resolve().parents[1]


def _snippet() -> str:
    text = (REPO / "README.md").read_text()
    section = text[text.index("### Embedding: NumPy + ONNX Runtime only"):]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


def test_readme_embedding_snippet_matches_pipeline(tmp_path):
    if not shipped_checkpoint(50).is_file():
        pytest.skip(f"{shipped_checkpoint(50)} not present")
    from fers.enhance.paths import find_onnx

    spe, spa = (str(p) for p in find_onnx(50))
    scene = load_cube(REPO / "fers" / "examples" / "abu-urban-3.mat")
    np.save(tmp_path / "scene.npy", scene.cube)
    code = _snippet()
    for old, new in (("weights/onnx/fers_b200_spe.onnx", spe), ("weights/onnx/fers_b200_spa.onnx", spa),
                     ("scene.npy", str(tmp_path / "scene.npy"))):
        assert f'"{old}"' in code, f"README snippet no longer loads {old}"
        code = code.replace(f'"{old}"', repr(new))
    ns: dict = {}
    exec(compile(code, "README.md snippet", "exec"), ns)
    ref = detect(scene.cube, scene.gt, bands="50", backend="onnx")
    assert ns["scores"].shape == scene.gt.shape
    assert ref.default_method == DEFAULT_FUSION == "fusion_rel"  # the snippet computes the default map
    assert auc(ns["scores"], scene.gt) == pytest.approx(ref.auc[DEFAULT_FUSION], abs=1e-4)
    assert auc(ns["fusion_a"], scene.gt) == pytest.approx(ref.auc["fusion_mult"], abs=1e-4)
