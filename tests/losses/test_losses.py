import pytest
import torch

from mmgan import registry
from mmgan.config import LossConfig, ModelConfig
from mmgan.losses import DiffAugment, GANLoss
from mmgan.models import build_gan


@pytest.mark.parametrize("name", ["ns", "hinge", "wgan-gp", "lsgan"])
def test_objectives_prefer_separated_logits(name):
    obj = registry.build("loss", name)
    good = obj.d_loss(torch.full((8,), 3.0), torch.full((8,), -3.0))
    bad = obj.d_loss(torch.full((8,), -3.0), torch.full((8,), 3.0))
    assert good < bad
    assert obj.g_loss(torch.full((8,), 3.0)) < obj.g_loss(torch.full((8,), -3.0))


@pytest.mark.parametrize("policy", ["translation", "color", "cutout", "translation,color,cutout"])
def test_diffaugment_shape_and_gradient(policy):
    torch.manual_seed(0)
    x = torch.rand(4, 3, 16, 16, requires_grad=True)
    y = DiffAugment(policy)(x * 2 - 1)
    assert y.shape == x.shape
    y.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_translation_moves_content():
    torch.manual_seed(3)
    x = torch.zeros(16, 1, 16, 16)
    x[:, :, 8, 8] = 1
    y = registry.get("augment", "translation")(x)
    assert (y.flatten(1).argmax(1) != x.flatten(1).argmax(1)).any()


def test_unknown_augment():
    with pytest.raises(KeyError, match="valid augment names"):
        DiffAugment("translation,flip")


def _loss(name="hinge", **kw):
    torch.manual_seed(0)
    cfg = ModelConfig(family="dcgan", channels=1, resolution=16, z_dim=8, g_width=8, d_width=8,
                      extra={"d_norm": "none"}, **{k: v for k, v in kw.items() if k in ("pack",)})
    G, D = build_gan(cfg)
    lc = LossConfig(name=name, **{k: v for k, v in kw.items() if k not in ("pack",)})
    return GANLoss(G, D, lc, 8, pack=cfg.pack), G, D


@pytest.mark.parametrize("phase", ["D", "G"])
def test_phases_accumulate_gradients(phase):
    loss, G, D = _loss()
    real = torch.rand(8, 1, 16, 16) * 2 - 1
    stats = loss.accumulate(phase, real, None, None, step=0)
    target = D if phase == "D" else G
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in target.parameters())
    if phase == "D":
        assert all(p.grad is None for p in G.parameters())   # G is not trained by the D step
    assert all(torch.isfinite(v) for v in stats.values())


def test_wgan_gp_and_r1_penalties():
    loss, _, D = _loss("wgan-gp", r1_gamma=1.0, pack=2)
    real = torch.rand(8, 1, 16, 16) * 2 - 1
    assert loss.wants_reg(0)
    stats = loss.accumulate("Dreg", real, None, None, step=0)
    assert {"reg/gp", "reg/r1"} <= set(stats)
    assert any(p.grad is not None for p in D.parameters())


def test_lazy_r1_interval():
    loss, _, _ = _loss("hinge", r1_gamma=1.0, r1_every=4)
    assert loss.wants_reg(0) and not loss.wants_reg(1) and loss.wants_reg(4)


def test_mode_seeking_term():
    loss, _, _ = _loss("hinge", mode_seeking=1.0)
    stats = loss.accumulate("G", torch.zeros(8, 1, 16, 16), None, None, step=0)
    assert "loss/G_ms" in stats and stats["loss/G_ms"] > 0
