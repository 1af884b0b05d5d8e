"""Feature enhancement with the PyTorch FENs (paper eq. 4 and 8).

``TorchEnhancer(path).enhance(h)`` takes a normalised cube ``h (H, W, N)`` float32 (see
``fers.normalize.normalize_cube``, bands already adapted to the model's N) and returns
``(F_spe, F_spa)``, each ``(H, W, N)`` float32; ``enhance_batch`` does the same for ``(K, H, W, N)``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from fers.enhance.inputs import MIN_SIZE, check_enhance_input  # noqa: F401  (MIN_SIZE: public)
from fers.models.checkpoint import load_fens


class TorchEnhancer:
    """Both FENs of one checkpoint; ``.n_bands``, ``.config``, ``.enhance``, ``.enhance_batch``."""

    def __init__(self, checkpoint_path=None, device: str | None = None, models=None):
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        if models is not None:  # (spe, spa, config), e.g. random-init models in tests
            spe, spa, config = models
            spe = spe.to(self.device).eval()
            spa = spa.to(self.device).eval() if spa is not None else None
        else:
            spe, spa, config = load_fens(checkpoint_path, device=self.device)
        self.path = Path(checkpoint_path) if checkpoint_path is not None else None
        self.spe, self.spa, self.config = spe, spa, config
        self.n_bands = int(config["n_bands"])

    def _check(self, x: np.ndarray, ndim: int) -> np.ndarray:
        return check_enhance_input(x, ndim, self.n_bands, self.path)

    def enhance_batch(self, hs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(K, H, W, N)`` -> ``(F_spe, F_spa)`` each ``(K, H, W, N)`` float32."""
        return self._run(self._check(hs, 4))

    def _run(self, hs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Checked ``(K, H, W, N)`` -> features; no second validation pass on the hot path."""
        x = torch.from_numpy(np.ascontiguousarray(hs, dtype=np.float32)).permute(0, 3, 1, 2).to(self.device)
        with torch.no_grad():
            f_spe = self.spe(x)
            f_spa = self.spa(x) if self.spa is not None else None
        to_np = lambda t: t.permute(0, 2, 3, 1).contiguous().cpu().numpy().astype(np.float32, copy=False)  # noqa: E731
        return to_np(f_spe), (to_np(f_spa) if f_spa is not None else None)

    def enhance(self, h: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """``(H, W, N)`` -> ``(F_spe, F_spa)`` each ``(H, W, N)`` float32 (``F_spa`` None for a
        Spe-FEN-only checkpoint)."""
        f_spe, f_spa = self._run(self._check(h, 3)[None])
        return f_spe[0], (f_spa[0] if f_spa is not None else None)
