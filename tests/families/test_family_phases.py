"""The families' step logic (phases) and their model hooks: cycle, stylegan2 (path length,
truncation, style mixing), progressive, multistage."""
from __future__ import annotations

import pytest
import torch

from mmgan import registry
from mmgan.config import LossConfig, ModelConfig
from mmgan.models import build_gan


def _grads(m):
    return [p.grad for p in m.parameters()]


def _zero(*ms):
    for m in ms:
        m.zero_grad(set_to_none=True)


def _cycle(**extra):
    cfg = ModelConfig(family="cyclegan", channels=3, resolution=16, g_width=4, d_width=4,
                      extra={"res_blocks": 1, "pool_size": 3, "examples": 2, **extra})
    G, D = build_gan(cfg)
    loss = registry.get("phases", "cycle")(G, D, LossConfig(name="lsgan", r1_gamma=1.0), 8)
    return G, D, loss


def test_cycle_phases_train_the_right_networks():
    torch.manual_seed(0)
    G, D, loss = _cycle()
    real = torch.rand(6, 3, 16, 16) * 2 - 1
    labels = torch.tensor([0, 1, 0, 1, 1, 0])
    stats = loss.accumulate("D", real, None, labels, 0)
    assert all(g is None for g in _grads(G))
    assert all(g is not None for g in _grads(D))
    assert {"loss/D_a", "loss/D_b", "loss/D"} <= set(stats)
    _zero(G, D)
    stats = loss.accumulate("G", real, None, labels, 0)
    assert all(g is not None for g in _grads(G.g_ab)) and all(g is not None for g in _grads(G.g_ba))
    assert all(g is None for g in _grads(D)) and all(p.requires_grad for p in D.parameters())   # D frozen, then back
    assert {"loss/G", "loss/G_cycle", "loss/G_identity"} <= set(stats)
    _zero(G, D)
    assert loss.wants_reg(0)
    assert "reg/r1" in loss.accumulate("Dreg", real, None, labels, 0)
    # a batch holding one domain only still trains (the other direction's terms are skipped)
    _zero(G, D)
    assert torch.isfinite(loss.accumulate("G", real, None, torch.zeros(6, dtype=torch.long), 1)["loss/G"])


def test_cycle_needs_domain_labels_and_rejects_wgan():
    G, D, loss = _cycle()
    with pytest.raises(ValueError, match="model.condition=\\[label\\]"):
        loss.accumulate("D", torch.zeros(2, 3, 16, 16), None, None, 0)
    with pytest.raises(ValueError, match="wgan-gp"):
        registry.get("phases", "cycle")(G, D, LossConfig(name="wgan-gp"), 8)
    with pytest.raises(ValueError, match="cyclegan"):
        dc, dd = build_gan(ModelConfig(family="dcgan", channels=1, resolution=16, g_width=4, d_width=4))
        registry.get("phases", "cycle")(dc, dd, LossConfig(name="lsgan"), 8)


def test_image_pool_fills_then_swaps():
    torch.manual_seed(0)
    _, D, _ = _cycle()
    fakes = torch.arange(3, dtype=torch.float32).view(3, 1, 1, 1).expand(3, 3, 16, 16).clone()
    assert torch.equal(D.pool(fakes, "a"), fakes) and int(D.pool_n[0]) == 3   # filling: returned as given
    new = torch.full((40, 3, 16, 16), 9.0)
    out = D.pool(new, "a")
    swapped = (out[:, 0, 0, 0] != 9).sum()
    assert 0 < swapped < 40                                                     # about half come from the pool
    assert int(D.pool_n[1]) == 0                                                # the other domain's pool is apart


def test_translate_examples_and_preview():
    torch.manual_seed(0)
    G, _, _ = _cycle()
    a, b = torch.rand(1, 3, 16, 16), torch.rand(3, 3, 16, 16)
    G.remember_examples(a, b)
    G.remember_examples(torch.rand(5, 3, 16, 16), torch.rand(5, 3, 16, 16))
    assert G.examples_n.tolist() == [2, 2] and torch.equal(G.examples_a[0], a[0]) and torch.equal(G.examples_b, b[:2])
    G.eval()
    x = torch.rand(4, 3, 16, 16) * 2 - 1
    mixed = G.translate(x, torch.tensor([1, 0, 1, 0]))
    assert torch.allclose(mixed[0], G.g_ab(x[:1])[0], atol=1e-6) and torch.allclose(mixed[1], G.g_ba(x[1:2])[0], atol=1e-6)
    assert torch.equal(G(image=x), G.g_ab(x))
    prev = G(torch.zeros(6, 8))
    assert prev.shape == (6, 3, 16, 16)
    assert torch.equal(prev[0], G.examples_a[0]) and torch.equal(prev[2], G.examples_b[0])
    assert torch.allclose(prev[1], G.g_ab(G.examples_a[:1])[0], atol=1e-6)


def _sg2(**extra):
    cfg = ModelConfig(family="stylegan2", channels=3, resolution=16, z_dim=8, g_width=4, d_width=4,
                      extra={"w_dim": 16, "mapping_layers": 2, **extra})
    return build_gan(cfg)


def test_stylegan2_truncation_mixing_and_const_noise():
    torch.manual_seed(0)
    G, _ = _sg2(mixing_prob=1.0)
    for _ in range(3):
        G(torch.randn(8, 8))                                 # training: updates the running mean w
    assert G.w_avg.abs().sum() > 0
    G.eval()
    z1, z2 = torch.randn(4, 8), torch.randn(4, 8)
    assert torch.equal(G(z1), G(z1))                          # eval: fixed noise maps
    a, b = G(z1, truncation=0.0), G(z2, truncation=0.0)
    assert torch.allclose(a, b, atol=1e-6)                   # psi = 0: every latent maps to the mean w
    assert torch.allclose(G(z1, mix_z=z2, mix_layer=G.num_ws), G(z1), atol=1e-6)
    assert torch.allclose(G(z1, mix_z=z2, mix_layer=0), G(z2), atol=1e-6)
    assert not torch.allclose(G(z1, mix_z=z2, mix_layer=3), G(z1), atol=1e-4)


def test_path_length_regularization():
    torch.manual_seed(0)
    G, D = _sg2(pl_weight=2.0, pl_every=2)
    G.loss_options = {"pl_weight": 2.0, "pl_every": 2}
    loss = registry.get("phases", "stylegan2")(G, D, LossConfig(name="ns"), 8)
    real = torch.rand(4, 3, 16, 16) * 2 - 1
    stats = loss.accumulate("G", real, None, None, 2)
    assert "reg/pl" in stats and float(G.pl_mean) > 0
    assert "reg/pl" not in loss.accumulate("G", real, None, None, 3)      # lazy: every pl_every steps


def test_progressive_phases_set_the_stage():
    cfg = ModelConfig(family="progressive", channels=1, resolution=16, z_dim=8, g_width=4, d_width=4,
                      extra={"stage_steps": 3, "fade_steps": 2})
    G, D = build_gan(cfg)
    loss = registry.get("phases", "progressive")(G, D, LossConfig(), 8)
    real = torch.rand(4, 1, 16, 16) * 2 - 1
    stats = loss.accumulate("G", real, None, None, 4)
    assert int(G.stage) == int(D.stage) == 1 and float(G.alpha) == pytest.approx(0.5)
    assert float(stats["progress/resolution"]) == 8
    with pytest.raises(ValueError, match="progressive"):
        dc, dd = build_gan(ModelConfig(family="dcgan", channels=1, resolution=16, g_width=4, d_width=4))
        registry.get("phases", "progressive")(dc, dd, LossConfig(), 8)


def test_multistage_phases_mismatch_and_kl():
    torch.manual_seed(0)
    cfg = ModelConfig(family="stackgan", channels=3, resolution=16, z_dim=8, g_width=4, d_width=4, cond_dim=4,
                      extra={"stages": 2, "ca_dim": 4})
    G, D = build_gan(cfg)
    loss = registry.get("phases", "multistage")(G, D, LossConfig(name="hinge", r1_gamma=1.0), 8)
    real = torch.rand(4, 3, 16, 16) * 2 - 1
    c = torch.eye(4)
    stats = loss.accumulate("D", real, c, None, 0, tokens=torch.randn(4, 3, 4), token_mask=torch.ones(4, 3, dtype=torch.bool))
    assert "D/mismatch" in stats and all(g is None for g in _grads(G))
    _zero(G, D)
    stats = loss.accumulate("G", real, c, None, 0)
    assert float(stats["loss/G_kl"]) > 0 and all(g is not None for g in _grads(G))
    assert all(g is None for g in _grads(D)) and all(p.requires_grad for p in D.parameters())   # D frozen, then back
    reg = loss.accumulate("Dreg", real, c, None, 0)
    assert {"reg/r1", "reg/ma_gp"} <= set(reg) and float(reg["reg/ma_gp"]) > 0   # MA-GP on by default (loss.ma_gp)


def test_multistage_d_loss_is_the_mean_of_per_stage_matching_losses():
    """Each stage's discriminator gets its own matching-aware hinge loss; loss/D is their mean."""
    torch.manual_seed(0)
    cfg = ModelConfig(family="stackgan", channels=3, resolution=16, z_dim=8, g_width=4, d_width=4, cond_dim=4,
                      extra={"stages": 2, "ca_dim": 4})
    G, D = build_gan(cfg)
    loss = registry.get("phases", "multistage")(G, D, LossConfig(name="hinge"), 8)
    real, c = torch.rand(4, 3, 16, 16) * 2 - 1, torch.eye(4)
    torch.manual_seed(1)
    stats = loss.accumulate("D", real, c, None, 0)
    torch.manual_seed(1)
    with torch.no_grad():
        fake = G(torch.randn(4, 8), c, return_stages=True)
        r, f, m = D(real, c, per_stage=True)[0], D(fake, c, per_stage=True)[0], D(real, c.roll(1, 0), per_stage=True)[0]
    assert r.shape == (2, 4)
    hinge = lambda x: torch.relu(1 + x).mean()  # noqa: E731
    want = sum(torch.relu(1 - r[i]).mean() + (hinge(f[i]) + hinge(m[i])) / 2 for i in range(2)) / 2
    assert float(stats["loss/D"]) == pytest.approx(float(want), rel=1e-5)
    with pytest.raises(ValueError, match="one judge per stage"):
        dc, dd = build_gan(ModelConfig(family="dcgan", channels=3, resolution=16, g_width=4, d_width=4))
        registry.get("phases", "multistage")(dc, dd, LossConfig(), 8)
