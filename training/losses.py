"""Training losses of both stages (paper eq. 1-3 and 10-16). Feature tensors are ``(N, C, H, W)``.

Stage 1: ``L = L_sim + 0.1 L_mse + 0.1 L_Z`` (eq. 3).
Stage 2: ``L = L_cc + 0.1 L_cos + 0.1 L_var + 1.0 (MSE + 0.01 (1 - SSIM))`` (eq. 10-16), tau = 1.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def loss_sim(fs: list, gs: list) -> torch.Tensor:
    """Eq. 1: ``1 - mean_i CosSim(g_i, f_i)``; cosine over channels at every pixel, averaged."""
    cos = [F.cosine_similarity(g, f, dim=1, eps=1e-8).mean() for f, g in zip(fs, gs)]
    return 1.0 - torch.stack(cos).mean()


def loss_mse(h: torch.Tensor, h_r: torch.Tensor) -> torch.Tensor:
    """Eq. 1 / 16: mean squared reconstruction error."""
    return F.mse_loss(h_r, h)


def loss_z(o: torch.Tensor) -> torch.Tensor:
    """Eq. 2: ``mean(-log(1 - sigmoid(o)))``, computed stably as ``mean(softplus(o))``."""
    return F.softplus(o).mean()


def stage1_loss(out: dict, h: torch.Tensor, lam_mse: float = 0.1, lam_z: float = 0.1) -> tuple[torch.Tensor, dict]:
    """Eq. 3 from a ``FERDNet`` output dict; returns ``(total, {term: float})``."""
    terms = {"sim": loss_sim(out["f"], out["g"]), "mse": loss_mse(h, out["recon"]), "z": loss_z(out["o"])}
    total = terms["sim"] + lam_mse * terms["mse"] + lam_z * terms["z"]
    return total, {k: float(v.detach()) for k, v in terms.items()}


def _standardise(x: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """``(N, C, H, W) -> (N, C, L)`` zero-mean, unit-std per channel over batch and pixels."""
    n, c = x.shape[:2]
    x = x.reshape(n, c, -1)
    return (x - x.mean(dim=(0, 2), keepdim=True)) / (x.std(dim=(0, 2), keepdim=True) + eps)


def loss_cc(f_spe: torch.Tensor, f_spa: torch.Tensor) -> torch.Tensor:
    """Eq. 12-13: squared Frobenius norm of the cross-covariance ``C = X Y^T / (N L)``."""
    x, y = _standardise(f_spe), _standardise(f_spa)
    n, _, length = x.shape
    c = torch.einsum("nil,njl->ij", x, y) / (n * length)
    return c.pow(2).sum()


def loss_cos(f_spe: torch.Tensor, f_spa: torch.Tensor) -> torch.Tensor:
    """Eq. 14: ``1 + mean CosSim`` over channels at every pixel."""
    return 1.0 + F.cosine_similarity(f_spe, f_spa, dim=1, eps=1e-8).mean()


def loss_var(f_spa: torch.Tensor, tau: float = 1.0) -> torch.Tensor:
    """Eq. 15: ``mean_k max(0, tau - Var_k) + mean |F_spa|``.

    Var_k is the per-image spatial variance of channel k averaged over the batch; the L1 term is the
    mean absolute value (the authors' scaling of ``||F||_1``, which keeps it independent of size).
    """
    n, c = f_spa.shape[:2]
    var = f_spa.reshape(n, c, -1).var(dim=2).mean(dim=0)
    return torch.relu(tau - var).mean() + f_spa.abs().mean()


def _gauss_window(size: int, sigma: float, device, dtype) -> torch.Tensor:
    ax = torch.arange(size, device=device, dtype=dtype) - (size - 1) / 2
    g = torch.exp(-(ax**2) / (2 * sigma**2))
    g = g / g.sum()
    return g[:, None] * g[None, :]


def ssim(x: torch.Tensor, y: torch.Tensor, window: int = 5, sigma: float = 1.5, data_range: float = 1.0) -> torch.Tensor:
    """Mean SSIM of ``(N, C, H, W)`` tensors with a Gaussian window (per channel, reflect padding).

    Written here instead of depending on kornia: the authors call ``kornia.losses.SSIMLoss(5)``,
    i.e. a 5x5 Gaussian window (sigma 1.5), constants from ``data_range = 1`` (C1 = 0.01^2,
    C2 = 0.03^2) and reflect padding - this function computes the same SSIM map average.
    Note kornia's loss is ``(1 - SSIM) / 2``; we use the paper's ``1 - SSIM`` (eq. 16).
    """
    c = x.shape[1]
    w = _gauss_window(window, sigma, x.device, x.dtype).expand(c, 1, window, window)
    pad = window // 2

    def filt(t):
        return F.conv2d(F.pad(t, [pad] * 4, mode="reflect"), w, groups=c)

    mx, my = filt(x), filt(y)
    sxx = filt(x * x) - mx * mx
    syy = filt(y * y) - my * my
    sxy = filt(x * y) - mx * my
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    s = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
    return s.mean()


def stage2_loss(h, h_hat, f_spe, f_spa, lam_cos=0.1, lam_var=0.1, lam_recon=1.0, lam_ssim=0.01, tau=1.0):
    """Eq. 10-16; returns ``(total, {term: float})``."""
    terms = {"cc": loss_cc(f_spe, f_spa), "cos": loss_cos(f_spe, f_spa), "var": loss_var(f_spa, tau),
             "mse": loss_mse(h, h_hat), "ssim": 1.0 - ssim(h_hat, h)}
    decorr = terms["cc"] + lam_cos * terms["cos"] + lam_var * terms["var"]
    total = decorr + lam_recon * (terms["mse"] + lam_ssim * terms["ssim"])
    return total, {k: float(v.detach()) for k, v in terms.items()}
