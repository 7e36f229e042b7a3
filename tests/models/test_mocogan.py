"""mocogan: sound in, video out. The generator's shapes, determinism and its use of z and of the sound; the
audio features' timing (one per frame, a sound at frame k lands at k) and level invariance; the three
discriminators; the "video" phases (window helpers, D and G steps, refusals) and a sync discriminator that
learns on real pairs to tell aligned from shifted audio."""
from __future__ import annotations

import pytest
import torch

from mmgan import registry
from mmgan.config import LossConfig, ModelConfig
from mmgan.models import build_gan
from mmgan.models.base import load_weights, save_weights
from mmgan.models.mocogan import MEL_PER_FRAME, AudioFrames
from mmgan.losses.video import shifted_starts, windows

RATE, FPS, FRAMES = 16000, 8.0, 8
SAMPLES = int(RATE * FRAMES / FPS)            # 2000 samples a frame


def tiny(**kw) -> ModelConfig:
    extra = {"video": {"frames": FRAMES, "fps": FPS},
             "source": {"modality": "audio", "sample_rate": RATE, "samples": SAMPLES},
             "content_dim": 4, "motion_dim": 8, "audio_width": 8, "sync_window": 3, **kw.pop("extra", {})}
    return ModelConfig(**{**dict(family="mocogan", channels=1, resolution=16, z_dim=8, g_width=4, d_width=4,
                                 condition=["audio"]), **kw}, extra=extra)


def bursts(frames_on: list[list[int]], level: float = 0.5) -> torch.Tensor:
    """(b, SAMPLES) silence with a 1-kHz burst filling each listed frame."""
    t = torch.arange(SAMPLES) / RATE
    tone = torch.sin(2 * torch.pi * 1000 * t)
    out = torch.zeros(len(frames_on), SAMPLES)
    per = SAMPLES // FRAMES
    for i, on in enumerate(frames_on):
        for k in on:
            out[i, k * per:(k + 1) * per] = level * tone[k * per:(k + 1) * per]
    return out


def test_generator_makes_clips_from_sound_and_z():
    torch.manual_seed(0)
    G, D = build_gan(tiny())
    G.eval()
    wave = bursts([[1], [5]])
    z = torch.randn(2, 8)
    x = G(z, None, source=wave)
    assert x.shape == (2, FRAMES, 1, 16, 16) and x.abs().max() <= 1
    assert torch.equal(x, G(z, None, source=wave))                          # one z and one sound: one clip
    assert not torch.allclose(x, G(torch.randn(2, 8), None, source=wave))    # z matters
    assert not torch.allclose(x, G(z, None, source=wave.flip(0)))            # the sound matters
    with pytest.raises(ValueError, match="source"):
        G(z, None)


def test_forward_backward_and_save_load(tmp_path):
    torch.manual_seed(0)
    cfg = tiny(condition=["audio", "label"], cond_dim=3, num_classes=3)
    G, D = build_gan(cfg)
    c = torch.eye(3)[[0, 2]]
    x = G(torch.randn(2, 8), c, source=bursts([[2], [6]]))
    logits, aux = D(x, c)
    assert logits.shape == (2,) and aux is None
    logits.mean().backward()
    assert all(p.grad is not None for p in G.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in D.clip_d.parameters())
    G.eval(), D.eval()
    save_weights(G, tmp_path / "G.safetensors"), save_weights(D, tmp_path / "D.safetensors")
    torch.manual_seed(1)
    G2, D2 = build_gan(cfg)
    G2.eval(), D2.eval()
    load_weights(G2, tmp_path / "G.safetensors"), load_weights(D2, tmp_path / "D.safetensors")
    z, w = torch.randn(2, 8), bursts([[0], [3]])
    with torch.no_grad():
        assert torch.equal(G(z, c, source=w), G2(z, c, source=w))
        assert torch.equal(D(x, c)[0], D2(x, c)[0])
    assert G.config == G2.config


def test_audio_features_one_per_frame_at_the_sound_and_level_free():
    enc = AudioFrames(FRAMES, FPS, RATE, 8)
    wave = bursts([[3]])
    mels = enc.mels(wave)
    assert mels.shape == (1, 40, FRAMES * MEL_PER_FRAME)
    loud = mels[0].mean(0)                                                  # (mel frames,)
    assert 3 * MEL_PER_FRAME <= int(loud.argmax()) < 4 * MEL_PER_FRAME + 1  # the burst's frames (window spill: +1)
    assert torch.allclose(mels, enc.mels(wave * 0.1), atol=1e-2)           # normalised per clip: level does not matter
    assert enc(wave).shape == (1, 8, FRAMES)


def test_window_helpers():
    x = torch.arange(2 * 6).view(2, 6)
    assert windows(x, torch.tensor([1, 3]), 3).tolist() == [[1, 2, 3], [9, 10, 11]]
    torch.manual_seed(0)
    starts = torch.randint(0, 6, (200,))
    other = shifted_starts(starts, 8, 3, 2)
    assert ((other - starts).abs() >= 2).all() and (other >= 0).all() and (other <= 5).all()
    assert len(set(other.tolist())) > 3                                     # random, not one fixed shift


def phases(cfg: ModelConfig, **loss):
    G, D = build_gan(cfg)
    return G, D, registry.get("phases", "video")(G, D, LossConfig(**{"name": "hinge", **loss}), cfg.z_dim)


def test_phases_step_and_refusals():
    torch.manual_seed(0)
    G, D, L = phases(tiny())
    real = torch.rand(4, FRAMES, 1, 16, 16) * 2 - 1
    wave = bursts([[1], [2], [5], [6]])
    L.keep_fake = True
    s = L.accumulate("D", real, None, None, 0, source=wave)
    assert {"loss/D_frame", "loss/D_clip", "loss/D_sync", "D/sync_acc"} <= set(s)
    assert any(p.grad is not None for p in D.sync.parameters())
    assert all(p.grad is None for p in G.parameters())                      # D's step leaves G alone
    g = L.accumulate("G", real, None, None, 0, source=wave)
    assert {"loss/G", "loss/G_sync"} <= set(g)
    assert all(p.grad is not None for p in G.parameters())
    with pytest.raises(ValueError, match="sound"):
        L.accumulate("D", real, None, None, 0)
    for bad in ({"name": "wgan-gp"}, {"diffaug": "translation"}, {"r1_gamma": 1.0}):
        with pytest.raises(ValueError, match="phases 'video'"):
            phases(tiny(), **bad)
    G, D, L = phases(tiny(), mode_seeking=1.0)
    assert "loss/G_ms" in L.accumulate("G", real, None, None, 0, source=wave)


def test_build_refuses_what_cannot_work():
    with pytest.raises(ValueError, match="video and audio"):
        build_gan(ModelConfig(family="mocogan", channels=1, resolution=16, z_dim=8, condition=["audio"]))
    with pytest.raises(ValueError, match="content_dim"):
        build_gan(tiny(extra={"content_dim": 8}))
    with pytest.raises(ValueError, match="condition"):
        build_gan(tiny(condition=["audio", "text"]))
    with pytest.raises(ValueError, match="sync_window"):
        build_gan(tiny(extra={"sync_window": FRAMES + 1}))


def test_sync_discriminator_learns_aligned_from_shifted_on_real_pairs():
    """Clips whose frames light up exactly when a burst sounds (a random half of the frames): after a short
    training of the D phase the sync discriminator tells the aligned audio from the shifted one (a real
    expert's job, no generator needed)."""
    torch.manual_seed(0)
    G, D, L = phases(tiny(extra={"sync_window": 3, "sync_min_shift": 2}), reuse_fakes=False)
    opt = torch.optim.Adam(D.sync.parameters(), lr=2e-3)
    L.w_frame = L.w_clip = 0.0
    acc = []
    for step in range(250):
        lit = torch.rand(16, FRAMES) < 0.5
        real = torch.where(lit[:, :, None, None, None], 1.0, -1.0).expand(-1, -1, 1, 16, 16).contiguous()
        wave = bursts([torch.nonzero(row).flatten().tolist() for row in lit])
        opt.zero_grad(set_to_none=True)
        acc.append(float(L.accumulate("D", real, None, None, step, source=wave)["D/sync_acc"]))
        opt.step()
    assert sum(acc[:5]) / 5 < 0.75 and sum(acc[-40:]) / 40 > 0.85, (acc[:10], acc[-40:])
