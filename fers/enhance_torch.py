"""Feature enhancement with the PyTorch FENs (paper eq. 4 and 8).

``TorchEnhancer(path).enhance(h)`` takes a normalised cube ``h (H, W, N)`` float32 (see
``fers.normalize.normalize_cube``, bands already adapted to the model's N) and returns
``(F_spe, F_spa)``, each ``(H, W, N)`` float32; ``enhance_batch`` does the same for ``(K, H, W, N)``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .checkpoint import load_fens
from .errors import FersInputError

MIN_SIZE = 8


class TorchEnhancer:
    """Both FENs of one checkpoint; ``.n_bands``, ``.config``, ``.enhance``, ``.enhance_batch``."""

    def __init__(self, checkpoint_path=None, device: str | None = None, models=None):
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        if models is not None:  # (spe, spa, config), e.g. random-init models in tests
            spe, spa, config = models
            spe, spa = spe.to(self.device).eval(), spa.to(self.device).eval()
        else:
            spe, spa, config = load_fens(checkpoint_path, device=self.device)
        self.path = Path(checkpoint_path) if checkpoint_path is not None else None
        self.spe, self.spa, self.config = spe, spa, config
        self.n_bands = int(config["n_bands"])

    def _check(self, x: np.ndarray, ndim: int) -> np.ndarray:
        x = np.asarray(x)
        if x.ndim != ndim:
            raise FersInputError(f"enhance expects a {ndim}-D array with bands last, got shape {x.shape}", self.path)
        if x.shape[-1] != self.n_bands:
            raise FersInputError(f"cube has {x.shape[-1]} bands but the model needs {self.n_bands}", self.path)
        if min(x.shape[-3:-1]) < MIN_SIZE:
            raise FersInputError(f"cube is {x.shape[-3]}x{x.shape[-2]} pixels; the networks need at least "
                                 f"{MIN_SIZE}x{MIN_SIZE}", self.path)
        if not np.all(np.isfinite(x)):
            raise FersInputError("cube contains NaN or Inf values", self.path)
        return x

    def enhance_batch(self, hs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(K, H, W, N)`` -> ``(F_spe, F_spa)`` each ``(K, H, W, N)`` float32."""
        hs = self._check(hs, 4)
        x = torch.from_numpy(np.ascontiguousarray(hs, dtype=np.float32)).permute(0, 3, 1, 2).to(self.device)
        with torch.no_grad():
            f_spe = self.spe(x)
            f_spa = self.spa(x)
        to_np = lambda t: t.permute(0, 2, 3, 1).contiguous().cpu().numpy().astype(np.float32, copy=False)  # noqa: E731
        return to_np(f_spe), to_np(f_spa)

    def enhance(self, h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(H, W, N)`` -> ``(F_spe, F_spa)`` each ``(H, W, N)`` float32."""
        h = self._check(h, 3)
        f_spe, f_spa = self.enhance_batch(h[None])
        return f_spe[0], f_spa[0]
