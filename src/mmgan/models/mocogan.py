"""MoCoGAN with sound: video frames generated in step with an audio track (Tulyakov et al. 2018's motion and
content split, driven per frame by the sound; three discriminators as the issue and Wav2Lip's sync expert ask).

Shape legend: b clips, t frames (model.extra.video.frames), c channels, h = w side, s audio samples, d features.

  audio (b, s)  -> AudioFrames: log-mels (4 mel frames per video frame, normalised per clip) -> 1-D convs ->
                   one feature per video frame a (b, d, t)
  content       -> z[:, :content_dim] and the clip's pooled audio feature (what is heard all along: which
                   digit is spoken), one vector per clip
  motion        -> a bidirectional GRU over [a_t, e_t] (e_t: per-frame noise made from z's motion part, so one z
                   gives one video), starting from z: h (b, t, d). Bidirectional: a bounce heard at frame k must
                   be prepared by the frames before it
  frames        -> DCGAN's generator on [content, h_t] for every frame (conditional batch norm on the label when
                   model.condition has one) -> (b, t, c, h, w) in [-1, 1]

D (VideoDiscriminator) holds three:
  frame  DCGAN's D on `frame_samples` random frames of each clip: is a frame realistic (projection on the label)
  clip   3-D convolutions over the whole clip: is the motion realistic
  sync   a window of `sync_window` frames against the audio of a window: do they belong together. Real aligned
         windows are positives; the audio shifted by at least `sync_min_shift` frames, and G's windows with their
         own sound, negatives (matching-aware, as GAN-CLS); G is asked to make its frames and the sound it was
         given look aligned and real to it.
The phases ("video", mmgan.losses.video) own the step; this file only builds the networks.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..config import ModelConfig
from ..modalities.sound import FRAME_MELS, MEL_PER_FRAME, frame_log_mels
from ..model_options import Options, option
from ..registry import register
from .base import ConfigModule
from .dcgan import DCGANDiscriminator, DCGANGenerator, d_norm
from .layers import Projection, judge, maybe_sn



@dataclass(frozen=True)
class MoCoGANOptions(Options):
    phases: ClassVar[str] = "video"
    reads: ClassVar[tuple[str, ...]] = ("audio",)      # the sound, raw (mmgan.conditioning.source)
    content_dim: int = option(32, "z's first numbers: the clip's content (what stays the same in every frame)")
    motion_dim: int = option(64, "hidden size of the motion GRU (each direction)")
    audio_width: int = option(64, "channels of the audio features (one per video frame)")
    frame_samples: int = option(4, "frames of each clip the frame discriminator judges per step")
    sync_window: int = option(4, "frames (and the audio under them) the sync discriminator compares")
    sync_min_shift: int = option(2, "the sync discriminator's negatives: the audio shifted by at least this many frames")
    frame_weight: float = option(1.0, "weight of the frame discriminator's terms")
    clip_weight: float = option(1.0, "weight of the clip discriminator's terms")
    sync_weight: float = option(1.0, "weight of the sync terms (D: aligned vs shifted real pairs; G: its clips aligned)")
    motion_warmup: int = option(1000, "G steps over which the clip and sync terms of G's loss rise from 0 to their "
                                      "weights (the discriminators learn them from the start): frames first, then motion")


def video_spec(cfg: ModelConfig) -> tuple[int, float, int, int]:
    """(frames, fps, sample rate, samples) a model of this config reads and makes: the video codec writes
    model.extra.video, the source conditioner model.extra.source."""
    video, source = cfg.extra.get("video") or {}, cfg.extra.get("source") or {}
    if not video or source.get("modality") != "audio":
        raise ValueError("mocogan makes video from sound: train it on data with video and audio columns "
                         "(data.target=video, model.condition=[audio]); model.extra.video and .source are unset")
    return int(video["frames"]), float(video["fps"]), int(source["sample_rate"]), int(source["samples"])


class AudioFrames(nn.Module):
    """(b, s) waveforms -> (b, d, t) features, one per video frame: log-mels with MEL_PER_FRAME mel frames per
    video frame, normalised per clip (level does not matter), then 1-D convs, the last with stride
    MEL_PER_FRAME (a frame's feature sees its own mel frames and, through the first conv, their neighbours)."""

    def __init__(self, frames: int, fps: float, sample_rate: int, width: int, sn: bool = False):
        super().__init__()
        self.frames, self.fps, self.sample_rate = frames, fps, sample_rate
        self.net = nn.Sequential(
            maybe_sn(nn.Conv1d(FRAME_MELS, width, 3, padding=1), sn), nn.LeakyReLU(0.2),
            maybe_sn(nn.Conv1d(width, width, MEL_PER_FRAME, stride=MEL_PER_FRAME), sn), nn.LeakyReLU(0.2),
            maybe_sn(nn.Conv1d(width, width, 3, padding=1), sn))

    def mels(self, wave: torch.Tensor) -> torch.Tensor:
        """(b, s) -> (b, FRAME_MELS, t * MEL_PER_FRAME): the sound under the frames (modalities.sound.frame_log_mels)."""
        return frame_log_mels(wave, self.frames, self.fps, self.sample_rate)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        w = self.net[0].weight
        return self.net(self.mels(wave).to(w.dtype))


class MoCoGANGenerator(ConfigModule):
    """G(z, c, source=(b, s) waveforms) -> (b, t, c, h, w) in [-1, 1]."""

    phases = "video"

    def __init__(self, z_dim: int, channels: int, resolution: int, frames: int, fps: float, sample_rate: int,
                 width: int = 64, cond_dim: int = 0, content_dim: int = 32, motion_dim: int = 64,
                 audio_width: int = 64):
        super().__init__(z_dim=z_dim, channels=channels, resolution=resolution, frames=frames, fps=fps,
                         sample_rate=sample_rate, width=width, cond_dim=cond_dim, content_dim=content_dim,
                         motion_dim=motion_dim, audio_width=audio_width)
        if not 0 < content_dim < z_dim:
            raise ValueError(f"mocogan: model.extra.content_dim={content_dim} must be between 0 and model.z_dim={z_dim} "
                             f"(z's rest draws the motion)")
        self.frames, self.content_dim = frames, content_dim
        self.audio = AudioFrames(frames, fps, sample_rate, audio_width)
        m = z_dim - content_dim
        self.noise = nn.Linear(m, frames * 16)                # per-frame motion noise e_t from z's motion part
        self.h0 = nn.Linear(m, 2 * motion_dim)
        self.gru = nn.GRU(audio_width + 16, motion_dim, batch_first=True, bidirectional=True)
        self.frame = DCGANGenerator(content_dim + audio_width + 2 * motion_dim, channels, resolution, width,
                                    cond_dim, "cbn")

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None, source: torch.Tensor | None = None,
                **_) -> torch.Tensor:
        if source is None:
            raise ValueError("mocogan makes frames from sound: G(z, c, source=(b, samples) waveforms)")
        b, t = z.shape[0], self.frames
        a = self.audio(source).transpose(1, 2)                                    # (b, t, d)
        zc, zm = z[:, :self.content_dim], z[:, self.content_dim:]
        e = self.noise(zm).view(b, t, 16)
        h0 = torch.tanh(self.h0(zm)).view(b, 2, -1).transpose(0, 1).contiguous()  # (2, b, motion_dim)
        h, _ = self.gru(torch.cat([a, e.to(a.dtype)], -1), h0.to(a.dtype))        # (b, t, 2 * motion_dim)
        content = torch.cat([zc.to(a.dtype), a.mean(1)], -1)                      # (b, content_dim + d)
        per_frame = torch.cat([content[:, None].expand(-1, t, -1), h], -1).flatten(0, 1)
        cf = None if c is None else c.repeat_interleave(t, 0)
        x = self.frame(per_frame, cf)                                             # (b * t, c, h, w)
        return x.view(b, t, *x.shape[1:])


class ClipDiscriminator(nn.Module):
    """(b, c, t, h, w) -> features (b, f): 3-D convs, stride 2 in space every layer and in time from the
    second, down to a 4x4 picture (MoCoGAN's video discriminator)."""

    def __init__(self, channels: int, resolution: int, frames: int, width: int, sn: bool):
        super().__init__()
        layers: list[nn.Module] = []
        c, side, t, i = channels, resolution, frames, 0
        while side > 4:
            st = 2 if i > 0 and t > 2 else 1
            out = width * 2 ** min(i, 3)
            layers += [maybe_sn(nn.Conv3d(c, out, (3, 4, 4), (st, 2, 2), (1, 1, 1)), sn), nn.LeakyReLU(0.2)]
            c, side, t, i = out, side // 2, (t + st - 1) // st if st > 1 else t, i + 1
        self.body = nn.Sequential(*layers)
        self.features_dim = c * side * side * t

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x).flatten(1)


class SyncDiscriminator(nn.Module):
    """sync(frames (b, k, c, h, w), audio features (b, d, k)) -> (b,) logits: the frame window (its frames as
    channels) and the audio window are embedded, and the logit is their scaled cosine (SyncNet's distance)."""

    def __init__(self, channels: int, resolution: int, window: int, frames: int, fps: float, sample_rate: int,
                 width: int, audio_width: int, sn: bool, dim: int = 128):
        super().__init__()
        self.window = window
        self.audio = AudioFrames(frames, fps, sample_rate, audio_width, sn)
        self.video = DCGANDiscriminator(channels * window, resolution, width, 0, "none", 0, False, sn, False, 1,
                                        "none").body
        with torch.no_grad():
            f = self.video(torch.zeros(1, channels * window, resolution, resolution)).flatten(1).shape[1]
        self.video_head = nn.Linear(f, dim)
        self.audio_head = nn.Sequential(nn.Flatten(), nn.Linear(audio_width * window, dim))
        self.scale = nn.Parameter(torch.tensor(5.0))
        self.bias = nn.Parameter(torch.tensor(0.0))

    def embed_video(self, frames: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.video_head(self.video(frames.flatten(1, 2)).flatten(1)).float(), dim=1)

    def embed_audio(self, feats: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.audio_head(feats).float(), dim=1)

    def forward(self, frames: torch.Tensor, feats: torch.Tensor) -> torch.Tensor:
        return self.scale * (self.embed_video(frames) * self.embed_audio(feats)).sum(1) + self.bias


class VideoDiscriminator(ConfigModule):
    """The three discriminators: frame(x (n, c, h, w), c) -> logits (n,); clip(x (b, t, c, h, w), c) -> (b,);
    sync: a SyncDiscriminator (its own audio features: audio_features(wave) -> (b, d, t))."""

    def __init__(self, channels: int, resolution: int, frames: int, fps: float, sample_rate: int, width: int = 64,
                 cond_dim: int = 0, spectral_norm: bool = False, sync_window: int = 4, audio_width: int = 64,
                 norm: str = "none"):
        super().__init__(channels=channels, resolution=resolution, frames=frames, fps=fps, sample_rate=sample_rate,
                         width=width, cond_dim=cond_dim, spectral_norm=spectral_norm, sync_window=sync_window,
                         audio_width=audio_width, norm=norm)
        if not 1 <= sync_window <= frames:
            raise ValueError(f"mocogan: model.extra.sync_window={sync_window} must be 1 to the clip's {frames} frames")
        self.frame_d = DCGANDiscriminator(channels, resolution, width, cond_dim, "projection" if cond_dim else "none",
                                          0, False, spectral_norm, False, 1, norm)
        self.clip_d = ClipDiscriminator(channels, resolution, frames, width, spectral_norm)
        self.clip_head = maybe_sn(nn.Linear(self.clip_d.features_dim, 1), spectral_norm)
        self.clip_proj = Projection(cond_dim, self.clip_d.features_dim, spectral_norm) if cond_dim else None
        self.sync = SyncDiscriminator(channels, resolution, sync_window, frames, fps, sample_rate, width, audio_width,
                                      spectral_norm)

    def frame(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        return self.frame_d(x, c)[0]

    def clip(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        return judge(self.clip_d(x.transpose(1, 2)), c, self.clip_head, self.clip_proj, None)[0]

    def audio_features(self, wave: torch.Tensor) -> torch.Tensor:
        return self.sync.audio(wave)

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None):
        """Realism of whole clips (b, t, c, h, w): the clip logit plus the mean frame logit (what a critic or
        a rejection sampler would read; the phases call the parts)."""
        b, t = x.shape[:2]
        cf = None if c is None else c.repeat_interleave(t, 0)
        return self.clip(x, c) + self.frame(x.flatten(0, 1), cf).view(b, t).mean(1), None


def loss_options(cfg: ModelConfig) -> dict:
    o = MoCoGANOptions.read(cfg.extra)
    return {"frame_samples": o.frame_samples, "sync_window": o.sync_window, "sync_min_shift": o.sync_min_shift,
            "frame_weight": o.frame_weight, "clip_weight": o.clip_weight, "sync_weight": o.sync_weight,
            "motion_warmup": o.motion_warmup}


@register("model", "mocogan", options=MoCoGANOptions)
def build_mocogan(cfg: ModelConfig, with_discriminator: bool = True):
    frames, fps, rate, _ = video_spec(cfg)
    if cfg.acgan or cfg.mbstd or cfg.pack > 1:
        raise ValueError("mocogan's discriminators take no model.acgan, mbstd or pack")
    if any(m not in ("audio", "label") for m in cfg.condition or []):
        raise ValueError(f"mocogan reads the sound (and an optional label); got model.condition={cfg.condition}")
    o = MoCoGANOptions.read(cfg.extra)
    g = MoCoGANGenerator(cfg.z_dim, cfg.channels, cfg.resolution, frames, fps, rate, cfg.g_width, cfg.cond_dim,
                         o.content_dim, o.motion_dim, o.audio_width)
    g.loss_options = loss_options(cfg)
    if not with_discriminator:
        return g, None
    cond = cfg.cond_dim if cfg.d_cond == "projection" else 0
    d = VideoDiscriminator(cfg.channels, cfg.resolution, frames, fps, rate, cfg.d_width, cond, cfg.spectral_norm,
                           o.sync_window, o.audio_width, d_norm(cfg))
    return g, d
