"""torchvision ResNet backbones for the two FENs, with explicit weight initialisation.

``init="none"``: torchvision's random initialisation (seed it with ``torch.manual_seed`` first).
``init="imagenet"``: torchvision's ImageNet weights from the local torch hub cache, or downloaded;
when that is impossible a :class:`~fers.errors.FersInputError` says so (never a silent fallback).

Freezing (paper: frozen encoder in stage 1, frozen ResNet-34 in stage 2) means
``requires_grad=False`` *and* BatchNorm kept in eval mode, so running statistics never change.
"""

from __future__ import annotations

import torch.nn as nn

from ..errors import FersInputError

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

        raise FersInputError(
            f"cannot load ImageNet weights for {name} ({type(exc).__name__}: {exc}); put "
            f"{weights.url.rsplit('/', 1)[-1]} into {torch.hub.get_dir()}/checkpoints or use "
            f"--backbone-weights none"
        ) from None


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
