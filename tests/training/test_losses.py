"""Each training loss term against a value computed by hand on a tiny tensor (eq. 1-3, 10-16)."""

from __future__ import annotations

import math

import pytest
import torch

from training.losses import (  # noqa: E402
    loss_cc,
    loss_cos,
    loss_mse,
    loss_sim,
    loss_var,
    loss_z,
    ssim,
    stage1_loss,
    stage2_loss,
)


def px(*vals):
    """A (1, C, 1, 1) tensor: one pixel with channel values ``vals``."""
    return torch.tensor(vals, dtype=torch.float64).reshape(1, -1, 1, 1)


def test_loss_z_is_mean_minus_log_one_minus_sigmoid():
    o = torch.tensor([0.0, math.log(3.0)]).reshape(1, 1, 1, 2)
    # -log(1 - sigmoid(0)) = log 2 ; -log(1 - sigmoid(log 3)) = -log(1 - 3/4) = log 4
    assert float(loss_z(o)) == pytest.approx((math.log(2) + math.log(4)) / 2, rel=1e-6)
    assert float(loss_z(torch.full((1, 1, 2, 2), -50.0))) == pytest.approx(0.0, abs=1e-12)


def test_loss_sim_hand_values():
    f, g_same, g_orth = px(1, 0), px(2, 0), px(0, 3)
    assert float(loss_sim([f], [g_same])) == pytest.approx(0.0, abs=1e-12)
    assert float(loss_sim([f], [g_orth])) == pytest.approx(1.0)
    assert float(loss_sim([f, f], [g_same, g_orth])) == pytest.approx(0.5)  # mean over scales
    assert float(loss_sim([f], [px(-1, 0)])) == pytest.approx(2.0)


def test_loss_mse():
    assert float(loss_mse(px(1, 2), px(2, 4))) == pytest.approx((1 + 4) / 2)


def test_loss_cc_hand_value():
    x = torch.tensor([1.0, -1.0, 1.0, -1.0], dtype=torch.float64).reshape(1, 1, 2, 2)
    # standardised with the unbiased std sqrt(4/3): C = sum(x_s^2) / (N L) = (4 / (4/3)) / 4 = 0.75
    assert float(loss_cc(x, x)) == pytest.approx(0.75**2, rel=1e-5)
    y = torch.tensor([1.0, 1.0, -1.0, -1.0], dtype=torch.float64).reshape(1, 1, 2, 2)
    assert float(loss_cc(x, y)) == pytest.approx(0.0, abs=1e-12)
    assert float(loss_cc(x, -x)) == pytest.approx(0.75**2, rel=1e-5)


def test_loss_cos_hand_values():
    assert float(loss_cos(px(1, 0), px(-2, 0))) == pytest.approx(0.0, abs=1e-12)
    assert float(loss_cos(px(1, 0), px(3, 0))) == pytest.approx(2.0)
    assert float(loss_cos(px(1, 0), px(0, 1))) == pytest.approx(1.0)


def test_loss_var_hand_values():
    a = torch.tensor([0.0, 2.0, 0.0, 2.0], dtype=torch.float64).reshape(1, 1, 2, 2)
    # unbiased var = 4/3 > tau = 1 -> hinge 0 ; mean |F| = 1
    assert float(loss_var(a, tau=1.0)) == pytest.approx(1.0)
    c = torch.full((1, 1, 2, 2), -0.5, dtype=torch.float64)
    assert float(loss_var(c, tau=1.0)) == pytest.approx(1.0 + 0.5)  # var 0 -> hinge 1
    assert float(loss_var(a, tau=2.0)) == pytest.approx((2 - 4 / 3) + 1.0)


def test_ssim_identical_is_one_and_constant_images_hand_value():
    torch.manual_seed(0)
    x = torch.rand(2, 3, 9, 11, dtype=torch.float64)
    assert float(ssim(x, x)) == pytest.approx(1.0, abs=1e-12)
    assert float(ssim(x, 1 - x)) < 0.9
    a = torch.full((1, 1, 8, 8), 0.5, dtype=torch.float64)
    b = torch.full((1, 1, 8, 8), 0.25, dtype=torch.float64)
    c1 = 0.01**2  # sigmas are 0, so SSIM = (2 mu_a mu_b + C1) / (mu_a^2 + mu_b^2 + C1)
    assert float(ssim(a, b)) == pytest.approx((2 * 0.5 * 0.25 + c1) / (0.25 + 0.0625 + c1), rel=1e-9)


def test_stage_losses_combine_terms_with_paper_weights():
    torch.manual_seed(1)
    h = torch.rand(2, 4, 8, 8, dtype=torch.float64)
    out = {"f": [torch.rand(2, 3, 8, 8, dtype=torch.float64)], "g": [torch.rand(2, 3, 8, 8, dtype=torch.float64)],
           "recon": torch.rand(2, 4, 8, 8, dtype=torch.float64), "o": torch.randn(2, 1, 8, 8, dtype=torch.float64)}
    total, t = stage1_loss(out, h)
    assert float(total) == pytest.approx(t["sim"] + 0.1 * t["mse"] + 0.1 * t["z"], rel=1e-9)
    f_spe, f_spa, h_hat = (torch.rand(2, 4, 8, 8, dtype=torch.float64) for _ in range(3))
    total, t = stage2_loss(h, h_hat, f_spe, f_spa)
    want = t["cc"] + 0.1 * t["cos"] + 0.1 * t["var"] + 1.0 * (t["mse"] + 0.01 * t["ssim"])
    assert float(total) == pytest.approx(want, rel=1e-9)
    assert t["ssim"] == pytest.approx(1 - float(ssim(h_hat, h)), rel=1e-9)
