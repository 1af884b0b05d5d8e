"""Save / load the two inference FENs and their configuration in one ``.pt`` file.

File layout (a plain dict, loaded with ``torch.load(weights_only=True)``)::

    {"format": "fers-fens-v1", "config": {...}, "spe_fen": state_dict, "spa_fen": state_dict,
     "fp16_keys": {"spe_fen": [...], "spa_fen": [...]}}

``config`` holds ``n_bands``, ``spe`` / ``spa`` architecture dicts (:class:`SpeFENConfig`,
:class:`SpaFENConfig`), ``normalization``, ``band_adapter`` and a free-form ``training`` record.
A Spe-FEN-only checkpoint (e.g. converted by ``export/import_ferd.py``) has ``config["spa"] = None``
and no ``spa_fen``; methods that need the Spa-FEN are then skipped.
Frozen backbone tensors are stored as float16 and restored to float32 on load (training rounds
them to float16 values first, so the stored model is the trained one bit for bit).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import torch

from fers.bands import ADAPTER_RULE
from fers.errors import FersError, FersModelError
from fers.models.spa_fen import SpaFEN, SpaFENConfig
from fers.models.spe_fen import SpeFEN, SpeFENConfig
from fers.normalize import NORMALIZATION

FORMAT = "fers-fens-v1"


def default_config(n_bands: int, spe_backbone: str = "resnet18", spa_backbone: str = "resnet18") -> dict:
    """A complete config for random-init models with ``n_bands`` bands."""
    return {
        "n_bands": int(n_bands),
        "spe": asdict(SpeFENConfig(int(n_bands), backbone=spe_backbone).resolved()),
        "spa": asdict(SpaFENConfig(int(n_bands), backbone=spa_backbone)),
        "normalization": dict(NORMALIZATION),
        "band_adapter": ADAPTER_RULE,
        "training": {},
    }


def build_fens(config: dict | int) -> tuple[SpeFEN, SpaFEN | None]:
    """Random-init ``(SpeFEN, SpaFEN)`` from a config dict (or a band count), backbones init 'none';
    the SpaFEN is None when ``config["spa"]`` is None (a Spe-FEN-only checkpoint)."""
    if not isinstance(config, dict):
        config = default_config(int(config))
    spe_cfg = SpeFENConfig(**{**config["spe"], "backbone_init": "none"})
    if config.get("spa") is None:
        return SpeFEN(spe_cfg), None
    spa_cfg = SpaFENConfig(**{**config["spa"], "backbone_init": "none"})
    return SpeFEN(spe_cfg), SpaFEN(spa_cfg)


def frozen_keys(module: torch.nn.Module) -> list[str]:
    """State-dict keys of float tensors inside submodules marked frozen (see ``models.backbones.freeze``)."""
    keys = []
    sd = module.state_dict()
    for name, sub in module.named_modules():
        if getattr(sub, "_fers_frozen", False):
            prefix = f"{name}." if name else ""
            keys += [k for k in sd if k.startswith(prefix) and sd[k].is_floating_point()]
    return sorted(set(keys))


def round_frozen_to_fp16(module: torch.nn.Module) -> None:
    """Round frozen float tensors to float16-representable values in place (before training)."""
    sd = module.state_dict()
    with torch.no_grad():
        for k in frozen_keys(module):
            sd[k].copy_(sd[k].half().float())


def _pack(module: torch.nn.Module) -> tuple[dict, list[str]]:
    half = frozen_keys(module)
    sd = {k: (v.detach().cpu().half() if k in half else v.detach().cpu().clone()) for k, v in module.state_dict().items()}
    return sd, half


def save_fens(path, spe: SpeFEN, spa: SpaFEN | None, config: dict) -> Path:
    """Write both FENs (or the Spe-FEN alone, ``spa=None``) and ``config`` to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    full = dict(config)
    full.setdefault("n_bands", spe.cfg.n_bands)
    full.setdefault("normalization", dict(NORMALIZATION))
    full.setdefault("band_adapter", ADAPTER_RULE)
    full["spe"] = asdict(spe.cfg)
    full["spa"] = asdict(spa.cfg) if spa is not None else None
    blob = {"format": FORMAT, "config": full, "fp16_keys": {}}
    for key, net in (("spe_fen", spe), ("spa_fen", spa)):
        if net is not None:
            blob[key], blob["fp16_keys"][key] = _pack(net)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(blob, tmp)
    tmp.replace(path)
    return path


def load_checkpoint_dict(path, fmt: str = FORMAT, keys=("config", "spe_fen")) -> dict:
    """Read a checkpoint of format ``fmt`` holding ``keys`` (weights only, no pickled code); any problem
    -> one-line :class:`~fers.errors.FersModelError`. The training scripts read their stage-1 files through it too."""
    path = Path(path)
    if not path.is_file():
        raise FersModelError("checkpoint not found", path)
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise FersModelError(f"cannot read checkpoint ({type(exc).__name__})", path) from None
    if not isinstance(blob, dict) or blob.get("format") != fmt:
        raise FersModelError(f"not a FERS checkpoint (expected format {fmt})", path)
    for key in keys:
        if key not in blob:
            raise FersModelError(f"checkpoint lacks '{key}'", path)
    return blob


def checkpoint_bands(path) -> int:
    """Band count of a FERS checkpoint (one-line :class:`~fers.errors.FersModelError` when it is not one)."""
    cfg = load_checkpoint_dict(path, keys=("config",))["config"]
    try:
        return int(cfg["n_bands"])
    except (KeyError, TypeError, ValueError):
        raise FersModelError("checkpoint config has no band count", path) from None


def load_fens(path, device="cpu") -> tuple[SpeFEN, SpaFEN | None, dict]:
    """``(spe_fen, spa_fen, config)`` from a checkpoint, float32, in eval mode on ``device``
    (``spa_fen`` None for a Spe-FEN-only checkpoint)."""
    blob = load_checkpoint_dict(path)
    config = blob["config"]
    if config.get("spa") is not None and "spa_fen" not in blob:
        raise FersModelError("checkpoint lacks 'spa_fen'", path)
    try:
        spe, spa = build_fens(config)
        for net, key in ((spe, "spe_fen"), (spa, "spa_fen")):
            if net is None:
                continue
            sd = {k: (v.float() if v.is_floating_point() else v) for k, v in blob[key].items()}
            net.load_state_dict(sd, strict=True)
    except FersError:
        raise
    except Exception as exc:
        msg = str(exc).splitlines()[0] if str(exc) else ""
        raise FersModelError(f"checkpoint does not match its config ({type(exc).__name__}: {msg[:160]})", path) from None
    return spe.to(device).eval(), (spa.to(device).eval() if spa is not None else None), config
