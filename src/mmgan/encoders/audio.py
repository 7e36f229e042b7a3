"""Audio encoders: a log-mel spectrogram (librosa's mel filterbank, torch STFT) in prepare(), then a
trainable network.

audio-cnn          1-D convolutions over time (mel bins as channels), three stride-2 stages:
                   tokens (b, T/8, d); pooled = linear(mean ++ max over real frames).
audio-transformer  a stride-4 convolutional stem, then transformer layers with a padding mask.

Items are file paths (WAV, FLAC, OGG: whatever libsndfile reads), generated clips (.waveform at
.sample_rate, resampled) or 1-D float arrays at `sample_rate`. A missing, unreadable, empty or silent-NaN clip raises AudioError naming the item.
Feature normalization per utterance (`norm`): "clip" (zero mean, unit variance over the whole log-mel:
loudness is irrelevant) or "cmvn" (each mel bin to zero mean and unit variance over the clip's frames:
also removes a fixed spectral colouring -- microphone, room, a voice's timbre). Padding never changes a
clip's features (norms are per frame, pooling ignores padded frames). `dropout` (0: off) regularizes an
encoder trained on a few thousand clips.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn as nn

from ..data.errors import AudioError
from ..registry import register
from .base import Encoder, EncoderOutput, masked_max, masked_mean, pad_to
from ..data.audio import load_audio
from ..modalities.sound import (EPS, NORMS, resample, mel_centres, mel_filters, mel_position, mel_power,  # noqa: F401  (re-exported)
                                normalize_mel, stft_sizes)

def read_waveform(item: Any, sample_rate: int, max_seconds: float) -> np.ndarray:
    """A path, a clip with .waveform and .sample_rate (a generated Sound) or a 1-D array at sample_rate to
    float32 mono samples at sample_rate, checked."""
    if isinstance(item, (str, Path)):
        x = load_audio(item, sample_rate, max_seconds=max_seconds)
        where = str(item)
    elif hasattr(item, "waveform") and hasattr(item, "sample_rate"):   # a generated clip (its samples and rate)
        x = resample(np.asarray(item.waveform, np.float32).reshape(-1), int(item.sample_rate), sample_rate)
        x = x[: int(max_seconds * sample_rate)]
        where = f"clip of {len(x)} samples"
    else:
        x = np.asarray(item, dtype=np.float32)
        where = f"array of shape {x.shape}"
        if x.ndim == 2:                                   # (T, channels) -> mono
            x = x.mean(axis=1)
        if x.ndim != 1:
            raise AudioError(f"audio {where}: expected a 1-D waveform (or a file path)")
        x = x[: int(max_seconds * sample_rate)]
    if x.size == 0:
        raise AudioError(f"audio {where} is empty")
    if not np.isfinite(x).all():
        raise AudioError(f"audio {where} holds NaN or infinite samples")
    return x


def log_mel(x: np.ndarray, sample_rate: int = 16000, n_mels: int = 48, hop_ms: float = 20.0,
            win_ms: float = 32.0, norm: str = "clip") -> np.ndarray:
    """(frames, n_mels) float32 log-mel spectrogram (librosa's filterbank on a Hann STFT), normalized per clip
    as `norm` says ("none": the natural log of the mel power, floored at 1e-6)."""
    if norm not in NORMS:
        raise ValueError(f"log-mel norm must be one of {', '.join(NORMS)}, got {norm!r}")
    n_fft, hop = stft_sizes(sample_rate, hop_ms, win_ms)
    if len(x) < n_fft:
        x = np.pad(x, (0, n_fft - len(x)))
    wave = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    mel = torch.log(mel_power(wave, sample_rate, n_fft, hop, n_mels) + 1e-6).T                      # (frames, n_mels)
    if norm == "clip":
        mel = (mel - mel.mean()) / (mel.std() + EPS)
    elif norm == "cmvn":
        mel = normalize_mel(mel[None], torch.ones(1, mel.shape[0], dtype=torch.bool), "cmvn")[0]
    return mel.numpy().astype(np.float32)


class ChannelNorm(nn.Module):
    """LayerNorm over channels of (b, c, t), per frame (so padding never leaks into real frames)."""

    def __init__(self, c: int):
        super().__init__()
        self.ln = nn.LayerNorm(c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.ln(x.transpose(1, 2)).transpose(1, 2).contiguous()   # strided GELU and conv are slow


class AudioEncoder(Encoder):
    """Shared prepare(): waveforms -> {"mel": (b, T, n_mels), "mask": (b, T)}."""

    modality = "audio"

    def _audio_config(self, sample_rate: int, n_mels: int, hop_ms: float, max_seconds: float,
                      norm: str = "clip", dropout: float = 0.0) -> None:
        if norm not in NORMS[:2]:
            raise ValueError(f"audio encoder norm must be clip or cmvn, got {norm!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"audio encoder dropout must be in [0, 1), got {dropout!r}")
        self.sample_rate, self.n_mels, self.hop_ms, self.max_seconds = sample_rate, n_mels, hop_ms, max_seconds
        self.mel_norm = norm                              # not `norm`: the transformer has a LayerNorm so named

    @property
    def prepare_config(self) -> dict:
        cfg = {"log_mel": 1, "sample_rate": self.sample_rate, "n_mels": self.n_mels, "hop_ms": self.hop_ms,
               "max_seconds": self.max_seconds}
        return cfg if self.mel_norm == "clip" else {**cfg, "norm": self.mel_norm}   # old cache keys stay valid

    def prepare(self, items: Sequence[Any]) -> dict[str, torch.Tensor]:
        return self._prepare(items, self.mel_norm)

    def normalize(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Raw log-mels (raw_features().prepare) normalized as prepare() does: the training path that
        augments raw features first."""
        return {**batch, "mel": normalize_mel(batch["mel"], batch["mask"], self.mel_norm)}

    def raw_features(self) -> "RawLogMel":
        """A prepare()-alike that leaves the log-mels unnormalized (for augmentation in the feature domain)."""
        return RawLogMel(self)

    def _prepare(self, items: Sequence[Any], norm: str) -> dict[str, torch.Tensor]:
        if isinstance(items, (str, Path)) or (isinstance(items, np.ndarray) and items.ndim == 1):
            items = [items]
        if len(items) == 0:
            raise AudioError("no audio given")
        mels = [torch.from_numpy(log_mel(read_waveform(it, self.sample_rate, self.max_seconds), self.sample_rate,
                                         self.n_mels, self.hop_ms, norm=norm)) for it in items]
        n = max(m.shape[0] for m in mels)
        mel = torch.stack([pad_to(m[None], n)[0] for m in mels])                  # (b, T, n_mels)
        lengths = torch.tensor([m.shape[0] for m in mels])
        return {"mel": mel, "mask": torch.arange(n)[None] < lengths[:, None]}


class RawLogMel:
    """An audio encoder's prepare() without the normalization (what conditioning.features caches)."""

    def __init__(self, encoder: AudioEncoder):
        self.encoder, self.modality = encoder, encoder.modality

    @property
    def prepare_config(self) -> dict:
        return {**self.encoder.prepare_config, "norm": "none"}

    def prepare(self, items: Sequence[Any]) -> dict[str, torch.Tensor]:
        return self.encoder._prepare(items, "none")


def _downsample_mask(mask: torch.Tensor, times: int) -> torch.Tensor:
    """Mask after `times` stride-2 convolutions with padding k//2 (length -> ceil(length / 2))."""
    lengths = mask.sum(1)
    n = mask.shape[1]
    for _ in range(times):
        lengths, n = (lengths + 1) // 2, (n + 1) // 2
    return torch.arange(n, device=mask.device)[None] < lengths[:, None]


@register("encoder", "audio-cnn")
class AudioCNN(AudioEncoder):
    def __init__(self, dim: int = 256, width: int = 128, sample_rate: int = 16000, n_mels: int = 48,
                 hop_ms: float = 20.0, max_seconds: float = 6.0, norm: str = "clip", dropout: float = 0.0):
        super().__init__(dim=dim, width=width, sample_rate=sample_rate, n_mels=n_mels, hop_ms=hop_ms,
                         max_seconds=max_seconds, norm=norm, dropout=dropout)
        self._audio_config(sample_rate, n_mels, hop_ms, max_seconds, norm, dropout)
        self.dim = dim
        chans = [width, width, width * 3 // 2, width * 2]
        # dropout after each stage only when asked: an nn.Dropout(0) would draw random numbers in training
        drop = [nn.Dropout(dropout)] if dropout > 0 else []
        self.stages = nn.ModuleList([nn.Sequential(nn.Conv1d(n_mels, chans[0], 3, padding=1), ChannelNorm(chans[0]),
                                                   nn.GELU(), *drop)])
        for a, b in zip(chans[:-1], chans[1:]):
            self.stages.append(nn.Sequential(nn.Conv1d(a, b, 5, stride=2, padding=2), ChannelNorm(b), nn.GELU(),
                                             *drop))
        self.to_tokens = nn.Linear(chans[-1], dim)
        self.pool = nn.Linear(2 * chans[-1], dim)

    def forward(self, batch: dict[str, torch.Tensor]) -> EncoderOutput:
        h, m = batch["mel"].transpose(1, 2), batch["mask"]                     # (b, n_mels, T), (b, T)
        for i, stage in enumerate(self.stages):
            h = stage(h)
            m = _downsample_mask(m, 1)[:, : h.shape[2]] if i else m
            h = h * m[:, None].to(h.dtype)                                       # padded frames stay zero
        h = h.transpose(1, 2)                                                   # (b, T/8, c)
        pooled = self.pool(torch.cat([masked_mean(h, m), masked_max(h, m)], -1))
        return EncoderOutput(self.to_tokens(h), pooled, m)


def sinusoid(n: int, d: int, device=None) -> torch.Tensor:
    pos = torch.arange(n, device=device, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, d, 2, device=device, dtype=torch.float32) * (-math.log(10000.0) / d))
    pe = torch.zeros(n, d, device=device)
    pe[:, 0::2], pe[:, 1::2] = torch.sin(pos * freq), torch.cos(pos * freq)
    return pe


@register("encoder", "audio-transformer")
class AudioTransformer(AudioEncoder):
    def __init__(self, dim: int = 256, width: int = 128, layers: int = 2, heads: int = 4, sample_rate: int = 16000,
                 n_mels: int = 48, hop_ms: float = 20.0, max_seconds: float = 6.0, norm: str = "clip",
                 dropout: float = 0.0):
        super().__init__(dim=dim, width=width, layers=layers, heads=heads, sample_rate=sample_rate, n_mels=n_mels,
                         hop_ms=hop_ms, max_seconds=max_seconds, norm=norm, dropout=dropout)
        self._audio_config(sample_rate, n_mels, hop_ms, max_seconds, norm, dropout)
        self.dim, self.width = dim, width
        self.stem = nn.ModuleList([nn.Sequential(nn.Conv1d(n_mels, width, 5, stride=2, padding=2), nn.GELU()),
                                   nn.Sequential(nn.Conv1d(width, width, 5, stride=2, padding=2), nn.GELU())])
        layer = nn.TransformerEncoderLayer(width, heads, width * 2, dropout=dropout, batch_first=True, norm_first=True)
        self.body = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(width)
        self.to_tokens = nn.Linear(width, dim)
        self.pool = nn.Linear(2 * width, dim)

    def forward(self, batch: dict[str, torch.Tensor]) -> EncoderOutput:
        h, m = batch["mel"].transpose(1, 2), batch["mask"]
        for stage in self.stem:
            h = stage(h)
            m = _downsample_mask(m, 1)[:, : h.shape[2]]
            h = h * m[:, None].to(h.dtype)                                       # padded frames stay zero
        h = h.transpose(1, 2)                                                   # (b, T/4, c)
        h = h + sinusoid(h.shape[1], self.width, h.device)
        h = self.norm(self.body(h, src_key_padding_mask=~m))
        pooled = self.pool(torch.cat([masked_mean(h, m), masked_max(h, m)], -1))
        return EncoderOutput(self.to_tokens(h), pooled, m)
