"""TTS-GAN: text -> speech as a log-mel picture, with a generator that reads the caption's tokens along time.

A DCGAN-on-spectrograms generator (specgan) turns one pooled sentence vector into a whole clip and must
invent where each word goes; after 20 CPU minutes its clips sounded like speech and said almost nothing of
the caption (docs/benchmarks.md, "Text -> speech: spoken shapes captions"). This generator aligns words to
frames explicitly, as non-autoregressive TTS does (FastSpeech's length regulator; the Gaussian upsampling
of EATS, Donahue et al. 2021):

  tokens (b, n, d)  -> token encoder (1-D convs over the words, FiLM from [z, c]), framed by a learned
                       start and end token
  durations         -> a duration per token (frames, softplus); token i's centre e_i = onset + cumsum(d)_i
                       - d_i / 2; frame t takes the tokens' features weighted by softmax_i(-(t - e_i)^2 /
                       (2 s_i^2)), s_i = max(d_i / 2, 1); frames before the onset or after the end take a
                       learned silence vector (soft edges)
  decoder           -> residual dilated 1-D convs along time, FiLM from [z, c] in every block -> n_mels bands

Timing. Spoken data varies in speaking rate and in the silence before the words, which no text predicts:
while training, the phases ("aligned", mmgan.losses.aligned) give G each real clip's timing (onset and
length of its speech, `speech_timing`), G stretches its predicted durations to that length, and learns the
durations' total through a log-length loss (G.aux_loss). At generation time z draws the timing: the
onset from the running mean and spread of the real onsets, the rate from the running spread of real
lengths around the predicted ones (buffers, saved with the weights), so two seeds speak the same
words at two paces. The remaining z (and the condition) modulate the decoder (voice, pitch).

D (model.extra.discriminator): "time", 1-D convs along frames with the mel bands as channels (MelDiscriminator;
cheap, and split into features/judge so the matching phases run it once for real and fake clips), or
"picture", DCGAN's 2-D D; either projects the condition, so the matching-aware phases judge realism and whether
the clip says its caption. Options (model.extra): width (channels of tokens and frames), blocks (decoder
blocks), length_weight, discriminator. Preset: configs/ttsgan-spoken-shapes.yaml (the caption's characters
as tokens: text_encoder chars; D under spectral norm).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn as nn
import torch.nn.functional as F

from .. import distributed
from ..config import ModelConfig
from ..model_options import option
from ..registry import register
from .base import ConfigModule
from .dcgan import DCGANDiscriminator, d_norm
from .layers import Projection, judge, maybe_sn
from .specgan import MelOptions

TIMING_Z = 2          # z's first two numbers draw the timing at generation time (onset, rate)
EDGE = 1.0            # softness (frames) of the speech region's edges


@dataclass(frozen=True)
class TTSGANOptions(MelOptions):
    phases: ClassVar[str] = "aligned"     # its step logic (real timing in, length loss out)
    width: int = option(192, "channels of the token encoder and of the decoder's frames")
    blocks: int = option(8, "residual dilated conv blocks of the decoder (dilations 1, 2, 4, 8 repeated)")
    length_weight: float = option(1.0, "weight of the log-length loss on the predicted durations' total")
    discriminator: str = option("time", "time: 1-D convs along frames with the mel bands as channels (speech GANs' "
                                        "reading of a spectrogram; cheap); picture: DCGAN's 2-D D on the picture",
                                choices=("time", "picture"))


def speech_timing(mel: torch.Tensor, share: float = 0.3) -> torch.Tensor:
    """(b, 1, n_mels, frames) log-mel pictures -> (b, 2) (onset, length) in frames of the speech in each:
    the frames whose loudest band rises `share` of the way from the clip's quietest frame to its loudest."""
    loud = mel.float().amax(dim=(1, 2))                                # (b, frames)
    lo, hi = loud.amin(1, keepdim=True), loud.amax(1, keepdim=True)
    voiced = loud > lo + share * (hi - lo)
    t = torch.arange(loud.shape[1], device=mel.device, dtype=torch.float32)
    big = float(loud.shape[1])
    first = torch.where(voiced, t, big).amin(1)
    last = torch.where(voiced, t, -1.0).amax(1)
    none = last < first                                                 # a flat clip: all of it
    first, last = torch.where(none, 0.0, first), torch.where(none, big - 1, last)
    return torch.stack([first, last - first + 1], dim=1)


class FiLM1d(nn.Module):
    """GroupNorm(1) then a scale and shift from the style vector (identity at init)."""

    def __init__(self, ch: int, style_dim: int):
        super().__init__()
        self.norm = nn.GroupNorm(1, ch, affine=False)
        self.fc = nn.Linear(style_dim, 2 * ch)
        nn.init.zeros_(self.fc.weight)
        nn.init.zeros_(self.fc.bias)

    def forward(self, x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.fc(s).chunk(2, dim=1)
        return self.norm(x) * (1 + gamma[..., None]) + beta[..., None]


class ResBlock1d(nn.Module):
    def __init__(self, ch: int, style_dim: int, dilation: int = 1, kernel: int = 5):
        super().__init__()
        self.film1, self.film2 = FiLM1d(ch, style_dim), FiLM1d(ch, style_dim)
        self.conv1 = nn.Conv1d(ch, ch, kernel, padding=dilation * (kernel // 2), dilation=dilation)
        self.conv2 = nn.Conv1d(ch, ch, kernel, padding=kernel // 2)

    def forward(self, x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.leaky_relu(self.film1(x, s), 0.2))
        return x + self.conv2(F.leaky_relu(self.film2(h, s), 0.2))


class TTSGenerator(ConfigModule):
    """G(z, c, tokens=(b, n, d), token_mask=(b, n), timing=None | (b, 2)) -> (b, 1, n_mels, frames) in [-1, 1]."""

    def __init__(self, z_dim: int, n_mels: int, frames: int, cond_dim: int, token_dim: int, width: int = 192,
                 blocks: int = 8, length_weight: float = 1.0):
        super().__init__(z_dim=z_dim, n_mels=n_mels, frames=frames, cond_dim=cond_dim, token_dim=token_dim,
                         width=width, blocks=blocks, length_weight=length_weight)
        if z_dim <= TIMING_Z:
            raise ValueError(f"ttsgan: model.z_dim must exceed {TIMING_Z} (z's first {TIMING_Z} numbers draw the timing)")
        if not cond_dim or not token_dim:
            raise ValueError("ttsgan reads a caption's tokens: set model.condition=[text] and model.fusion=cross_attention")
        self.n_mels, self.frames, self.length_weight = n_mels, frames, length_weight
        style = z_dim + cond_dim
        self.tok_in = nn.Linear(token_dim, width)
        self.edge_tokens = nn.Parameter(torch.randn(2, width) * 0.02)       # start, end
        self.silence = nn.Parameter(torch.zeros(width))
        self.enc = nn.ModuleList([ResBlock1d(width, style, 1, 3) for _ in range(2)])
        self.dur = nn.Conv1d(width, 1, 3, padding=1)
        nn.init.zeros_(self.dur.weight)
        nn.init.constant_(self.dur.bias, 1.5)                             # softplus(1.5) ~ 1.7 frames a token
        self.dec = nn.ModuleList([ResBlock1d(width, style, 2 ** (i % 4)) for i in range(blocks)])
        self.out = nn.Conv1d(width, n_mels, 1)
        # running timing of the real clips (frames): onset mean and spread, spread of log(length / predicted)
        self.register_buffer("onset_stats", torch.tensor([0.1 * frames, 0.05 * frames]))
        self.register_buffer("rate_std", torch.tensor(0.1))
        self.aux_loss: torch.Tensor | None = None           # the log-length loss of the last forward with timing

    @staticmethod
    def timing_of(mel: torch.Tensor) -> torch.Tensor:
        """Real clips' pictures -> their (onset, length) in frames, what forward(timing=...) takes."""
        return speech_timing(mel)

    def encode_tokens(self, tokens: torch.Tensor, mask: torch.Tensor | None, s: torch.Tensor):
        """(b, n, d) tokens -> ((b, w, n+2) features framed by start/end tokens, (b, n+2) mask)."""
        b = tokens.shape[0]
        mask = torch.ones(tokens.shape[:2], dtype=torch.bool, device=tokens.device) if mask is None else mask.bool()
        h = self.tok_in(tokens.to(self.tok_in.weight.dtype)) * mask[..., None]
        lengths = mask.sum(1)
        feats = torch.zeros(b, h.shape[1] + 2, h.shape[2], dtype=h.dtype, device=h.device)
        feats[:, 0] = self.edge_tokens[0].to(h.dtype)
        feats[:, 1:-1] = h
        feats[torch.arange(b, device=h.device), lengths + 1] = self.edge_tokens[1].to(h.dtype)  # end token after the last word
        full = torch.arange(feats.shape[1], device=h.device)[None] <= (lengths + 1)[:, None]
        x = feats.transpose(1, 2)
        for block in self.enc:
            x = block(x, s) * full[:, None]
        return x, full

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None, tokens: torch.Tensor | None = None,
                token_mask: torch.Tensor | None = None, timing: torch.Tensor | None = None, **_) -> torch.Tensor:
        if tokens is None:
            tokens, token_mask = c[:, None], None                  # a pooled condition is one "word"
        s = torch.cat([z, c], dim=1).to(self.tok_in.weight.dtype)
        x, mask = self.encode_tokens(tokens, token_mask, s)
        d = F.softplus(self.dur(x).squeeze(1).float()) * mask     # (b, n+2) frames a token
        total = d.sum(1).clamp_min(1e-3)
        if timing is not None:                                     # the paired real clip's onset and length
            onset, length = timing[:, 0].float(), timing[:, 1].float().clamp_min(1.0)
            self.aux_loss = self.length_weight * (total.log() - length.log()).square().mean()
            if self.training:
                self._track(onset, length, total)
            d = d * (length / total)[:, None]
        else:
            self.aux_loss = None
            mu, sd = self.onset_stats
            onset = (mu + sd * z[:, 0].float()).clamp(0, self.frames / 2)
            d = d * torch.exp(self.rate_std * z[:, 1].float()).clamp(0.5, 2.0)[:, None]
            length = d.sum(1)
        h = self.upsample(x, d, mask, onset, length)
        for block in self.dec:
            h = block(h, s)
        return torch.tanh(self.out(h))[:, None]                 # (b, 1, n_mels, frames)

    def upsample(self, x, d, mask, onset, length) -> torch.Tensor:
        """Gaussian upsampling of token features (b, w, n) to frames (b, w, frames) with durations d (b, n)."""
        t = torch.arange(self.frames, device=x.device, dtype=torch.float32)[None, :, None] + 0.5   # (1, T, 1)
        centre = (onset[:, None] + d.cumsum(1) - d / 2)[:, None]                                   # (b, 1, n)
        sigma = (d / 2).clamp_min(1.0)[:, None]
        logits = -(t - centre).square() / (2 * sigma.square())
        w = logits.masked_fill(~mask[:, None], float("-inf")).softmax(-1)                          # (b, T, n)
        frames = torch.bmm(x.float(), w.transpose(1, 2))                                           # (b, w, T)
        tt = t[..., 0]
        inside = torch.sigmoid((tt - onset[:, None]) / EDGE) * torch.sigmoid(((onset + length)[:, None] - tt) / EDGE)
        inside = inside[:, None]
        return (inside * frames + (1 - inside) * self.silence[None, :, None].float()).to(x.dtype)

    @torch.no_grad()
    def _track(self, onset: torch.Tensor, length: torch.Tensor, total: torch.Tensor, momentum: float = 0.01):
        """Running onset mean and spread and the spread of log(real length / predicted length), over the
        global batch when several processes train (as BatchNorm's statistics)."""
        ratio = length.log() - total.log()
        batch = distributed.mean(torch.stack([onset.mean(), onset.std(unbiased=False), ratio.std(unbiased=False)]))
        self.onset_stats.lerp_(batch[:2].to(self.onset_stats.dtype), momentum)
        self.rate_std.lerp_(batch[2].to(self.rate_std.dtype), momentum)


class MelDiscriminator(ConfigModule):
    """D(x (b, 1, n_mels, frames), c) -> (realism + projection logit (b,), None): the mel bands are the
    channels of 1-D convs along time, stride-2 blocks down to at most 8 frames, flattened, then a realism
    head plus the condition projected onto the features (matching-aware, as DCGAN's projection D).
    features()/judge() split it, so the matching phases run the convs once for real and fake clips."""

    def __init__(self, n_mels: int, frames: int, width: int = 256, cond_dim: int = 0, spectral_norm: bool = False):
        super().__init__(n_mels=n_mels, frames=frames, width=width, cond_dim=cond_dim, spectral_norm=spectral_norm)
        layers: list[nn.Module] = [maybe_sn(nn.Conv1d(n_mels, width, 3, padding=1), spectral_norm), nn.LeakyReLU(0.2)]
        t = frames
        while t > 8:
            layers += [maybe_sn(nn.Conv1d(width, width, 5, 2, 2), spectral_norm), nn.LeakyReLU(0.2)]
            t = (t + 1) // 2
        self.body = nn.Sequential(*layers)
        feat = width * t
        self.head = maybe_sn(nn.Linear(feat, 1), spectral_norm)
        self.proj = Projection(cond_dim, feat, spectral_norm) if cond_dim else None

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x[:, 0]).flatten(1)

    def judge(self, h: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        return judge(h, c, self.head, self.proj, None)[0]

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None):
        return judge(self.features(x), c, self.head, self.proj, None)


@register("model", "ttsgan", options=TTSGANOptions)
def build_ttsgan(cfg: ModelConfig, with_discriminator: bool = True):
    if cfg.channels != 1:
        raise ValueError(f"ttsgan draws one-channel log-mel pictures; got model.channels={cfg.channels} "
                         f"(train it on audio data: its codec sets the channels)")
    o = TTSGANOptions.read(cfg.extra)
    side = cfg.resolution                      # the codec's square picture: n_mels bands x n_mels frames
    g = TTSGenerator(cfg.z_dim, side, side, cfg.cond_dim, cfg.cond_dim, o.width, o.blocks,
                     o.length_weight)
    if not with_discriminator:
        return g, None
    if o.discriminator == "time":
        if cfg.acgan or cfg.mbstd or cfg.pack > 1 or cfg.d_cond not in ("projection", "none"):
            raise ValueError("ttsgan's time discriminator has a projection head only: no model.acgan, mbstd or pack, "
                             "d_cond projection (or set model.extra.discriminator=picture)")
        cond = cfg.cond_dim if cfg.d_cond == "projection" else 0
        return g, MelDiscriminator(side, side, cfg.d_width, cond, cfg.spectral_norm)
    d = DCGANDiscriminator(cfg.channels, cfg.resolution, cfg.d_width, cfg.cond_dim, cfg.d_cond, cfg.num_classes,
                           cfg.acgan, cfg.spectral_norm, cfg.mbstd, cfg.pack, d_norm(cfg))
    return g, d
