"""Mechanics of the networks, checkpoints and the torch enhancer on tiny seeded inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from fers.enhance.torch_backend import TorchEnhancer
from fers.errors import FersInputError, FersModelError
from fers.models import FRN, FERDConfig, FERDNet, SpaFEN, SpaFENConfig, SpeFEN, SpeFENConfig, build_resnet
from fers.models.checkpoint import build_fens, default_config, load_fens, round_frozen_to_fp16, save_fens


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.mark.parametrize("bands", [5, 50, 130])
def test_fen_shapes_and_dtypes(bands):
    spe = SpeFEN(SpeFENConfig(bands)).eval()
    spa = SpaFEN(SpaFENConfig(bands, backbone="resnet18")).eval()
    for hw in [(8, 8), (37, 53), (64, 64)]:
        x = torch.rand(2, bands, *hw) * 0.2 - 0.1
        with torch.no_grad():
            a, b = spe(x), spa(x)
        assert a.shape == b.shape == x.shape
        assert a.dtype == b.dtype == torch.float32
        assert torch.isfinite(a).all() and torch.isfinite(b).all()


def test_spe_fen_hidden_width_follows_band_rule():
    assert SpeFEN(SpeFENConfig(100)).fpl.conv1.out_channels == 128
    assert SpeFEN(SpeFENConfig(200)).fpl.conv1.out_channels == 256


def test_spa_fen_paper_backbone_resnet34_output():
    spa = SpaFEN(SpaFENConfig(20, backbone="resnet34")).eval()  # the paper's backbone
    with torch.no_grad():
        assert spa(torch.rand(1, 20, 33, 40)).shape == (1, 20, 33, 40)


@pytest.mark.parametrize("hw", [(32, 32), (37, 53)])
def test_ferd_outputs_and_prune_matches_encoder(hw):
    net = FERDNet(FERDConfig(SpeFENConfig(12))).eval()
    x = torch.rand(2, 12, *hw) * 0.2 - 0.1
    with torch.no_grad():
        out = net(x)
        spe = net.prune().eval()
        p = net.cfg.spe.pad
        direct = net.fpl(net.layer1(net.cwl(F.pad(x, [p] * 4, mode="reflect"))))[:, :, p:-p, p:-p]
        pruned = spe(x)
    assert out["recon"].shape == x.shape
    assert out["o"].shape[1] == 1
    for f, g in zip(out["f"], out["g"]):
        assert f.shape == g.shape
    torch.testing.assert_close(pruned, direct)


def _snapshot(module):
    return {k: v.clone() for k, v in module.state_dict().items()}


def _assert_identical(before, module):
    after = module.state_dict()
    for k, v in before.items():
        assert torch.equal(v, after[k]), f"frozen tensor {k} changed"


def test_frozen_encoder_untouched_by_optimiser_step():
    net = FERDNet(FERDConfig(SpeFENConfig(10)))
    frozen = {n: _snapshot(getattr(net, n)) for n in ("layer1", "layer2", "layer3")}
    cwl_before = net.cwl.conv.weight.detach().clone()
    opt = torch.optim.Adam([p for p in net.parameters() if p.requires_grad], lr=1e-2)
    net.train()
    x = torch.rand(3, 10, 24, 24) * 0.2 - 0.1
    out = net(x)
    loss = out["recon"].pow(2).mean() + sum(g.mean() for g in out["g"]) + out["o"].mean()
    loss.backward()
    opt.step()
    for n, snap in frozen.items():
        _assert_identical(snap, getattr(net, n))
        assert not getattr(net, n).training
    assert not torch.equal(cwl_before, net.cwl.conv.weight)


def test_trainable_backbone_option_updates_backbone():
    net = FERDNet(FERDConfig(SpeFENConfig(6), train_backbone=True))
    before = net.layer1[0].conv1.weight.detach().clone()
    opt = torch.optim.Adam([p for p in net.parameters() if p.requires_grad], lr=1e-2)
    net.train()
    net(torch.rand(2, 6, 16, 16))["recon"].pow(2).mean().backward()
    opt.step()
    assert not torch.equal(before, net.layer1[0].conv1.weight)


def test_spa_fen_frozen_resnet_untouched_and_head_trained():
    spa = SpaFEN(SpaFENConfig(8, backbone="resnet18"))
    snap = _snapshot(spa.features)
    head = spa.to_rgb.conv1.weight.detach().clone()
    frn = FRN(8, width=8)
    opt = torch.optim.Adam([p for p in list(spa.parameters()) + list(frn.parameters()) if p.requires_grad], lr=1e-2)
    spa.train()
    x = torch.rand(2, 8, 32, 32)
    (frn(spa(x)) - x).pow(2).mean().backward()
    opt.step()
    _assert_identical(snap, spa.features)
    assert not spa.features.training
    assert not torch.equal(head, spa.to_rgb.conv1.weight)


def test_frn_keeps_shape_both_layouts():
    x = torch.rand(2, 9, 13, 17)
    assert FRN(9)(x).shape == x.shape
    assert FRN(9, width=4)(x).shape == x.shape


def test_checkpoint_round_trip_is_exact(tmp_path):
    spe, spa = build_fens(default_config(12, spa_backbone="resnet18"))
    round_frozen_to_fp16(spa)
    path = save_fens(tmp_path / "m.pt", spe, spa, {"training": {"note": "test"}})
    spe2, spa2, cfg = load_fens(path)
    assert cfg["n_bands"] == 12 and cfg["training"]["note"] == "test"
    assert "normalization" in cfg and "band_adapter" in cfg
    assert not spe2.training and not spa2.training
    x = torch.rand(1, 12, 20, 21) * 0.2 - 0.1
    with torch.no_grad():
        torch.testing.assert_close(spe2(x), spe.eval()(x), rtol=0, atol=0)
        torch.testing.assert_close(spa2(x), spa.eval()(x), rtol=0, atol=0)
    blob = torch.load(path, weights_only=True)
    assert blob["spa_fen"]["features.4.0.conv1.weight"].dtype == torch.float16
    assert blob["spa_fen"]["to_rgb.conv1.weight"].dtype == torch.float32


def test_bad_checkpoints_give_one_line_errors(tmp_path):
    with pytest.raises(FersModelError, match="not found"):
        load_fens(tmp_path / "missing.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a torch file at all")
    with pytest.raises(FersModelError) as e:
        load_fens(junk)
    assert "\n" not in str(e.value) and "junk.pt" in str(e.value)
    other = tmp_path / "other.pt"
    torch.save({"x": torch.zeros(2)}, other)
    with pytest.raises(FersModelError, match="not a FERS checkpoint"):
        load_fens(other)
    spe, spa = build_fens(default_config(6, spa_backbone="resnet18"))
    path = save_fens(tmp_path / "m.pt", spe, spa, {})
    blob = torch.load(path, weights_only=True)
    blob["config"]["n_bands"] = 7
    blob["config"]["spe"]["n_bands"] = 7
    torch.save(blob, path)
    with pytest.raises(FersModelError, match="does not match") as e:
        load_fens(path)
    assert "\n" not in str(e.value)


def test_torch_enhancer_single_and_batch(tmp_path):
    spe, spa = build_fens(default_config(10, spa_backbone="resnet18"))
    path = save_fens(tmp_path / "m.pt", spe, spa, {})
    enh = TorchEnhancer(path, device="cpu")
    assert enh.n_bands == 10 and enh.config["n_bands"] == 10
    rng = np.random.default_rng(0)
    h = (rng.random((3, 19, 23, 10), dtype=np.float32) * 0.2 - 0.1)
    a, b = enh.enhance(h[1])
    assert a.shape == b.shape == (19, 23, 10) and a.dtype == b.dtype == np.float32
    ab, bb = enh.enhance_batch(h)
    assert ab.shape == (3, 19, 23, 10)
    np.testing.assert_allclose(ab[1], a, atol=1e-5)
    np.testing.assert_allclose(bb[1], b, atol=1e-5)
    with pytest.raises(FersInputError, match="needs 10"):
        enh.enhance(h[0, :, :, :9])
    with pytest.raises(FersInputError, match="at least"):
        enh.enhance(h[0, :5, :5])
    bad = h[0].copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(FersInputError, match="NaN"):
        enh.enhance(bad)


def test_imagenet_weights_unavailable_fail_clearly(monkeypatch, tmp_path):
    import torch.hub
    import torchvision.models._api as api

    def no_net(*a, **k):
        raise OSError("network unreachable")

    monkeypatch.setattr(api, "load_state_dict_from_url", no_net)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    with pytest.raises(FersModelError, match="cannot load ImageNet weights for resnet18") as e:
        build_resnet("resnet18", "imagenet")
    assert "--backbone-weights none" in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(FersInputError, match="unknown backbone"):
        build_resnet("vgg16", "none")
