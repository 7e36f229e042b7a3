"""The dfgan family and the "matching" phases: shapes, attention, save/load, every loss term."""
from __future__ import annotations

import pytest
import torch

from mmgan.config import LossConfig, ModelConfig
from mmgan.models import build_gan
from mmgan.models.base import load_weights, save_weights
from mmgan.conditioning import MultimodalConditioner
from mmgan.registry import get

from _mm_tiny import TINY_JOINT


def cfg(res: int = 32, **kw) -> ModelConfig:
    base = dict(family="dfgan", z_dim=8, channels=3, resolution=res, g_width=4, d_width=4, cond_dim=16,
                condition=["text"], fusion="attention")
    return ModelConfig(**{**base, **kw})


@pytest.mark.parametrize("res,fusion,norm", [(32, "attention", "batch"), (64, "cross_attention", "batch"),
                                             (32, "attention", "none")])
def test_shapes_backward_and_round_trip(res, fusion, norm, tmp_path):
    c = cfg(res, fusion=fusion, extra={"g_norm": norm})
    G, D = build_gan(c)
    z, v = torch.randn(2, 8), torch.randn(2, 16)
    kw = {"tokens": torch.randn(2, 5, 16), "token_mask": torch.tensor([[True] * 5, [True, False, False, False, False]])} \
        if fusion == "cross_attention" else {}
    x = G(z, v, **kw)
    assert x.shape == (2, 3, res, res) and x.abs().max() <= 1
    logits, aux = D(x, v)
    assert logits.shape == (2,) and aux is None
    logits.sum().backward()
    assert all(p.grad is not None for p in G.parameters() if p.requires_grad and p.dim() > 1) or fusion == "cross_attention"
    G.eval()
    save_weights(G, tmp_path / "g.safetensors")
    G2, _ = build_gan(c, with_discriminator=False)
    load_weights(G2, tmp_path / "g.safetensors").eval()
    torch.testing.assert_close(G(z, v, **kw), G2(z, v, **kw))


def test_config_errors():
    with pytest.raises(ValueError, match="32 or 64"):
        build_gan(cfg(28))
    with pytest.raises(ValueError, match="pack"):
        build_gan(cfg(pack=2))
    G, _ = build_gan(cfg(fusion="cross_attention"), with_discriminator=False)
    with pytest.raises(ValueError, match="cross_attention fusion"):
        G(torch.randn(2, 8), torch.randn(2, 16))
    G, _ = build_gan(cfg(), with_discriminator=False)
    with pytest.raises(ValueError, match="conditional"):
        G(torch.randn(2, 8))


def test_matching_phases_every_term():
    cond = MultimodalConditioner(["text"], {"encoders": {"image": TINY_JOINT["image"], "text": TINY_JOINT["text"]},
                                            "dim": 16})
    G, D = build_gan(cfg(16))
    loss = get("phases", "matching")(G, D, LossConfig(name="hinge", contrastive=1.0, recon=1.0, mode_seeking=0.5,
                                                      r1_every=2), 8, 1, conditioner=cond)
    real = torch.rand(6, 3, 16, 16) * 2 - 1
    c = cond(text=["a red block", "a blue bar", "a red bar", "a blue block", "a red block", "a blue bar"]).vec
    d = loss.accumulate("D", real, c, None, 0)
    assert {"loss/D", "D/real", "D/fake", "D/mismatch"} <= set(d)
    assert loss.wants_reg(0) and not loss.wants_reg(1)
    reg = loss.accumulate("Dreg", real, c, None, 0)
    assert float(reg["reg/ma_gp"]) >= 0 and D.head[-1].weight.grad is not None
    D.zero_grad(set_to_none=True)
    g = loss.accumulate("G", real, c, None, 0)
    assert {"loss/G", "loss/G_contrastive", "loss/G_recon", "loss/G_ms"} <= set(g)
    assert all(p.grad is None for p in D.parameters()) and all(p.requires_grad for p in D.parameters())  # D frozen
    assert all(torch.isfinite(v) for v in g.values())
    assert not [p for p in cond.parameters() if p.grad is not None]     # the condition is never trained by the GAN
    with pytest.raises(ValueError, match="need a condition"):
        loss.accumulate("D", real, None, None, 0)
    with pytest.raises(ValueError, match="pack"):
        get("phases", "matching")(G, D, LossConfig(), 8, 2, conditioner=cond)
