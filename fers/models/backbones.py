"""torchvision ResNet backbones for the two FENs, with explicit weight initialisation.

``init="none"``: torchvision's random initialisation (seed it with ``torch.manual_seed`` first).
``init="imagenet"``: torchvision's ImageNet weights from the local torch hub cache, or downloaded;
when that is impossible a :class:`~fers.errors.FersModelError` says so (never a silent fallback).
For the Spe-FEN only ``layer1`` is needed: :func:`build_layer1` builds just that stage, and for
``wide_resnet101_2`` reads torchvision's ImageNet ``layer1`` from a local file
(``$FERS_IMAGENET_LAYER1``, default ``<user cache>/imagenet/``; training sets it, see
``training/config.py``).
Shipped checkpoints carry the tensors themselves, so inference never needs that file.

Freezing (paper: frozen encoder in stage 1, frozen ResNet-34 in stage 2) means
``requires_grad=False`` *and* BatchNorm kept in eval mode, so running statistics never change.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn

from fers.errors import FersInputError, FersModelError

RESNETS = ("resnet18", "resnet34", "resnet50", "wide_resnet50_2", "wide_resnet101_2")
INITS = ("none", "imagenet")


def build_resnet(name: str, init: str = "none") -> nn.Module:
    """A full torchvision ResNet ``name`` with ``init`` in {"none", "imagenet"}."""
    import torchvision

    if name not in RESNETS:
        raise FersInputError(f"unknown backbone {name!r}; choose one of {', '.join(RESNETS)}")
    if init not in INITS:
        raise FersInputError(f"unknown backbone init {init!r}; choose 'none' or 'imagenet'")
    if init == "none":
        return torchvision.models.get_model(name, weights=None)
    weights = torchvision.models.get_model_weights(name).IMAGENET1K_V1
    try:
        return torchvision.models.get_model(name, weights=weights)
    except Exception as exc:  # no internet and no cached file, corrupt cache, ...
        import torch.hub

        raise FersModelError(
            f"cannot load ImageNet weights for {name} ({type(exc).__name__}: {exc}); put "
            f"{weights.url.rsplit('/', 1)[-1]} into {torch.hub.get_dir()}/checkpoints or use "
            f"--backbone-weights none"
        ) from None


# wide_resnet101_2's layer1 has exactly the structure of wide_resnet50_2's (3 Bottlenecks, width 128)
WIDE_LAYER1 = ("wide_resnet50_2", "wide_resnet101_2")
IMAGENET_LAYER1_FILE = "wide_resnet101_2_imagenet1k_v1_layer1.pt"
IMAGENET_LAYER1_PROVENANCE = ("torchvision wide_resnet101_2 IMAGENET1K_V1, layer1 only (BSD-3-Clause, "
                              "torchvision licence)")


def imagenet_layer1_path() -> Path:
    """Where the local ImageNet ``layer1`` file is looked for (``$FERS_IMAGENET_LAYER1`` first)."""
    from fers.cache import cache_dir
    from fers.settings import settings

    return settings().imagenet_layer1 or cache_dir() / "imagenet" / IMAGENET_LAYER1_FILE


def _wide_layer1() -> nn.Sequential:
    """A random-init ``layer1`` shaped like wide_resnet50_2/101_2's: ``(N, 64, h, w) -> (N, 256, h, w)``."""
    from torchvision.models.resnet import Bottleneck, conv1x1

    down = nn.Sequential(conv1x1(64, 256), nn.BatchNorm2d(256))
    blocks = [Bottleneck(64, 64, downsample=down, base_width=128)]
    blocks += [Bottleneck(256, 64, base_width=128) for _ in range(2)]
    return nn.Sequential(*blocks)


def build_layer1(name: str, init: str = "none") -> nn.Sequential:
    """Only ``layer1`` of ResNet ``name`` (the Spe-FEN backbone), with ``init`` in {"none", "imagenet"}."""
    if name not in WIDE_LAYER1:
        return build_resnet(name, init).layer1
    layer1 = _wide_layer1()
    if init == "imagenet":
        path = imagenet_layer1_path()
        if not path.is_file():
            raise FersModelError(f"ImageNet layer1 of {name} not found; set FERS_IMAGENET_LAYER1", path)
        sd = torch.load(path, map_location="cpu", weights_only=True)
        layer1.load_state_dict({k.removeprefix("layer1."): v for k, v in sd.items()}, strict=True)
    elif init not in INITS:
        raise FersInputError(f"unknown backbone init {init!r}; choose 'none' or 'imagenet'")
    return layer1


def light_deep_layers(c_in: int, widths=(128, 256)) -> list:
    """Two random-init BasicBlock stages (stride 2 each) after a wide ``layer1``: the stage-1 encoder's
    ``layer2``/``layer3`` when no ImageNet weights exist for them (a frozen random projection that only
    feeds the reverse-distillation decoder; it is pruned away)."""
    from torchvision.models.resnet import BasicBlock, conv1x1

    out, c = [], c_in
    for w in widths:
        down = nn.Sequential(conv1x1(c, w, 2), nn.BatchNorm2d(w))
        out.append(nn.Sequential(BasicBlock(c, w, 2, downsample=down), BasicBlock(w, w)))
        c = w
    return out


def layer_channels(layer: nn.Sequential) -> int:
    """Output channels of a ResNet stage (BasicBlock: bn2, Bottleneck: bn3)."""
    last = layer[-1]
    bn = getattr(last, "bn3", None) or last.bn2
    return int(bn.num_features)


def freeze(module: nn.Module) -> nn.Module:
    """Stop gradients and put the module in eval mode (BatchNorm statistics fixed)."""
    for p in module.parameters():
        p.requires_grad_(False)
    module.eval()
    module._fers_frozen = True  # noqa: SLF001  (read by FrozenAwareModule.train)
    return module


class FrozenAwareModule(nn.Module):
    """``nn.Module`` whose ``train()`` keeps submodules marked by :func:`freeze` in eval mode."""

    def train(self, mode: bool = True):
        super().train(mode)
        for m in self.modules():
            if getattr(m, "_fers_frozen", False):
                m.eval()
        return self
