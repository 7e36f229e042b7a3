"""Phases "vocoder" (HiFi-GAN's step) and the spectral distances it uses: every term finite with
gradients, segments cut alike from mels and waveforms, the warm-up trains G alone, bad settings refused."""
from __future__ import annotations

import pytest
import torch

from mmgan.config import LossConfig, ModelConfig
from mmgan.losses.spectral import log_mel, mel_l1, multi_resolution_stft
from mmgan.losses.vocoder import VocoderLoss, feature_matching, ls_d, ls_g
from mmgan.models import build_gan
from mmgan.modalities.sound import MelSpec

HALF = MelSpec.for_clip(16000, 8000)


def tone(b: int = 4, samples: int = 8000) -> torch.Tensor:
    t = torch.arange(samples) / 16000
    f = 300 + 100 * torch.arange(b)[:, None]
    return (0.3 * torch.sin(2 * torch.pi * f * t))[:, None]             # (b, 1, samples)


def models(**extra):
    torch.manual_seed(0)
    cfg = ModelConfig(family="hifigan", g_width=16, d_width=2, condition=[],
                      extra={"mel": HALF.to_dict(), "segment_frames": 8, **extra})
    return build_gan(cfg)


def test_spectral_distances_are_finite_with_gradients():
    real = tone()
    fake = (real + 0.05 * torch.randn_like(real)).requires_grad_(True)
    assert log_mel(real, HALF).shape == (4, 64, 8000 // HALF.hop + 1)
    assert mel_l1(real, real, HALF) == 0
    for loss in (mel_l1(fake, real, HALF), multi_resolution_stft(fake, real)):
        assert torch.isfinite(loss) and loss > 0
        (g,) = torch.autograd.grad(loss, fake)
        assert torch.isfinite(g).all() and g.abs().sum() > 0
    silent = torch.zeros(2, 1, 2000, requires_grad=True)               # magnitudes floored: no NaN at 0
    (g,) = torch.autograd.grad(multi_resolution_stft(silent, tone(2, 2000)), silent)
    assert torch.isfinite(g).all()


def test_adversarial_and_feature_matching_terms():
    r = [torch.ones(2, 5), torch.ones(2, 3)]
    f = [torch.zeros(2, 5, requires_grad=True), torch.zeros(2, 3, requires_grad=True)]
    assert ls_d(r, [x.detach() for x in f]) == 0 and ls_g(f) == 2            # least squares, summed
    fm = feature_matching([[torch.ones(2, 5)]], [[f[0]]])
    assert fm == 1
    fm.backward()
    assert f[0].grad is not None


def test_phases_train_d_then_g():
    G, D = models(examples=4)
    loss = VocoderLoss(G, D, LossConfig(name="lsgan"), z_dim=1)
    real = tone()
    loss.keep_fake = True
    stats = loss.accumulate("D", real, None, None, step=0)
    assert set(stats) == {"loss/D", "D/real", "D/fake"} and all(torch.isfinite(v) for v in stats.values())
    assert all(p.grad is not None for p in D.parameters()) and all(p.grad is None for p in G.parameters())
    assert G.examples_full                                             # the first batch fills the previews
    D.zero_grad()
    stats = loss.accumulate("G", real, None, None, step=0)
    assert set(stats) == {"loss/G", "loss/G_fm", "loss/G_mel"} and all(torch.isfinite(v) for v in stats.values())
    assert all(p.grad is not None for p in G.vocoder.parameters())
    assert all(p.grad is None for p in D.parameters())                 # D frozen in the G step


def test_segments_cut_the_same_frames_from_mel_and_waveform():
    G, D = models()
    loss = VocoderLoss(G, D, LossConfig(name="lsgan"), z_dim=1)
    real = torch.randn(3, 1, 8000) * 0.1
    whole, mel, wave = loss.pairs(real)
    assert whole.shape == (3, 1, 64, 64) and mel.shape == (3, 1, 64, 8) and wave.shape == (3, 1, 8 * HALF.hop)
    for i in range(3):   # find the start frame of each segment in the whole mel; the waveform starts at it
        s = next(s for s in range(57) if torch.equal(whole[i, :, :, s:s + 8], mel[i]))
        assert torch.equal(wave[i], real[i, :, s * HALF.hop:(s + 8) * HALF.hop])


def test_warmup_trains_g_alone_on_the_stft_loss():
    G, D = models(warmup_steps=2)
    loss = VocoderLoss(G, D, LossConfig(name="lsgan"), z_dim=1)
    assert loss.accumulate("D", tone(), None, None, step=1) == {}
    assert all(p.grad is None for p in D.parameters())
    stats = loss.accumulate("G", tone(), None, None, step=1)
    assert set(stats) == {"loss/G_stft", "loss/G_mel"} and all(torch.isfinite(v) for v in stats.values())
    assert all(p.grad is not None for p in G.vocoder.parameters())
    assert "loss/D" in loss.accumulate("D", tone(), None, None, step=2)   # then the GAN terms


@pytest.mark.parametrize("cfg,match", [(LossConfig(name="hinge"), "loss.name=lsgan"),
                                       (LossConfig(name="lsgan", r1_gamma=1.0), "r1_gamma")])
def test_bad_settings_are_refused(cfg, match):
    G, D = models()
    with pytest.raises(ValueError, match=match):
        VocoderLoss(G, D, cfg, z_dim=1)


def test_stft_loss_stays_bounded_with_a_silent_clip_in_the_batch():
    """Spectral convergence over the batch (Parallel WaveGAN): per clip, a digitally silent reference
    (spoken digits open and close on silence) divided faint noise by the magnitude floor, ~x100."""
    real = torch.cat([tone(1, 4000), torch.zeros(1, 1, 4000)])
    fake = real + 1e-3 * torch.randn_like(real)
    assert multi_resolution_stft(fake, real) < 5
    assert multi_resolution_stft(real, real) < 1e-6


def test_loud_segments_are_drawn_where_the_clips_have_sound():
    G, D = models(loud_segments=1.0)
    loss = VocoderLoss(G, D, LossConfig(name="lsgan"), z_dim=1)
    real = torch.zeros(16, 1, 8000)
    real[:, :, 6000:7000] = tone(16, 1000)                             # sound in frames 48 .. 56 only
    torch.manual_seed(0)
    _, mel, _ = loss.pairs(real)
    assert all((m > -1).any() for m in mel)                             # every segment holds some of it
    loss.loud_segments = 0.0
    torch.manual_seed(0)
    _, mel, _ = loss.pairs(real)
    assert sum(bool((m <= -1).all()) for m in mel) >= 6                 # uniform: most fall on silence


def test_stft_weight_adds_the_full_band_term():
    G, D = models(stft_weight=1.0)
    loss = VocoderLoss(G, D, LossConfig(name="lsgan"), z_dim=1)
    loss.accumulate("D", tone(), None, None, step=0)
    stats = loss.accumulate("G", tone(), None, None, step=0)
    assert "loss/G_stft" in stats and torch.isfinite(stats["loss/G_stft"])

