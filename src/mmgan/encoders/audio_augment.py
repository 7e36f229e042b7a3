"""Speaker and channel augmentation of speech, in the log-mel domain, on a whole batch at once.

Training an audio encoder on a few voices teaches it those voices; these perturbations make the
voice, the room and the microphone vary while the words stay, so it learns the words. They act on
raw (unnormalized) log-mels cached once per clip (AudioEncoder.raw_features), cost a few
milliseconds per batch on a CPU, and follow the order a recording goes through:

  speed    speed perturbation (as `sox speed`, Kaldi's 0.9/1.0/1.1): tempo and pitch change together,
           frames are resampled in time by 1/r and frequencies scaled by r
  pitch    a pitch / vocal-tract-length shift (VTLP-like): the mel axis warped by 2^(s/12), s semitones
  reverb   a synthetic room: the power spectrogram convolved in time with the energy envelope of an
           exponentially decaying noise RIR (reverberation time rt60, direct-to-reverberant ratio drr)
  gain     the speech level changed by g dB against a fixed noise floor
  noise    coloured noise (random spectral tilt) at a signal-to-noise ratio in dB, added in power
  -------- then the encoder's per-utterance normalization (clip or cmvn) --------
  masks    SpecAugment: time and frequency bands set to the normalized mean (zero)

Shape legend: b batch, t frames, m mel bands. `batch` is {"mel": (b, t, m) natural-log mel power,
"mask": (b, t) True = real frame}; every function keeps shape and dtype (speed may change t).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Callable, Mapping

import torch
import torch.nn.functional as F

from .audio import mel_centres, mel_position

LN10_OVER_10 = math.log(10) / 10          # dB (power) -> natural-log units


@dataclass(frozen=True)
class AudioAugment:
    """What to perturb and how much (the defaults: the settings of the speech presets)."""
    speed: tuple[float, float] = (0.85, 1.15)     # speed factor range (1: unchanged)
    pitch: float = 2.0                            # max pitch / formant shift, semitones either way
    reverb_p: float = 0.3                         # share of clips put in a synthetic room
    rt60: tuple[float, float] = (0.1, 0.6)        # reverberation time range, seconds
    drr: tuple[float, float] = (0.0, 10.0)        # direct-to-reverberant energy ratio range, dB
    gain: float = 6.0                             # max level change, dB either way
    noise_p: float = 0.5                          # share of clips with added noise
    snr: tuple[float, float] = (5.0, 30.0)        # signal-to-noise ratio range, dB
    time_masks: int = 2                           # SpecAugment time masks per clip
    time_mask_frames: int = 8                     # their largest width, frames
    freq_masks: int = 2                           # SpecAugment frequency masks per clip
    freq_mask_bands: int = 6                      # their largest width, mel bands

    def __post_init__(self) -> None:
        for name in ("speed", "rt60", "drr", "snr"):
            lo, hi = getattr(self, name)
            if lo > hi:
                raise ValueError(f"audio augment {name}: range ({lo}, {hi}) has its low end above its high end")
        if self.speed[0] <= 0 or self.rt60[0] <= 0:
            raise ValueError(f"audio augment speed and rt60 must be > 0, got {self.speed} and {self.rt60}")
        for name in ("reverb_p", "noise_p"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"audio augment {name} must be a probability in [0, 1], got {getattr(self, name)}")
        for name in ("pitch", "gain", "time_masks", "time_mask_frames", "freq_masks", "freq_mask_bands"):
            if getattr(self, name) < 0:
                raise ValueError(f"audio augment {name} must be >= 0, got {getattr(self, name)}")

    @classmethod
    def from_dict(cls, d: Mapping | None, where: str = "audio augment") -> "AudioAugment":
        """Fields from a mapping (YAML), checked: unknown keys and wrong types fail naming the valid ones."""
        d = dict(d or {})
        valid = {f.name: f for f in fields(cls)}
        unknown = sorted(set(d) - set(valid))
        if unknown:
            raise ValueError(f"{where}: unknown key(s) {unknown}; valid: {', '.join(valid)}")
        out = {}
        for k, v in d.items():
            default = valid[k].default
            try:
                if isinstance(default, tuple):
                    if not isinstance(v, (list, tuple)) or len(v) != 2 or isinstance(v[0], bool) or isinstance(v[1], bool):
                        raise TypeError
                    out[k] = (float(v[0]), float(v[1]))
                elif isinstance(v, bool) or not isinstance(v, (int, float)):
                    raise TypeError
                elif isinstance(default, int):
                    if int(v) != v:
                        raise TypeError
                    out[k] = int(v)
                else:
                    out[k] = float(v)
            except (TypeError, ValueError):
                want = "a [low, high] pair of numbers" if isinstance(default, tuple) else \
                    "an integer" if isinstance(default, int) else "a number"
                raise ValueError(f"{where}: {k} must be {want}, got {v!r}") from None
        return cls(**out)

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    def __call__(self, batch: dict[str, torch.Tensor], normalize: Callable[[dict], dict], sample_rate: int,
                 hop_ms: float, g: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """Raw log-mels -> augmented, normalized (by `normalize`, the encoder's) and masked features."""
        mel, mask = batch["mel"], batch["mask"]
        b = mel.shape[0]
        rate = uniform(b, *self.speed, g)
        semis = uniform(b, -self.pitch, self.pitch, g)
        mel, mask = stretch_and_warp(mel, mask, 1 / rate, rate * 2 ** (semis / 12), sample_rate)
        hit = torch.rand(b, generator=g) < self.reverb_p
        if hit.any():
            mel = torch.where(hit[:, None, None], reverb(mel, mask, uniform(b, *self.rt60, g),
                                                         uniform(b, *self.drr, g), hop_ms / 1000), mel)
        mel = apply_gain(mel, uniform(b, -self.gain, self.gain, g))
        hit = torch.rand(b, generator=g) < self.noise_p
        if hit.any():
            mel = torch.where(hit[:, None, None], add_noise(mel, mask, uniform(b, *self.snr, g), g), mel)
        out = normalize({**batch, "mel": mel, "mask": mask})
        out["mel"] = spec_mask(out["mel"], out["mask"], self.time_masks, self.time_mask_frames, self.freq_masks,
                               self.freq_mask_bands, g)
        return out


def uniform(n: int, lo: float, hi: float, g: torch.Generator | None = None) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(n, generator=g)


def stretch_and_warp(mel: torch.Tensor, mask: torch.Tensor, stretch: torch.Tensor, warp: torch.Tensor,
                     sample_rate: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Each clip i resampled in time to stretch[i] x its length and its frequencies scaled by warp[i]
    (a band at f Hz takes the energy that was at f / warp); bilinear, edges repeated. (b,) factors."""
    b, t, m = mel.shape
    lengths = mask.sum(1)
    new_len = (lengths.float() * stretch).round().long().clamp_min(1)
    t_out = int(new_len.max())
    step = (lengths.float() - 1).clamp_min(0) / (new_len.float() - 1).clamp_min(1)     # source frames per output frame
    src_t = torch.arange(t_out, dtype=torch.float32)[None] * step[:, None]              # (b, t_out)
    centres = torch.from_numpy(mel_centres(sample_rate, m)).float()
    src_m = mel_position(centres[None] / warp[:, None].double(), sample_rate, m).float()   # (b, m)
    # grid_sample with align_corners=True: -1 and 1 are the first and last frame / band
    gy = src_t / max(t - 1, 1) * 2 - 1
    gx = src_m / max(m - 1, 1) * 2 - 1
    grid = torch.stack(torch.broadcast_tensors(gx[:, None, :], gy[:, :, None]), -1)    # (b, t_out, m, 2)
    out = F.grid_sample(mel[:, None].float(), grid, mode="bilinear", padding_mode="border", align_corners=True)[:, 0]
    new_mask = torch.arange(t_out)[None] < new_len[:, None]
    return (out * new_mask[..., None]).to(mel.dtype), new_mask


def rir_envelope(rt60: torch.Tensor, drr_db: torch.Tensor, hop_s: float, frames: int) -> torch.Tensor:
    """(b, frames) energy per frame of a synthetic room impulse response: the direct sound (frame 0, 1)
    and an exponentially decaying noise tail (60 dB over rt60) holding 10^(-drr/10) of it."""
    k = torch.arange(1, frames, dtype=torch.float32)[None]
    tail = torch.exp(-math.log(1e6) * k * hop_s / rt60[:, None])                # energy decays 60 dB in rt60
    tail = tail / tail.sum(1, keepdim=True) * torch.pow(10.0, -drr_db / 10)[:, None]
    return torch.cat([torch.ones(len(rt60), 1), tail], 1)


def reverb(mel: torch.Tensor, mask: torch.Tensor, rt60: torch.Tensor, drr_db: torch.Tensor,
           hop_s: float) -> torch.Tensor:
    """The power spectrogram of each clip convolved in time with its room's energy envelope (the
    expected power of speech convolved with a noise RIR); the tail past the clip's end is cut."""
    b, t, m = mel.shape
    frames = int(math.ceil(float(rt60.max()) / hop_s)) + 1
    h = rir_envelope(rt60, drr_db, hop_s, frames)                                # (b, k)
    power = torch.exp(mel.float()) * mask[..., None]                             # (b, t, m)
    n = t + frames
    wet = torch.fft.irfft(torch.fft.rfft(power, n, dim=1) * torch.fft.rfft(h, n, dim=1)[..., None], n, dim=1)[:, :t]
    floor = torch.exp(mel.float().amin(dim=(1, 2), keepdim=True))               # never below the clip's floor
    return torch.log(wet.clamp_min(0) + floor).to(mel.dtype) * mask[..., None]


def apply_gain(mel: torch.Tensor, gain_db: torch.Tensor) -> torch.Tensor:
    """Each clip's level changed by gain_db (b,) dB: a constant in the log-power domain."""
    return mel + (gain_db * LN10_OVER_10).to(mel.dtype)[:, None, None]


def add_noise(mel: torch.Tensor, mask: torch.Tensor, snr_db: torch.Tensor, g: torch.Generator | None = None,
              tilt_db: float = 12.0) -> torch.Tensor:
    """Noise added in power at snr_db (b,) below each clip's mean power (before any gain: a fixed floor),
    with a random spectral tilt (up to tilt_db from the lowest to the highest band) and frame-to-frame
    fluctuation (a mel band sums many FFT bins of white noise: its power varies by about +-20%)."""
    b, t, m = mel.shape
    w = mask[..., None].float()
    power = torch.exp(mel.float())
    mean = (power * w).sum((1, 2)) / (w.sum((1, 2)) * m).clamp_min(1)            # (b,)
    level = mean * torch.pow(10.0, -snr_db / 10)
    tilt = uniform(b, -tilt_db, tilt_db, g)[:, None] * torch.linspace(-0.5, 0.5, m)[None]   # (b, m) dB
    shape = torch.pow(10.0, tilt / 10)
    wobble = (1 + 0.2 * torch.randn(b, t, m, generator=g)).clamp_min(0.05)
    noisy = power + level[:, None, None] * shape[:, None, :] * wobble
    return torch.log(noisy).to(mel.dtype) * mask[..., None]


def spec_mask(mel: torch.Tensor, mask: torch.Tensor, time_masks: int, time_width: int, freq_masks: int,
              freq_width: int, g: torch.Generator | None = None) -> torch.Tensor:
    """SpecAugment on normalized features: per clip, time_masks bands of 0..time_width frames (inside its
    real frames) and freq_masks bands of 0..freq_width mel bands set to zero (the normalized mean)."""
    b, t, m = mel.shape
    lengths = mask.sum(1)
    drop = torch.zeros(b, t, m, dtype=torch.bool)
    for _ in range(time_masks):
        width = torch.randint(0, time_width + 1, (b,), generator=g)
        start = (torch.rand(b, generator=g) * (lengths - width).clamp_min(0)).long()
        pos = torch.arange(t)[None]
        drop |= ((pos >= start[:, None]) & (pos < (start + width)[:, None]))[..., None]
    for _ in range(freq_masks):
        width = torch.randint(0, freq_width + 1, (b,), generator=g)
        start = (torch.rand(b, generator=g) * (m - width).clamp_min(0)).long()
        pos = torch.arange(m)[None]
        drop |= ((pos >= start[:, None]) & (pos < (start + width)[:, None]))[:, None, :]
    return mel.masked_fill(drop, 0.0)
