"""Convert the FERD authors' released Spe-FEN state dicts into a FERS checkpoint (Spe-FEN only).

    python export/import_ferd.py --convh convh_200bands.pt --pc pc_200bands.pt \
        [--layer1 enc_layer1.pt] --bands 200 --out ferd_b200.pt

FERD releases ``convh.pt`` (``convh.weight``: the CWL, B -> 64, 1x1, no bias) and ``pc.pt``
(``conv1.*``, ``conv2.*``: the FPL; ``conv3.*`` is the SFAM head, unused at inference), each as
``{"state_dict": ...}``. The frozen ``layer1`` is torchvision's ImageNet wide_resnet101_2 layer1
(``--layer1``: a ``layer1.*`` state dict, or FERD's ``enc.pt``; default: the local ImageNet file,
see ``fers.models.backbones.imagenet_layer1_path``). The result is a ``fers-fens-v1`` file without
a Spa-FEN: run it with ``fers detect/bench --weights FILE`` (torch backend); spatial and fused
methods are then skipped with a note. Files with another layout are refused in one line.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from fers.errors import FersError, FersInputError
from fers.export.exporter import file_sha256
from fers.models import SpeFEN, SpeFENConfig
from fers.models.backbones import IMAGENET_LAYER1_PROVENANCE, imagenet_layer1_path
from fers.models.checkpoint import save_fens


def _state(path: Path) -> dict:
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file
        raise FersInputError(f"cannot read ({type(exc).__name__})", path) from None
    sd = blob.get("state_dict", blob) if isinstance(blob, dict) else None
    if not isinstance(sd, dict):
        raise FersInputError("not a state dict", path)
    return sd


def convert(convh: Path, pc: Path, n_bands: int, layer1: Path | None = None) -> tuple[SpeFEN, dict]:
    """The authors' tensors in our :class:`SpeFEN` (``strict=True``) and its config record."""
    layer1 = layer1 or imagenet_layer1_path()
    cw, p, l1 = _state(convh), _state(pc), _state(layer1)
    if "convh.weight" not in cw:
        raise FersInputError("no 'convh.weight' (expected FERD's convh.pt)", convh)
    if tuple(cw["convh.weight"].shape[:2]) != (64, n_bands):
        raise FersInputError(f"convh.weight has shape {tuple(cw['convh.weight'].shape)}, not (64, {n_bands}, 1, 1)",
                             convh)
    hidden = int(p["conv1.weight"].shape[0]) if "conv1.weight" in p else 0
    spe = SpeFEN(SpeFENConfig(n_bands, backbone="wide_resnet101_2", fpl_hidden=hidden))
    sd = {"cwl.conv.weight": cw["convh.weight"]}
    sd.update({f"fpl.{k}": v for k, v in p.items() if k.split(".")[0] in ("conv1", "conv2")})
    sd.update({k if k.startswith("layer1.") else f"layer1.{k}": v for k, v in l1.items()})
    try:
        spe.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in sd.items()}, strict=True)
    except RuntimeError as exc:
        raise FersInputError(f"tensors do not fit a {n_bands}-band Spe-FEN ({str(exc).splitlines()[0][:120]})",
                             pc) from None
    record = {"source": "FERD authors' released Spe-FEN (converted by export/import_ferd.py)",
              "files": {f.name: file_sha256(f) for f in (convh, pc, layer1)},
              "backbone_provenance": IMAGENET_LAYER1_PROVENANCE,
              "licence": "none stated by the authors: for tests and comparison only, never shipped"}
    return spe.eval(), record


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--convh", type=Path, required=True)
    ap.add_argument("--pc", type=Path, required=True)
    ap.add_argument("--layer1", type=Path, default=None)
    ap.add_argument("--bands", type=int, required=True)
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args(argv)
    try:
        spe, record = convert(a.convh, a.pc, a.bands, a.layer1)
        save_fens(a.out, spe, None, {"n_bands": a.bands, "training": {"imported": record}})
    except FersError as e:
        print(f"fers: error: {e}", file=sys.stderr)
        return e.exit_code
    print(f"wrote {a.out} (Spe-FEN only, {a.bands} bands)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
