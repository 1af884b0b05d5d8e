"""Networks of FERS. Inference: :class:`SpeFEN`, :class:`SpaFEN`. Training-only modules (no
losses or loops here): :class:`FERDNet` (stage 1) and :class:`FRN` (stage 2 decoder).

All take and return ``(N, B, H, W)`` float tensors.
"""

from fers.models.backbones import RESNETS, build_resnet, freeze  # noqa: F401
from fers.models.ferd import FERDConfig, FERDNet  # noqa: F401
from fers.models.frn import FRN  # noqa: F401
from fers.models.spa_fen import SpaFEN, SpaFENConfig  # noqa: F401
from fers.models.spe_fen import SpeFEN, SpeFENConfig  # noqa: F401
