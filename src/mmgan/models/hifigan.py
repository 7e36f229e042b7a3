"""HiFi-GAN (Kong et al. 2020): a GAN vocoder, the log-mel picture of a clip -> its waveform. A run of
its own, trained on any audio; a specgan run then speaks through it (model.extra.vocoder, or
`mmgan generate SPECGAN_RUN --vocoder THIS_RUN`) instead of Griffin-Lim.

G (HiFiGANGenerator) holds the vocoder network as `G.vocoder` (mmgan.modalities.vocoder.HiFiGenerator:
conv_pre, transposed-conv upsampling to the mel hop, multi-receptive-field fusion, tanh), the MelSpec
it reads (model.extra.mel, written by the audio codec) and a few training clips' mels for previews.
G(mel=pictures) vocodes; G.resynthesize(waves) is copy synthesis (the clips' own mels in, their sound
out: what `mmgan generate VOCODER_RUN --audio clip.wav` does); G(z) without mels re-synthesises the
stored training clips (sample grids during training, `mmgan generate VOCODER_RUN` without --audio).

D (HiFiGANDiscriminator) holds the two discriminators; D(x) -> (logits, features), one entry per
sub-discriminator ((b, n) logits; a list of feature maps for feature matching):
  multi-period  periods 2, 3, 5, 7, 11: the waveform folded into (t / p, p) and judged by 2-D convs
                (kernel (5, 1), stride (3, 1)) with channels w, 4w, 16w, 32w, 32w (w = model.d_width;
                the paper's w is 32); weight norm
  multi-scale   3 scales (raw, 2x and 4x average-pooled) of 1-D grouped convs (kernels 15, 41, ..., 5),
                channels 2w .. 16w (the paper's 128 .. 1024 at w = 64); spectral norm on the raw
                scale, weight norm on the others
The phases "vocoder" (mmgan.losses.vocoder) own the step: least-squares adversarial terms, feature
matching (feature_weight, 2) and the log-mel L1 (mel_weight, 45) on random segments of the clips
(segment_frames, drawn where the clips have sound: loud_segments), optionally a multi-resolution STFT
term (stft_weight), after an optional warm-up of G alone on the multi-resolution STFT loss plus the log-mel
L1 (warmup_steps).
Its preset: configs/hifigan-spoken-digits.yaml.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..config import ModelConfig
from ..modalities.sound import MelSpec
from ..modalities.vocoder import HiFiGenerator, VocoderOptions, fit_samples, generator_kwargs
from ..model_options import option
from ..registry import register
from .base import ConfigModule


@dataclass(frozen=True)
class HiFiGANOptions(VocoderOptions):
    phases: ClassVar[str] = "vocoder"    # its step logic (loss.phases; resolve() writes it)
    periods: list[int] = option([2, 3, 5, 7, 11], "periods of the multi-period discriminator")
    scales: int = option(3, "scales of the multi-scale discriminator (raw, then each average-pooled 2x)")
    segment_frames: int = option(16, "training cuts each clip to a random segment of this many mel frames "
                                     "(16 = 0.25 s of a 1-s clip; 0 = whole clips)")
    feature_weight: float = option(2.0, "weight of the feature-matching loss (phases vocoder)")
    mel_weight: float = option(45.0, "weight of the log-mel L1 loss (phases vocoder)")
    warmup_steps: int = option(0, "steps of G alone on the multi-resolution STFT loss plus the log-mel L1 "
                                  "before the GAN terms (phases vocoder; 0 = none)")
    stft_weight: float = option(0.0, "weight of the multi-resolution STFT loss added to G's GAN terms (phases "
                                     "vocoder; 0 = none, as in the paper; it sees the 0 Hz and Nyquist bins, "
                                     "which the mel filterbank weighs 0)")
    loud_segments: float = option(0.0, "share of training segments drawn in proportion to their loudness, the "
                                        "rest uniformly (phases vocoder; 0 = all uniform)")
    examples: int = option(8, "training clips whose mels G keeps for previews")


class HiFiGANGenerator(ConfigModule):
    phases = HiFiGANOptions.phases        # the step logic the trainer uses
    resynthesizes = True          # the Pipeline passes clips to resynthesize()
    bf16_auto = False             # bf16's 8-bit mantissa is audible in a waveform: fp32 unless asked

    def __init__(self, mel: dict, n_mels: int, rates: list[int], width: int = 128, kernels: list[int] = (3, 7, 11),
                 dilations: list[int] = (1, 3, 5), examples: int = 8):
        super().__init__(mel=dict(mel), n_mels=n_mels, rates=list(rates), width=width, kernels=list(kernels),
                         dilations=list(dilations), examples=examples)
        self.spec = MelSpec.from_dict(mel)
        self.vocoder = HiFiGenerator(n_mels, rates, width, kernels, dilations)
        # the mels of a few training clips (filled from the first batches; saved with the weights)
        self.register_buffer("examples", torch.zeros(examples, 1, self.spec.n_mels, self.spec.frames))
        self.register_buffer("examples_n", torch.zeros((), dtype=torch.long))

    def forward(self, z: torch.Tensor | None = None, c: torch.Tensor | None = None, mel: torch.Tensor | None = None,
                **_) -> torch.Tensor:
        """mel (b, 1, n_mels, frames) -> (b, 1, frames * hop); without mels: b re-syntheses of stored clips."""
        if mel is not None:
            return self.vocoder(mel)
        if z is None:
            raise ValueError("hifigan: pass mel= (log-mel pictures to vocode) or z (a preview of stored clips)")
        return self.preview(z.shape[0])

    def resynthesize(self, waves: torch.Tensor) -> torch.Tensor:
        """Copy synthesis: (b, 1, samples) clips -> their MelSpec pictures -> (b, 1, samples) by the vocoder."""
        return fit_samples(self.vocoder(self.spec.encode(waves.float().flatten(1))), self.spec.samples)

    def preview(self, b: int) -> torch.Tensor:
        """b clips: the stored training clips' mels vocoded (cycled), (b, 1, samples)."""
        n = max(1, min(int(self.examples_n), self.examples.shape[0]))
        idx = torch.arange(b, device=self.examples.device) % n
        return fit_samples(self.vocoder(self.examples[idx]), self.spec.samples)

    @torch.no_grad()
    def remember_examples(self, mel: torch.Tensor) -> None:
        """Fill the preview slots from training mels (b, 1, n_mels, frames) until full."""
        n = int(self.examples_n)
        take = min(self.examples.shape[0] - n, mel.shape[0])
        if take > 0:
            self.examples[n:n + take] = mel[:take].to(self.examples.dtype)
            self.examples_n += take

    @property
    def examples_full(self) -> bool:
        return int(self.examples_n) >= self.examples.shape[0]


def _groups(c_in: int, c_out: int, want: int) -> int:
    return math.gcd(math.gcd(c_in, c_out), want)


class PeriodDiscriminator(nn.Module):
    """One period p: (b, 1, t) -> reflect-padded to a multiple of p -> (b, 1, t / p, p) -> 2-D convs."""

    def __init__(self, period: int, width: int):
        super().__init__()
        self.period = period
        chans = [1, width, 4 * width, 16 * width, 32 * width, 32 * width]
        wn = nn.utils.parametrizations.weight_norm
        self.convs = nn.ModuleList(wn(nn.Conv2d(a, b, (5, 1), (3 if i < 4 else 1, 1), (2, 0)))
                                   for i, (a, b) in enumerate(zip(chans[:-1], chans[1:])))
        self.post = wn(nn.Conv2d(chans[-1], 1, (3, 1), 1, (1, 0)))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        b, c, t = x.shape
        if t % self.period:
            pad = self.period - t % self.period
            x = F.pad(x, (0, pad), "reflect" if pad < t else "constant")
            t += pad
        x = x.view(b, c, t // self.period, self.period)
        return _stack(self.convs, self.post, x)


class ScaleDiscriminator(nn.Module):
    """One scale: (b, 1, t) -> strided grouped 1-D convs -> (b, t') logits."""

    def __init__(self, width: int, spectral: bool):
        super().__init__()
        norm = nn.utils.parametrizations.spectral_norm if spectral else nn.utils.parametrizations.weight_norm
        w = 2 * width
        #        (in, out, kernel, stride, groups): the paper's at w = 128
        layers = [(1, w, 15, 1, 1), (w, w, 41, 2, 4), (w, 2 * w, 41, 2, 16), (2 * w, 4 * w, 41, 4, 16),
                  (4 * w, 8 * w, 41, 4, 16), (8 * w, 8 * w, 41, 1, 16), (8 * w, 8 * w, 5, 1, 1)]
        self.convs = nn.ModuleList(norm(nn.Conv1d(a, b, k, s, (k - 1) // 2, groups=_groups(a, b, g)))
                                   for a, b, k, s, g in layers)
        self.post = norm(nn.Conv1d(8 * w, 1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        return _stack(self.convs, self.post, x)


class HiFiGANDiscriminator(ConfigModule):
    """The multi-period and multi-scale discriminators: D(x (b, 1, t)) -> (logits, features), one entry
    per sub-discriminator, periods first."""

    def __init__(self, width: int = 16, periods: list[int] = (2, 3, 5, 7, 11), scales: int = 3, cond_dim: int = 0):
        super().__init__(width=width, periods=list(periods), scales=scales, cond_dim=cond_dim)
        self.mpd = nn.ModuleList(PeriodDiscriminator(int(p), width) for p in periods)
        self.msd = nn.ModuleList(ScaleDiscriminator(width, spectral=i == 0) for i in range(scales))
        self.pool = nn.AvgPool1d(4, 2, padding=2)

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None):
        logits, feats = [], []
        for d in self.mpd:
            lg, f = d(x)
            logits.append(lg)
            feats.append(f)
        for i, d in enumerate(self.msd):
            if i:
                x = self.pool(x)
            lg, f = d(x)
            logits.append(lg)
            feats.append(f)
        return logits, feats


def loss_options(cfg: ModelConfig) -> dict:
    o = HiFiGANOptions.read(cfg.extra)
    return {"feature_weight": o.feature_weight, "mel_weight": o.mel_weight, "warmup_steps": o.warmup_steps,
            "segment_frames": o.segment_frames, "loud_segments": o.loud_segments, "stft_weight": o.stft_weight}


@register("model", "hifigan", options=HiFiGANOptions)
def build_hifigan(cfg: ModelConfig, with_discriminator: bool = True):
    if cfg.cond_dim or cfg.condition:
        raise ValueError(f"hifigan is a vocoder: it reads the clip's own log-mel and takes no condition; "
                         f"got model.condition={cfg.condition} (set model.condition=[])")
    if cfg.pack > 1:
        raise ValueError("hifigan does not support model.pack > 1")
    o = HiFiGANOptions.read(cfg.extra)
    g = HiFiGANGenerator(cfg.extra.get("mel") or {}, **generator_kwargs(vars(cfg)), examples=o.examples)
    g.loss_options = loss_options(cfg)
    if not with_discriminator:
        return g, None
    return g, HiFiGANDiscriminator(cfg.d_width, o.periods, o.scales)


def _stack(convs: nn.ModuleList, post: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """A sub-discriminator's convolutions (LeakyReLU 0.1 after each) and its output conv: (logits flattened,
    every layer's feature map for feature matching)."""
    feats = []
    for conv in convs:
        x = F.leaky_relu(conv(x), 0.1)
        feats.append(x)
    x = post(x)
    feats.append(x)
    return x.flatten(1), feats

