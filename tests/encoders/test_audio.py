"""The audio encoders' log-mel front end: per-utterance normalization (clip, cmvn), raw features for
augmentation, dropout, and the mel scale the augmentations warp."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from mmgan.encoders.audio import NORMS, log_mel, mel_centres, mel_filters, mel_position, normalize_mel
from mmgan.registry import build


def _speechlike(seconds: float = 0.8, f0: float = 140.0, sr: int = 16000, seed: int = 0) -> np.ndarray:
    """Harmonics of f0 under a moving formant, with a pause: enough structure for per-band statistics."""
    t = np.arange(int(seconds * sr)) / sr
    rng = np.random.default_rng(seed)
    y = sum(np.sin(2 * np.pi * k * f0 * t) / k * (1 + np.sin(2 * np.pi * 3 * t + k)) for k in range(1, 20))
    y = y * (t < 0.6 * seconds) + 0.01 * rng.standard_normal(len(t))
    return (0.1 * y).astype(np.float32)


def test_cmvn_gives_each_band_zero_mean_unit_variance_per_utterance():
    for seed, gain in ((0, 1.0), (1, 0.05)):
        mel = torch.from_numpy(log_mel(_speechlike(seed=seed) * gain, n_mels=32, norm="cmvn"))
        torch.testing.assert_close(mel.mean(0), torch.zeros(32), atol=5e-4, rtol=0)
        torch.testing.assert_close(mel.std(0), torch.ones(32), atol=5e-3, rtol=0)   # eps in the divisor
    clip = torch.from_numpy(log_mel(_speechlike(), n_mels=32, norm="clip"))
    assert abs(float(clip.mean())) < 1e-4 and abs(float(clip.std()) - 1) < 1e-3
    assert float(clip.mean(0).abs().max()) > 0.1          # clip norm leaves the bands' own levels


def test_cmvn_removes_a_fixed_spectral_colouring():
    """A constant per-band gain (a microphone's or a voice's colouring) is a per-band offset in log power:
    CMVN cancels it, clip normalization does not."""
    raw = torch.from_numpy(log_mel(_speechlike(), n_mels=32, norm="none"))
    coloured = raw + torch.linspace(-2, 2, 32)
    mask = torch.ones(1, raw.shape[0], dtype=torch.bool)
    a, b = (normalize_mel(m[None], mask, "cmvn")[0] for m in (raw, coloured))
    torch.testing.assert_close(a, b, atol=1e-4, rtol=0)
    a, b = (normalize_mel(m[None], mask, "clip")[0] for m in (raw, coloured))
    assert float((a - b).abs().max()) > 0.1


def test_batched_normalization_matches_log_mel_and_ignores_padding():
    clips = [_speechlike(0.5, seed=0), _speechlike(1.2, 200, seed=1)]
    raw = [torch.from_numpy(log_mel(c, n_mels=24, norm="none")) for c in clips]
    n = max(r.shape[0] for r in raw)
    mel = torch.stack([torch.cat([r, torch.full((n - r.shape[0], 24), 7.0)]) for r in raw])   # junk padding
    mask = torch.arange(n)[None] < torch.tensor([r.shape[0] for r in raw])[:, None]
    for norm in ("clip", "cmvn"):
        out = normalize_mel(mel, mask, norm)
        assert out.shape == mel.shape and out.dtype == mel.dtype
        for i, c in enumerate(clips):
            k = raw[i].shape[0]
            torch.testing.assert_close(out[i, :k], torch.from_numpy(log_mel(c, n_mels=24, norm=norm)), atol=1e-4, rtol=0)
            assert torch.all(out[i, k:] == 0)
    with pytest.raises(ValueError, match="norm must be one of"):
        normalize_mel(mel, mask, "global")
    assert NORMS == ("clip", "cmvn", "none")


def test_encoder_norm_option_prepare_raw_features_and_cache_key():
    clips = [_speechlike(0.5), _speechlike(0.9, 180, seed=2)]
    clip_enc = build("encoder", "audio-cnn", dim=8, width=8, n_mels=16)
    cmvn_enc = build("encoder", "audio-cnn", dim=8, width=8, n_mels=16, norm="cmvn")
    assert "norm" not in clip_enc.prepare_config                      # old feature caches stay valid
    assert cmvn_enc.prepare_config["norm"] == "cmvn"
    raw = cmvn_enc.raw_features()
    assert raw.modality == "audio" and raw.prepare_config["norm"] == "none"
    rb = raw.prepare(clips)
    for enc in (clip_enc, cmvn_enc):
        prepared = enc.prepare(clips)
        torch.testing.assert_close(enc.normalize(rb)["mel"], prepared["mel"], atol=1e-4, rtol=0)
        assert torch.equal(rb["mask"], prepared["mask"])
    with pytest.raises(ValueError, match="clip or cmvn"):
        build("encoder", "audio-cnn", norm="peak")


@pytest.mark.parametrize("name", ["audio-cnn", "audio-transformer"])
def test_dropout_acts_in_training_only(name):
    kw = {"dim": 8, "width": 8, "n_mels": 16} | ({"layers": 1, "heads": 2} if name == "audio-transformer" else {})
    plain, drop = build("encoder", name, **kw), build("encoder", name, dropout=0.3, **kw)
    assert set(plain.state_dict()) == set(drop.state_dict())          # no new weights: old files load
    drop.load_state_dict(plain.state_dict())
    batch = plain.prepare([_speechlike(0.6)])
    plain.eval(), drop.eval()
    torch.testing.assert_close(plain(batch).pooled, drop(batch).pooled)
    drop.train()
    torch.manual_seed(0)
    assert not torch.allclose(drop(batch).pooled, plain(batch).pooled)
    with pytest.raises(ValueError, match="dropout"):
        build("encoder", name, dropout=1.0, **kw)


def test_mel_scale_matches_the_filterbank():
    sr, n_fft, m = 16000, 512, 48
    fb = mel_filters(sr, n_fft, m)
    peaks = np.linspace(0, sr / 2, n_fft // 2 + 1)[fb.argmax(1)]
    centres = mel_centres(sr, m)
    assert np.abs(peaks - centres).max() <= sr / n_fft                 # within one FFT bin
    np.testing.assert_allclose(mel_position(centres, sr, m), np.arange(m), atol=1e-9)
    np.testing.assert_allclose(mel_position(torch.tensor(centres), sr, m).numpy(), np.arange(m), atol=1e-9)
