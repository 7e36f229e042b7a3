"""The restoration family (restorer): gated convs, forward/backward, save/load, the SN-PatchGAN's shapes,
tiled == whole-image inference, and its phases (hinge D, L1 + hinge G)."""
from __future__ import annotations

import pytest
import torch

from mmgan.config import LossConfig, ModelConfig
from mmgan.losses.restore import RestoreLoss
from mmgan.models import build_gan
from mmgan.models.base import load_weights, save_weights
from mmgan.models.restore import GatedConv2d
from mmgan.pipeline import tiled


def _cfg(channels: int = 3, **extra) -> ModelConfig:
    return ModelConfig(family="restorer", channels=channels, resolution=16, g_width=8, d_width=8,
                       extra={"dilations": [2, 4], **extra})


def _nudge(G, s: float = 0.05):
    with torch.no_grad():
        for p in G.parameters():
            p.add_(s * torch.randn_like(p))               # not the identity start: the network matters


def test_gated_conv_gates_every_feature():
    torch.manual_seed(0)
    g = GatedConv2d(3, 5, 3, stride=2, dilation=1)
    x = torch.randn(2, 3, 9, 8, requires_grad=True)
    y = g(x)
    assert y.shape == (2, 5, 5, 4)
    y.sum().backward()
    assert x.grad is not None and g.conv.weight.grad is not None
    with torch.no_grad():
        g.conv.bias[5:] = -1e4                            # gates shut: nothing passes
    assert g(x).abs().max() < 1e-6


@pytest.mark.parametrize("channels,size", [(3, (16, 16)), (1, (13, 22))])
def test_forward_backward_any_size(channels, size):
    torch.manual_seed(0)
    G, D = build_gan(_cfg(channels))
    _nudge(G)
    x = torch.rand(2, channels, *size) * 2 - 1
    mask = torch.zeros(2, 1, *size)
    mask[:, :, 2:6, 3:9] = 1
    out = G.restore(x, mask)
    assert out.shape == x.shape
    logits, _ = D(torch.rand(2, channels + 1, 16, 16))              # D judges training patches (and their masks)
    loss = out.square().mean() + logits.mean()
    loss.backward()
    assert all(p.grad is not None for p in G.parameters())
    assert G(z=torch.zeros(4, 1)).shape == (4, channels, G.patch, G.patch)      # the preview grid


def test_starts_as_the_identity_and_hole_only_models_keep_known_pixels():
    torch.manual_seed(0)
    G, _ = build_gan(_cfg())
    x = torch.rand(1, 3, 12, 12) * 2 - 1
    assert torch.equal(G.restore(x), x)
    H, _ = build_gan(_cfg(degrade="mask"))
    _nudge(H)
    mask = torch.zeros(1, 1, 12, 12)
    mask[..., 4:8, 4:8] = 1
    out = H.restore(x, mask)
    assert torch.equal(out * (1 - mask), x * (1 - mask)) and not torch.equal(out, x)


def test_sn_patch_discriminator_shapes():
    for res, side in ((16, 4), (28, 4), (64, 4), (256, 4)):
        _, D = build_gan(ModelConfig(family="restorer", channels=3, resolution=res, g_width=4, d_width=4,
                                     extra={"patch": res}))
        logits, aux = D(torch.rand(2, 4, res, res))
        assert aux is None and logits.shape[0] == 2 and logits.shape[1] % (side * side) == 0
        convs = [m for m in D.modules() if isinstance(m, torch.nn.Conv2d)]
        assert all(hasattr(c, "weight_orig") for c in convs)       # spectral norm on every conv


def test_save_load_round_trip(tmp_path):
    torch.manual_seed(0)
    G, D = build_gan(_cfg())
    _nudge(G)
    save_weights(G, tmp_path / "g.safetensors")
    save_weights(D, tmp_path / "d.safetensors")
    G2, D2 = build_gan(_cfg())
    load_weights(G2, tmp_path / "g.safetensors")
    load_weights(D2, tmp_path / "d.safetensors")
    x, m = torch.rand(1, 3, 11, 9) * 2 - 1, (torch.rand(1, 1, 11, 9) > 0.7).float()
    assert torch.equal(G.restore(x, m), G2.restore(x, m)) and G2.config == G.config
    y = torch.rand(2, 4, 16, 16)
    assert torch.equal(D.eval()(y)[0], D2.eval()(y)[0])


def test_tiled_equals_whole_image():
    torch.manual_seed(0)
    G, _ = build_gan(_cfg(channels=1))
    _nudge(G)
    with torch.no_grad():
        x = torch.rand(1, 1, 76, 52) * 2 - 1
        m = (torch.rand(1, 1, 76, 52) > 0.8).float()
        whole = G.restore(x, m)
        fn = lambda xm: G.restore(xm[:, :1], xm[:, 1:])    # noqa: E731
        tiles = tiled(fn, torch.cat([x, m], 1), 1, tile=8, context=G.receptive_radius, blend=4)
        assert tiles.shape == whole.shape
        assert torch.allclose(tiles, whole, atol=1e-4)


def test_bad_options_are_loud():
    with pytest.raises(ValueError, match="multiple of 4"):
        build_gan(_cfg(patch=10))
    with pytest.raises(ValueError, match="unknown restoration degradation 'blur'"):
        build_gan(_cfg(degrade="blur"))
    with pytest.raises(ValueError, match="masks="):
        build_gan(_cfg(masks="circles"))


@pytest.mark.parametrize("adversarial_weight", [0.01, 0.0])
def test_phases_hinge_d_and_l1_g(adversarial_weight):
    torch.manual_seed(0)
    G, D = build_gan(_cfg(channels=1, adversarial_weight=adversarial_weight))
    loss = RestoreLoss(G, D, LossConfig(), 8)
    real = torch.rand(4, 1, 16, 16) * 2 - 1
    d = loss.accumulate("D", real, None, None, 0)
    if adversarial_weight:
        assert set(d) == {"loss/D", "D/real", "D/fake"} and abs(float(d["loss/D"]) - 2) < 0.1   # hinge at 0 logits
        assert all(p.grad is not None for p in D.parameters())
    else:
        assert d == {} and all(p.grad is None for p in D.parameters())
    for p in D.parameters():
        p.grad = None
    g = loss.accumulate("G", real, None, None, 0)
    assert "loss/G_l1" in g and ("loss/G" in g) == bool(adversarial_weight)
    assert all(p.grad is None for p in D.parameters())                 # D frozen in the G step
    assert all(p.grad is not None for p in G.parameters())
    assert int(G.examples_n) == 4
