"""AE baseline: a lightweight per-scene autoencoder detector (paper Sec. IV-B, Table II "AE").

The paper's AE has an encoder and a decoder of three 1x1 convolutions each, is trained on the
test scene itself, and scores each pixel by its reconstruction error. Layout used here (as in the
authors' reference baseline): input min-max scaled to [0, 1] over the whole cube, then
sigmoid -> conv1x1 B->128 -> conv1x1 128->64 -> conv1x1 64->32 -> tanh (code) ->
conv1x1 32->64 -> conv1x1 64->128 -> conv1x1 128->B -> sigmoid. Score: mean over bands of the
squared reconstruction error, ``(H, W)``.

Training budget (fixed, the same for every scene, no ground truth used): ``AE_ITERS`` = 20
full-batch Adam steps (all pixels of the scene in one batch) at ``AE_LR`` = 3e-3. The score map
comes from the model after the last step. The authors' reference runs up to 50 steps at 1e-3 and
keeps the step whose map has the best AUC against the ground truth; that oracle choice is not
available to a detector and is not done here, so numbers are not expected to equal the paper's
AE column (the budget check is in docs/large-scenes.md).

Determinism: weights are initialised from ``torch.manual_seed(seed)`` inside a forked RNG
(the caller's global RNG state is untouched); all ops are deterministic on CPU, so the same seed,
cube and thread count give identical maps. Cost: about ``AE_ITERS * 3 * P * (128 B + 10240)``
multiply-adds for ``P`` pixels; it is meant for benchmark-sized scenes, not for the tiled
large-scene path.

Memory: a scene of more than :func:`chunk_pixels` pixels (about 256 MB of activations and
gradients; 13 000 pixels at 200 bands) is trained on pixel chunks whose gradients are summed before
each Adam step -- still the full-batch gradient, in bounded memory. Smaller scenes run in one
piece, exactly as before. A progress bar (:mod:`fers.progress`) counts the steps.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager

import numpy as np

from fers.detectors.registry import Detector, register

AE_ITERS = 20
AE_LR = 3e-3
AE_WIDTHS = (128, 64, 32)
CHUNK_BYTES = 256 * 2**20  # training memory per pixel chunk (activations, gradients, temporaries)


def build_ae(bands: int, widths=AE_WIDTHS):
    """The AE as a ``torch.nn.Sequential`` on ``(N, B, H, W)`` (1x1 convolutions only)."""
    from torch import nn

    w1, w2, w3 = widths
    return nn.Sequential(
        nn.Sigmoid(),
        nn.Conv2d(bands, w1, 1),
        nn.Conv2d(w1, w2, 1),
        nn.Conv2d(w2, w3, 1),
        nn.Tanh(),
        nn.Conv2d(w3, w2, 1),
        nn.Conv2d(w2, w1, 1),
        nn.Conv2d(w1, bands, 1),
        nn.Sigmoid(),
    )


def ae_scores(
    cube: np.ndarray,
    seed: int = 0,
    iters: int = AE_ITERS,
    lr: float = AE_LR,
    device: str = "cpu",
    threads: int | None = None,
    chunk: int | None = None,
    valid: np.ndarray | None = None,
) -> np.ndarray:
    """Train the AE on ``cube (H, W, B)`` itself and return its reconstruction error ``(H, W)`` float64.

    ``cube`` is usually the normalised cube H, or ``H + F_spe + F_spa`` for the enhanced variant
    (Table II); it is min-max scaled to [0, 1] here, so its own scaling does not matter.
    ``threads``: torch CPU threads for this call only (restored afterwards); None keeps the current
    setting. On a busy 2-core machine ``threads=1`` was several times faster than 2. ``chunk``: pixels
    per training chunk (default :func:`chunk_pixels`; the gradient is the full-batch one either way).
    ``valid (H, W)`` bool: masked (no-data) pixels, False, are left out of the min-max scaling and
    of the training loss (the AE learns the valid background only); they are still scored.
    """
    import torch

    x = np.asarray(cube, dtype=np.float32)
    if x.ndim != 3:
        raise ValueError(f"ae_scores expects (H, W, B), got shape {x.shape}")
    h, w, b = x.shape
    if valid is not None:
        valid = np.asarray(valid, dtype=bool)
        if valid.shape != (h, w):
            raise ValueError(f"valid mask {valid.shape} does not match the cube's (H, W) {(h, w)}")
        if valid.all() or not valid.any():
            valid = None
    ref = x if valid is None else x[valid]
    lo, hi = float(ref.min()), float(ref.max())
    x = (x - lo) / (hi - lo) if hi > lo else np.zeros_like(x)
    t = torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))[None].to(device)
    m = None if valid is None else torch.from_numpy(valid.astype(np.float32))[None, None].to(device)

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        net = build_ae(b).to(device)
    old_threads = torch.get_num_threads()
    if threads:
        torch.set_num_threads(int(threads))
    try:
        err = _train_and_score(net, t, iters, lr, chunk, m)
    finally:
        if threads:
            torch.set_num_threads(old_threads)
    return err.cpu().numpy().astype(np.float64)


def chunk_pixels(bands: int, budget_bytes: int = CHUNK_BYTES) -> int:
    """Pixels per training chunk so that one chunk's activations and gradients take about ``budget_bytes``."""
    return max(1024, int(budget_bytes // ((6 * bands + 448) * 4 * 3)))


def _pixel_chunks(t, chunk: int) -> list:
    """``t (1, B, H, W)`` itself when it has at most ``chunk`` pixels, else views ``(1, B, 1, <= chunk)``
    of its flattened pixels (1x1 convolutions treat every pixel alike, so the layout does not matter)."""
    h, w = t.shape[2], t.shape[3]
    if h * w <= chunk:
        return [t]
    flat = t.reshape(1, t.shape[1], 1, h * w)
    return [flat[..., i : i + chunk] for i in range(0, h * w, chunk)]


def _train_and_score(net, t, iters: int, lr: float, chunk: int | None = None, mask=None):
    """Full-batch Adam on ``t (1, B, H, W)`` for ``iters`` steps; per-pixel error ``(H, W)`` of the final model.

    Each step's gradient is that of the mean squared error over every pixel (with ``mask (1, 1, H,
    W)`` 0/1: over the pixels where it is 1); on a scene of more than ``chunk`` pixels (default
    :func:`chunk_pixels`) it is accumulated over pixel chunks (the same gradient up to float
    summation order), so memory stays bounded whatever the scene size."""
    import torch

    from fers.progress import bar

    size = chunk or chunk_pixels(t.shape[1])
    parts = _pixel_chunks(t, size)
    weights = [None] * len(parts) if mask is None else _pixel_chunks(mask, size)
    total = float(t.numel()) if mask is None else float(mask.sum()) * t.shape[1]
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    with _plain_aten_convs():
        for _ in bar(range(int(iters)), desc="AE training", unit="step"):
            opt.zero_grad(set_to_none=True)
            for x, wt in zip(parts, weights):
                if wt is not None:
                    loss = torch.sum((net(x) - x) ** 2 * wt) / total
                elif len(parts) > 1:
                    loss = torch.sum((net(x) - x) ** 2) / total
                else:
                    loss = torch.mean((net(x) - x) ** 2)
                loss.backward()
            opt.step()
        with torch.no_grad():
            err = torch.cat([((net(x) - x) ** 2).mean(dim=1).reshape(-1) for x in parts])
            return err.reshape(t.shape[2], t.shape[3])


@contextmanager
def _plain_aten_convs():
    """oneDNN off: plain ATen 1x1 convolutions are faster for these small layers on CPU (and
    deterministic). Toggling the flag makes torch warn about TF32 on Intel GPUs; that is silenced."""
    import torch

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="TF32 acceleration on top of oneDNN")
        with torch.backends.mkldnn.flags(enabled=False):
            yield


def _scorer(valid=None):
    return lambda cube: ae_scores(cube, seed=0, threads=1, valid=valid)  # 1 torch thread: faster on a busy CPU


def _work(pixels: int, n: int, height: int) -> int:
    """Peak bytes of :func:`ae_scores` on ``pixels x n``: copies of the cube, then one pixel chunk's
    activations and gradients (:data:`CHUNK_BYTES` at most) and the error map."""
    return 12 * pixels * n + min(pixels * (6 * n + 448) * 4 * 3, CHUNK_BYTES) + 8 * pixels


register(Detector("ae", "autoencoder (reconstruction error, trained on the scene)", _scorer, _work, family="ae",
                  needs_torch=True))
