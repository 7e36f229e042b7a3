"""Spectral distances between waveforms (b, 1, t) or (b, t), for vocoders: the log-mel L1 (HiFi-GAN's
reconstruction term) and the multi-resolution STFT loss (Yamamoto et al. 2020, Parallel WaveGAN).
Both run in float32 whatever autocast is on, and are differentiable in the generated waveform."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..modalities.sound import MelSpec, mel_filters

# (n_fft, hop, window) of the multi-resolution STFT loss: Parallel WaveGAN's three resolutions
RESOLUTIONS = ((1024, 120, 600), (2048, 240, 1200), (512, 50, 240))


def _flat(x: torch.Tensor) -> torch.Tensor:
    return x.float().reshape(x.shape[0], -1)


def magnitude(x: torch.Tensor, n_fft: int, hop: int, win: int) -> torch.Tensor:
    """|STFT| (b, n_fft // 2 + 1, frames), Hann window of win samples, zero-padded centred frames;
    the magnitude is floored (sqrt of the power clamped at 1e-7) so its gradient stays finite at 0."""
    spec = torch.stft(_flat(x), n_fft, hop, win_length=win, window=torch.hann_window(win, device=x.device),
                      center=True, pad_mode="constant", return_complex=True)
    return (spec.real.pow(2) + spec.imag.pow(2)).clamp_min(1e-7).sqrt()


def log_mel(x: torch.Tensor, spec: MelSpec) -> torch.Tensor:
    """Natural log of the mel magnitude (b, n_mels, frames) with spec's filterbank, FFT size and hop: the
    unclipped measure (the picture's dB are clipped to a range, which would hide quiet errors)."""
    mag = magnitude(x, spec.n_fft, spec.hop, spec.n_fft)
    fb = torch.from_numpy(mel_filters(spec.sample_rate, spec.n_fft, spec.n_mels)).to(x.device)
    return torch.matmul(fb, mag).clamp_min(1e-5).log()


def mel_l1(fake: torch.Tensor, real: torch.Tensor, spec: MelSpec) -> torch.Tensor:
    """Mean |log-mel(fake) - log-mel(real)|."""
    return F.l1_loss(log_mel(fake, spec), log_mel(real, spec))


def multi_resolution_stft(fake: torch.Tensor, real: torch.Tensor, resolutions=RESOLUTIONS) -> torch.Tensor:
    """The mean over resolutions of spectral convergence (||R - F|| / ||R||, Frobenius norms over the
    whole batch, as Parallel WaveGAN computes it) plus the L1 of the log magnitudes. Over the batch, not
    per clip: a digitally silent clip or segment (||R|| at the magnitude floor) would otherwise divide
    its noise by ~0 and swamp the loss (x100 and more on speech with silent gaps)."""
    total = torch.zeros((), device=fake.device)
    for n_fft, hop, win in resolutions:
        f, r = magnitude(fake, n_fft, hop, win), magnitude(real, n_fft, hop, win)
        sc = torch.linalg.norm(r - f) / torch.linalg.norm(r).clamp_min(1e-7)
        total = total + sc + F.l1_loss(f.log(), r.log())
    return total / len(resolutions)
