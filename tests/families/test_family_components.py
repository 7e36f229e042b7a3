"""Component tests for the families whose generic case needs more than G(z, c): progressive (per
stage) and stackgan (word tokens, stage outputs). The other families are in tests/models'
CASES; every registered family is covered by one or the other."""
from __future__ import annotations

import pytest
import torch

from mmgan.config import ModelConfig
from mmgan.models import build_gan
from mmgan.models.base import load_weights, save_weights
from mmgan.models.progressive import stage_at


def _prog(**kw):
    return ModelConfig(family="progressive", channels=3, resolution=16, z_dim=8, g_width=4, d_width=4,
                       extra={"max_width": 16, "stage_steps": 4, "fade_steps": 2}, **kw)


def test_stage_schedule():
    # stages of 4 steps, fades of 2 steps; 3 levels (4, 8, 16 px); the last stage lasts
    assert stage_at(0, 3, 4, 2) == (0, 1.0)
    assert stage_at(4, 3, 4, 2) == (1, 0.0)
    assert stage_at(5, 3, 4, 2) == (1, 0.5)
    assert stage_at(6, 3, 4, 2) == (1, 1.0)
    assert stage_at(100, 3, 4, 2) == (2, 1.0)
    assert stage_at(10, 3, [2, 8], 0) == (2, 1.0)      # per-stage lengths; the list's last repeats


@pytest.mark.parametrize("stage,alpha", [(0, 1.0), (1, 0.5), (2, 1.0)])
def test_progressive_forward_backward_per_stage(stage, alpha):
    torch.manual_seed(0)
    cfg = _prog(cond_dim=4, num_classes=4)
    G, D = build_gan(cfg)
    G.set_stage(stage, alpha), D.set_stage(stage, alpha)
    c = torch.eye(4)
    x = G(torch.randn(4, 8), c)
    assert x.shape == (4, 3, 16, 16) and x.abs().max() <= 1
    assert G.current_resolution == D.current_resolution == 4 * 2 ** stage
    # the image holds (current resolution)^2 distinct blocks: nearest upsampling of the stage's output
    s = 16 // G.current_resolution
    assert torch.equal(x, x[:, :, ::s, ::s].repeat_interleave(s, 2).repeat_interleave(s, 3))
    logits, aux = D(x, c)
    assert logits.shape == (4,) and aux is None
    logits.mean().backward()
    used = {"to_rgb.%d" % stage} | {f"blocks.{i}" for i in range(stage)}
    if alpha < 1:
        used.add(f"to_rgb.{stage - 1}")
    for name, p in G.named_parameters():
        active = name.startswith(("fc", "conv0", "embed")) or any(name.startswith(u + ".") for u in used)
        assert (p.grad is not None) == active, name
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in D.parameters())


def test_progressive_d_downsamples_reals():
    _, D = build_gan(_prog())
    D.set_stage(0)
    x = torch.rand(4, 3, 16, 16) * 2 - 1
    small = torch.nn.functional.avg_pool2d(x, 4)
    up = small.repeat_interleave(4, 2).repeat_interleave(4, 3)
    D.eval()
    assert torch.allclose(D(x)[0], D(up)[0], atol=1e-5)      # only the 4x4 content matters at stage 0


def test_progressive_save_load_keeps_stage(tmp_path):
    torch.manual_seed(0)
    G, D = build_gan(_prog())
    G.set_stage(1, 0.25)
    save_weights(G, tmp_path / "G.safetensors")
    G2, _ = build_gan(_prog())
    load_weights(G2, tmp_path / "G.safetensors")
    assert int(G2.stage) == 1 and float(G2.alpha) == 0.25
    z = torch.randn(4, 8)
    assert torch.equal(G.eval()(z), G2.eval()(z))
    assert G.config == G2.config


def _stack(cond_dim=6, **extra):
    return ModelConfig(family="stackgan", channels=3, resolution=16, z_dim=8, g_width=4, d_width=4, cond_dim=cond_dim,
                       extra={"stages": 3, "ca_dim": 4, **extra})


@pytest.mark.parametrize("with_tokens", [True, False])
def test_stackgan_forward_backward(with_tokens):
    torch.manual_seed(0)
    G, D = build_gan(_stack())
    b, n = 4, 5
    c = torch.randn(b, 6)
    kw = {}
    if with_tokens:
        mask = torch.ones(b, n, dtype=torch.bool)
        mask[0, 3:] = False
        kw = {"tokens": torch.randn(b, n, 6), "token_mask": mask}
    stages = G(torch.randn(b, 8), c, return_stages=True, **kw)
    assert [s.shape[-1] for s in stages] == [4, 8, 16] and all(s.shape[:2] == (b, 3) for s in stages)
    assert torch.equal(G.eval()(torch.zeros(b, 8), c, **kw), G(torch.zeros(b, 8), c, **kw))   # eval: CA uses mu
    G.train()
    stages = G(torch.randn(b, 8), c, return_stages=True, **kw)
    logits, aux = D(stages, c)
    assert logits.shape == (b,) and aux is None
    (logits.mean() + G.kl).backward()
    assert all(p.grad is not None for p in G.parameters())
    assert all(p.grad is not None for p in D.parameters())
    assert D(stages[-1].detach(), c)[0].shape == (b,)       # one image: D judges its pyramid


def test_stackgan_unconditional_and_round_trip(tmp_path):
    torch.manual_seed(0)
    cfg = _stack(cond_dim=0)
    G, D = build_gan(cfg)
    x = G(torch.randn(4, 8))
    assert x.shape == (4, 3, 16, 16) and float(G.kl) == 0.0
    G.eval(), D.eval()
    save_weights(G, tmp_path / "G.safetensors"), save_weights(D, tmp_path / "D.safetensors")
    torch.manual_seed(1)
    G2, D2 = build_gan(cfg)
    load_weights(G2, tmp_path / "G.safetensors"), load_weights(D2, tmp_path / "D.safetensors")
    G2.eval(), D2.eval()
    z = torch.randn(4, 8)
    with torch.no_grad():
        assert torch.equal(G(z), G2(z))
        assert torch.equal(D(G(z))[0], D2(G(z))[0])


def test_stackgan_rejects_mismatched_tokens_and_too_many_stages():
    G, _ = build_gan(_stack())
    with pytest.raises(ValueError, match="must match"):
        G(torch.randn(2, 8), torch.randn(2, 6), tokens=torch.randn(2, 3, 5))
    with pytest.raises(ValueError, match="at most"):
        build_gan(_stack(stages=5))


def test_stackgan_conditioning_augmentation_keeps_the_condition_at_init():
    """CA starts with sigma = 0.1 and unit-scale mu for unit-norm conditions, so c_hat carries the
    condition from the first step; KL is averaged over dimensions (StackGAN's reference code)."""
    from mmgan.models.stackgan import CondAugment

    torch.manual_seed(0)
    ca = CondAugment(256, 64)
    c = torch.nn.functional.normalize(torch.randn(512, 256), dim=1)
    with torch.no_grad():
        mu, logvar = ca.fc(c * ca.scale).chunk(2, dim=1)
    assert torch.allclose((0.5 * logvar).exp().mean(), torch.tensor(0.1), rtol=0.2)
    assert 0.2 < float(mu.std()) < 2.0
    with torch.no_grad():
        c_hat, kl = ca.train()(c)
    assert float(torch.nn.functional.cosine_similarity(c_hat, mu, dim=1).mean()) > 0.9
    want = 0.5 * (mu.square() + logvar.exp() - 1 - logvar).mean()
    assert float(kl) == pytest.approx(float(want), rel=1e-5)
    with torch.no_grad():
        assert torch.equal(ca.eval()(c)[0], mu)
