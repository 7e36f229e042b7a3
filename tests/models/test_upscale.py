"""The super-resolution families (srresnet, esrgan): forward/backward, save/load, tiled == whole-image inference."""
from __future__ import annotations

import pytest
import torch

from mmgan.config import ModelConfig
from mmgan.models import build_gan
from mmgan.models.base import load_weights, save_weights
from mmgan.pipeline import tiled


def _cfg(family: str, body: str = "rrdb", scale: int = 4, channels: int = 3, **extra) -> ModelConfig:
    return ModelConfig(family=family, channels=channels, resolution=16, g_width=8, d_width=8,
                       extra={"scale": scale, "body": body, "blocks": 1, "growth": 4, **extra})


@pytest.mark.parametrize("family", ["srresnet", "esrgan"])
@pytest.mark.parametrize("body,scale", [("rrdb", 4), ("res", 2), ("res", 3)])
def test_forward_backward(family, body, scale):
    torch.manual_seed(0)
    G, D = build_gan(_cfg(family, body, scale))
    lr = torch.rand(2, 3, 5, 4) * 2 - 1
    sr = G.upscale(lr)
    assert sr.shape == (2, 3, 5 * scale, 4 * scale)
    logits, aux = D(torch.rand(2, 3, G.patch, G.patch))
    assert logits.shape == (2,) and aux is None
    (sr.square().mean() + logits.mean()).backward()
    assert all(p.grad is not None for p in G.parameters())
    assert G.loss_options["adversarial"] == (family == "esrgan")
    assert G(z=torch.zeros(4, 1)).shape == (4, 3, G.patch, G.patch)       # the preview grid


def test_skip_starts_as_bicubic():
    from mmgan.data.degrade import bicubic_up

    G, _ = build_gan(_cfg("srresnet"))
    lr = torch.rand(1, 3, 6, 6) * 2 - 1
    assert torch.allclose(G.upscale(lr), bicubic_up(lr, 4))


@pytest.mark.parametrize("family", ["srresnet", "esrgan"])
def test_save_load_round_trip(family, tmp_path):
    torch.manual_seed(0)
    G, D = build_gan(_cfg(family))
    with torch.no_grad():
        for p in G.parameters():
            p.add_(0.01 * torch.randn_like(p))
    save_weights(G, tmp_path / "g.safetensors")
    G2, _ = build_gan(_cfg(family), with_discriminator=False)
    load_weights(G2, tmp_path / "g.safetensors")
    lr = torch.rand(1, 3, 7, 5) * 2 - 1
    assert torch.equal(G.upscale(lr), G2.upscale(lr))
    assert G2.config == G.config


@pytest.mark.parametrize("body,scale", [("rrdb", 2), ("res", 4)])
def test_tiled_equals_whole_image(body, scale):
    torch.manual_seed(0)
    G, _ = build_gan(_cfg("esrgan", body, scale, channels=1))
    with torch.no_grad():
        for p in G.parameters():
            p.add_(0.05 * torch.randn_like(p))            # not the bicubic start: the network matters
        x = torch.rand(1, 1, 37, 29) * 2 - 1
        whole = G.upscale(x)
        for blend in (0, 3):
            tiles = tiled(G.upscale, x, scale, tile=8, context=G.receptive_radius, blend=blend)
            assert tiles.shape == whole.shape
            assert torch.allclose(tiles, whole, atol=1e-5)
        short = tiled(G.upscale, x, scale, tile=8, context=0, blend=2)    # too little context: close, not exact
        assert (short - whole).abs().mean() < 0.1


def test_bad_options_are_loud():
    with pytest.raises(ValueError, match="scale must be one of"):
        build_gan(_cfg("srresnet", scale=5))
    with pytest.raises(ValueError, match="multiple of the scale"):
        build_gan(_cfg("srresnet", scale=4, patch=10))
    with pytest.raises(ValueError, match="unknown degradation"):
        build_gan(_cfg("srresnet", degrade="sharpen"))
