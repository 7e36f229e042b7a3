"""ttsgan: the speech timing read from a picture, the Gaussian upsampling that puts each token at its
frames, durations stretched to a real clip's length (and the length loss), timing drawn from z at
generation time, the running timing statistics, the time discriminator's split, and the "aligned"
phases' G step. The shared forward/backward and save/load cases are in test_components.py."""
from __future__ import annotations

import pytest
import torch

from mmgan import registry
from mmgan.config import LossConfig, ModelConfig
from mmgan.models import build_gan
from mmgan.models.ttsgan import MelDiscriminator, TTSGenerator, speech_timing


def tiny(**extra) -> ModelConfig:
    return ModelConfig(family="ttsgan", channels=1, resolution=16, z_dim=8, d_width=8, cond_dim=6,
                       extra={"width": 8, "blocks": 2, **extra})


def picture(onset: int, length: int, frames: int = 16) -> torch.Tensor:
    x = torch.full((1, 1, 16, frames), -1.0)
    x[..., onset:onset + length] = 0.5
    return x


def test_speech_timing_finds_onset_and_length():
    pics = torch.cat([picture(3, 7), picture(0, 16), picture(10, 1)])
    assert speech_timing(pics).tolist() == [[3.0, 7.0], [0.0, 16.0], [10.0, 1.0]]
    flat = torch.zeros(1, 1, 16, 16)                       # no frame louder than another: all of it
    assert speech_timing(flat).tolist() == [[0.0, 16.0]]


def test_upsampling_puts_each_token_at_its_frames_and_silence_around():
    G = TTSGenerator(8, 16, 40, 4, 4, width=3, blocks=1)
    x = torch.eye(3)[None]                                  # token i's feature is the i-th unit vector
    mask = torch.ones(1, 3, dtype=torch.bool)
    d = torch.tensor([[8.0, 8.0, 8.0]])                     # 8 frames each from frame 10: 10-18, 18-26, 26-34
    with torch.no_grad():
        G.silence.fill_(-1.0)
        h = G.upsample(x, d, mask, torch.tensor([10.0]), torch.tensor([24.0]))[0]   # (3, 40)
    for token, frame in ((0, 14), (1, 22), (2, 30)):        # the middle of each token's frames
        assert int(h[:, frame].argmax()) == token and float(h[token, frame]) > 0.75   # neighbours blend (s = d / 2)
    assert torch.allclose(h[:, :5], torch.full((3, 5), -1.0), atol=1e-2)       # before the onset: silence
    assert torch.allclose(h[:, 39:], torch.full((3, 1), -1.0), atol=1e-2)      # after the end: silence


def test_timing_stretches_durations_to_the_real_length_and_gives_a_length_loss():
    G, _ = build_gan(tiny(length_weight=2.0))
    z, c = torch.randn(2, 8), torch.randn(2, 6)
    tokens, mask = torch.randn(2, 5, 6), torch.ones(2, 5, dtype=torch.bool)
    G.eval()
    x = G(z, c, tokens, mask)
    assert x.shape == (2, 1, 16, 16) and G.aux_loss is None
    timing = torch.tensor([[2.0, 9.0], [0.0, 14.0]])
    G(z, c, tokens, mask, timing=timing)
    xs, ms = G.encode_tokens(tokens, mask, torch.cat([z, c], 1))
    total = (torch.nn.functional.softplus(G.dur(xs).squeeze(1)) * ms).sum(1)
    want = 2.0 * (total.log() - timing[:, 1].log()).square().mean()
    assert float(G.aux_loss.detach()) == pytest.approx(float(want.detach()), rel=1e-5)


def test_generation_draws_timing_from_z_and_a_seed_repeats():
    G, _ = build_gan(tiny())
    G.eval()
    c, tokens = torch.randn(1, 6).repeat(2, 1), torch.randn(1, 4, 6).repeat(2, 1, 1)
    z = torch.randn(1, 8).repeat(2, 1)
    z[1, 1] += 3.0                                         # only the rate number differs
    with torch.no_grad():
        G.rate_std.fill_(0.3)
        a, b = G(z, c, tokens)
        again = G(z[:1], c[:1], tokens[:1])
    torch.testing.assert_close(a, again[0], rtol=1e-5, atol=1e-5)
    assert not torch.allclose(a, b, atol=1e-4)


def test_running_timing_statistics_move_in_training_only():
    G, _ = build_gan(tiny())
    z, c, tokens = torch.randn(4, 8), torch.randn(4, 6), torch.randn(4, 3, 6)
    timing = torch.tensor([[4.0, 8.0]] * 4)
    before = G.onset_stats.clone()
    G.eval()
    G(z, c, tokens, timing=timing)
    assert torch.equal(G.onset_stats, before)
    G.train()
    G(z, c, tokens, timing=timing)
    assert float(G.onset_stats[0]) > float(before[0])      # towards the onset seen (4 frames > 0.1 * 16)


def test_time_discriminator_split_equals_forward_and_refuses_acgan():
    D = MelDiscriminator(16, 16, width=8, cond_dim=6)
    x, c = torch.randn(3, 1, 16, 16), torch.randn(3, 6)
    torch.testing.assert_close(D.judge(D.features(x), c), D(x, c)[0])
    with pytest.raises(ValueError, match="projection head only"):
        build_gan(ModelConfig(**{**tiny().__dict__, "acgan": True, "num_classes": 3}))


def test_picture_discriminator_is_dcgans():
    _, D = build_gan(tiny(discriminator="picture"))
    assert type(D).__name__ == "DCGANDiscriminator"


def test_aligned_phases_give_g_the_real_timing_and_the_length_loss():
    torch.manual_seed(0)
    G, D = build_gan(tiny())
    loss = registry.get("phases", "aligned")(G, D, LossConfig(name="ns", phases="aligned", ma_gp=0.0, recon=5.0), 8)
    real = torch.cat([picture(2, 9), picture(5, 6)])
    c, tokens = torch.randn(2, 6), torch.randn(2, 4, 6)
    seen = {}
    forward = G.forward
    G.forward = lambda *a, **kw: seen.setdefault("timing", kw.get("timing")) is not None and forward(*a, **kw)
    stats = loss.accumulate("G", real, c, None, step=0, tokens=tokens, token_mask=torch.ones(2, 4, dtype=torch.bool))
    assert seen["timing"].tolist() == [[2.0, 9.0], [5.0, 6.0]]
    assert {"loss/G", "loss/G_length", "loss/G_recon"} <= set(stats)
    assert G.dur.weight.grad is not None                   # the length loss reaches the duration predictor
    d_stats = loss.accumulate("D", real, c, None, step=0, tokens=tokens)
    assert {"loss/D", "D/mismatch"} <= set(d_stats)


def test_aligned_phases_refuse_a_generator_without_timing():
    G, D = build_gan(ModelConfig(family="dcgan", channels=1, resolution=16, z_dim=8, g_width=8, d_width=8, cond_dim=6))
    with pytest.raises(ValueError, match="aligns words to time"):
        registry.get("phases", "aligned")(G, D, LossConfig(name="ns", phases="aligned", ma_gp=0.0), 8)
