"""WaveGAN: the output length rule, the stride-4 stages, phase shuffle (training only, at most n samples, the
gap filled by reflection), the paper's sizes, and float32 samples under bf16 autocast. The shared
forward/backward and save/load cases are in test_components.py."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from mmgan.config import ModelConfig
from mmgan.models import build_gan
from mmgan.models.base import num_params
from mmgan.models.wavegan import PhaseShuffle, plan


def tiny(samples: int, **kw) -> ModelConfig:
    return ModelConfig(**{"family": "wavegan", "data_dim": samples, "z_dim": 4, "g_width": 2, "d_width": 2, **kw})


@pytest.mark.parametrize("samples,k,first", [(16000, 5, 16), (16384, 5, 16), (8000, 5, 8), (64000, 6, 16),
                                             (16, 1, 4), (17, 1, 5), (64, 1, 16), (65, 2, 5), (1, 1, 1)])
def test_length_rule(samples, k, first):
    """k = the fewest stride-4 stages whose first length is at most 16; first = ceil(samples / 4^k)."""
    assert plan(samples) == (k, first)
    assert samples <= first * 4 ** k < samples + 4 ** k          # G makes this much and crops the end


@pytest.mark.parametrize("samples", [1, 7, 255, 1000, 8000])
def test_generator_makes_exactly_data_dim_samples(samples):
    G, D = build_gan(tiny(samples))
    x = G(torch.randn(3, 4))
    assert x.shape == (3, 1, samples) and x.abs().max() <= 1
    assert D(x)[0].shape == (3,)


def test_every_stage_is_4x_and_d_mirrors_it():
    """1 s at 16 kHz: 16 -> 64 -> 256 -> 1024 -> 4096 -> 16384, cropped to 16000; D's 'SAME' convs take
    16000 back to 16 (ceil(t / 4) each)."""
    G, D = build_gan(tiny(16000))
    h = G.fc(torch.zeros(1, 4)).view(1, G.ch0, G.first)
    lengths = [h.shape[-1]]
    for layer in [*G.ups, G.out]:
        h = layer(h)
        lengths.append(h.shape[-1])
    assert lengths == [16, 64, 256, 1024, 4096, 16384]
    D.eval()
    x = torch.zeros(1, 1, 16000)
    lengths = []
    for layer in D.body:
        x = layer(x)
        if isinstance(layer, torch.nn.Conv1d):
            lengths.append(x.shape[-1])
    assert lengths == [4000, 1000, 250, 63, 16]
    assert G(torch.randn(2, 4)).shape == (2, 1, 16000)


def test_stages_option_sets_k():
    assert plan(16000, stages=3) == (3, 250)
    G, _ = build_gan(tiny(16000, extra={"stages": 3}))
    assert len(G.ups) + 1 == 3 and G.first == 250 and G(torch.randn(1, 4)).shape == (1, 1, 16000)


def test_paper_sizes():
    """d = 64 and z = 100 is the paper's WaveGAN: dense to 16 x 1024, widths 1024 -> 512 -> ... -> 64 -> 1
    (19.1M parameters in G); D 64 -> 128 -> ... -> 1024 on 16 samples."""
    G, D = build_gan(ModelConfig(family="wavegan", data_dim=16000, z_dim=100, g_width=64, d_width=64))
    assert G.fc.out_features == 16 * 1024
    assert [m.out_channels for m in G.ups] + [G.out.out_channels] == [512, 256, 128, 64, 1]
    assert {m.kernel_size for m in G.modules() if isinstance(m, torch.nn.ConvTranspose1d)} == {(25,)}
    assert [m.out_channels for m in D.body if isinstance(m, torch.nn.Conv1d)] == [64, 128, 256, 512, 1024]
    assert D.head.in_features == 1024 * 16
    assert round(num_params(G) / 1e6, 1) == 19.1


def test_phase_shuffle_moves_each_sample_by_at_most_n_in_training_only():
    n, t = 2, 50
    ps = PhaseShuffle(n)
    x = torch.randn(64, 3, t)
    padded = F.pad(x, (n, n), mode="reflect")
    torch.manual_seed(0)
    y = ps.train()(x)
    shifts = []
    for i in range(len(x)):
        found = [s for s in range(-n, n + 1) if torch.equal(y[i], padded[i, :, n - s: n - s + t])]
        assert found, f"sample {i} is not x shifted by at most {n} with reflection"
        shifts.append(found[0])
    assert set(shifts) == set(range(-n, n + 1))                 # every shift in [-n, n] is drawn
    assert torch.equal(ps.eval()(x), x)
    assert torch.equal(PhaseShuffle(0).train()(x), x)


def test_discriminator_is_deterministic_in_eval_only():
    _, D = build_gan(tiny(1000))
    x = torch.randn(8, 1, 1000)
    D.eval()
    with torch.no_grad():
        assert torch.equal(D(x)[0], D(x)[0])
        D.train()
        torch.manual_seed(0)
        a = D(x)[0]
        b = D(x)[0]
    assert not torch.equal(a, b)                                 # phase shuffle draws new shifts each call
    _, D0 = build_gan(tiny(1000, extra={"phase_shuffle": 0}))
    with torch.no_grad():
        assert torch.equal(D0(x)[0], D0(x)[0])


def test_gradient_penalty_differentiates_through_phase_shuffle():
    """WGAN-GP takes the gradient of D's score and differentiates it again."""
    _, D = build_gan(tiny(1000, cond_dim=3, num_classes=3, acgan=True))
    x = torch.randn(4, 1, 1000, requires_grad=True)
    c = torch.eye(3)[torch.tensor([0, 1, 2, 0])]
    (g,) = torch.autograd.grad(D(x, c)[0].sum(), x, create_graph=True)
    ((g.flatten(1).norm(dim=1) - 1) ** 2).mean().backward()
    convs = [m for m in D.body if isinstance(m, torch.nn.Conv1d)]
    assert all(m.weight.grad is not None and m.weight.grad.abs().sum() > 0 for m in convs)
    assert D.head.weight.grad.abs().sum() > 0


def test_samples_stay_float32_under_bf16_autocast():
    """bf16 would round every sample to 8 bits of mantissa: the output layer runs in float32."""
    G, _ = build_gan(tiny(1000))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        x = G(torch.randn(2, 4))
    assert x.dtype == torch.float32
    assert (x * 256).frac().abs().sum() > 0


@pytest.mark.parametrize("kw,match", [(dict(extra={"kernel": 24}), "odd"),
                                      (dict(channels=3), "mono waveforms"),
                                      (dict(resolution=64), "mono waveforms"),
                                      (dict(g_cond="attention"), "concat"),
                                      (dict(extra={"phase_shuffle": -1}), "phase_shuffle")])
def test_bad_settings_are_loud(kw, match):
    with pytest.raises(ValueError, match=match):
        build_gan(tiny(1000, **kw))


def test_no_samples_is_loud():
    with pytest.raises(ValueError, match="data_dim"):
        build_gan(ModelConfig(family="wavegan", z_dim=4, g_width=2, d_width=2))
