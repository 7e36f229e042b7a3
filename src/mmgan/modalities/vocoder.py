"""A GAN vocoder: HiFi-GAN's generator (Kong et al. 2020) turning a clip's log-mel picture into its
waveform, and the loader the audio codec uses to run a trained one at generation time.

    net = load_vocoder("runs/vocoder")                    # a hifigan run, checkpoint or export (G_ema, else G)
    w = vocode("runs/vocoder", pictures, spec)            # (b, 1, n_mels, frames) MelSpec pictures -> (b, samples)

The network (shape legend: b batch, m mel bands, f frames, t samples = f * hop):
    (b, 1, m, f) picture -> conv_pre (m -> width, kernel 7)
    -> per upsampling rate r: LeakyReLU 0.1, transposed conv (x r in time, channels halved),
       multi-receptive-field fusion: the mean of residual blocks of kernels 3, 7, 11, each three
       dilated convs (1, 3, 5) with a plain conv after each
    -> LeakyReLU, conv_post (-> 1 channel, kernel 7), tanh -> (b, 1, f * hop)
The rates multiply to the mel hop (250 = 5 * 5 * 5 * 2 for 1-s clips at 16 kHz: `upsample_rates`).
Every conv has weight normalization, as in the paper.

The trained family (mmgan.models.hifigan) wraps this network as `G.vocoder`, so its weights are the
`vocoder.*` tensors of the run's G / G_ema safetensors; the network is rebuilt from the run's model
config alone (`generator_kwargs`: model.g_width, model.extra and model.extra.mel). Nothing is unpickled.
"""
from __future__ import annotations

import math
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import load_file

from ..model_options import Options, option
from ..runs import resolve
from .sound import MelSpec

FAMILY = "hifigan"           # the model family whose runs are vocoders
PREFIX = "vocoder."          # the network's tensors inside the family's generator weights
MAX_STAGES = 4               # upsampling stages `upsample_rates` aims for
MEL_KEYS = ("sample_rate", "n_mels", "n_fft")    # what a vocoder and the mels it reads must share (and the hop)


@dataclass(frozen=True)
class VocoderOptions(Options):
    """The generator's model.extra options (the hifigan family adds its discriminators' and losses')."""
    upsample_rates: list[int] | None = option(None, "upsampling rate of each stage; they multiply to the mel hop "
                                                    "(unset: from the hop, largest first, at most 4 stages)")
    resblock_kernels: list[int] = option([3, 7, 11], "kernel of each residual block of the multi-receptive-field fusion")
    resblock_dilations: list[int] = option([1, 3, 5], "dilations of the convs in each residual block")


def upsample_rates(hop: int, max_stages: int = MAX_STAGES) -> list[int]:
    """The hop's prime factors, the two smallest merged while there are more than max_stages, largest
    first: 250 -> [5, 5, 5, 2], 125 -> [5, 5, 5], 1000 -> [8, 5, 5, 5]."""
    if hop < 2:
        raise ValueError(f"a vocoder needs a mel hop of at least 2 samples, got {hop}")
    factors, n, p = [], hop, 2
    while n > 1:
        while n % p == 0:
            factors.append(p)
            n //= p
        p += 1
    while len(factors) > max_stages:
        factors.sort()
        factors = [factors[0] * factors[1]] + factors[2:]
    return sorted(factors, reverse=True)


def _wn(m: nn.Module) -> nn.Module:
    return nn.utils.parametrizations.weight_norm(m)


class ResBlock(nn.Module):
    """HiFi-GAN's residual block ("type 1"): x += conv(lrelu(dilated_conv(lrelu(x)))) per dilation."""

    def __init__(self, ch: int, kernel: int, dilations: list[int]):
        super().__init__()
        self.dilated = nn.ModuleList(_wn(nn.Conv1d(ch, ch, kernel, dilation=d, padding=d * (kernel - 1) // 2))
                                     for d in dilations)
        self.plain = nn.ModuleList(_wn(nn.Conv1d(ch, ch, kernel, padding=(kernel - 1) // 2)) for _ in dilations)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for c1, c2 in zip(self.dilated, self.plain):
            x = x + c2(F.leaky_relu(c1(F.leaky_relu(x, 0.1)), 0.1))
        return x


class HiFiGenerator(nn.Module):
    """MelSpec pictures (b, 1, n_mels, frames) or (b, n_mels, frames) -> waveforms (b, 1, frames * hop)."""

    def __init__(self, n_mels: int, rates: list[int], width: int = 128, kernels: list[int] = (3, 7, 11),
                 dilations: list[int] = (1, 3, 5)):
        super().__init__()
        rates, kernels, dilations = [int(r) for r in rates], [int(k) for k in kernels], [int(d) for d in dilations]
        if width % 2 ** len(rates):
            raise ValueError(f"the vocoder halves its channels at each of its {len(rates)} upsampling stages: "
                             f"model.g_width={width} must be divisible by {2 ** len(rates)}")
        self.config = dict(n_mels=n_mels, rates=rates, width=width, kernels=kernels, dilations=dilations)
        self.hop = math.prod(rates)
        self.pre = _wn(nn.Conv1d(n_mels, width, 7, padding=3))
        self.ups, self.mrfs = nn.ModuleList(), nn.ModuleList()
        ch = width
        for r in rates:
            k = 2 * r + r % 2                   # out = in * r exactly: k - 2 * pad = r
            self.ups.append(_wn(nn.ConvTranspose1d(ch, ch // 2, k, r, (k - r) // 2)))
            ch //= 2
            self.mrfs.append(nn.ModuleList(ResBlock(ch, k_, dilations) for k_ in kernels))
        self.post = _wn(nn.Conv1d(ch, 1, 7, padding=3))

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        x = self.pre(mel.flatten(1, 2) if mel.dim() == 4 else mel)            # (b, width, f)
        for up, mrf in zip(self.ups, self.mrfs):
            x = up(F.leaky_relu(x, 0.1))                                       # (b, ch / 2, f * r)
            x = sum(block(x) for block in mrf) / len(mrf)
        return torch.tanh(self.post(F.leaky_relu(x)))                         # (b, 1, f * hop)


def generator_kwargs(model: Mapping) -> dict:
    """HiFiGenerator's arguments from a model config (a dict or ModelConfig's fields): model.g_width,
    the options in model.extra and the mel settings in model.extra.mel."""
    extra = dict(model.get("extra") or {})
    if "mel" not in extra:
        raise ValueError("a vocoder reads model.extra.mel (the log-mel settings the audio codec writes): "
                         "train hifigan on audio data")
    spec = MelSpec.from_dict(extra["mel"])
    o = VocoderOptions.read(extra)
    rates = o.upsample_rates or upsample_rates(spec.hop)
    if math.prod(rates) != spec.hop:
        raise ValueError(f"model.extra.upsample_rates={rates} multiply to {math.prod(rates)}, but the mel hop is "
                         f"{spec.hop} samples; leave it unset to derive the rates from the hop")
    return dict(n_mels=spec.n_mels, rates=rates, width=int(model.get("g_width") or 128),
                kernels=o.resblock_kernels, dilations=o.resblock_dilations)


def fit_samples(x: torch.Tensor, samples: int) -> torch.Tensor:
    """(..., t) cut or zero-padded at the end to (..., samples) (frames * hop falls short of the clip
    when the hop does not divide it)."""
    t = x.shape[-1]
    return x[..., :samples] if t >= samples else F.pad(x, (0, samples - t))


# ---- loading a trained vocoder -----------------------------------------------------------------------
def load_vocoder(path: str | os.PathLike, weights: str = "G_ema") -> HiFiGenerator:
    """The vocoder network of a hifigan run (its latest checkpoint), a checkpoint or an exported pipeline:
    rebuilt from the saved model config, its `vocoder.*` tensors loaded from WEIGHTS.safetensors (G_ema,
    falling back to G). Eval mode; `.spec` is the MelSpec it reads."""
    return _load(_resolve(path), path, weights)


def _resolve(path: str | os.PathLike):
    try:
        return resolve(path)
    except FileNotFoundError as e:
        raise FileNotFoundError(f"vocoder {path}: {e}") from None


def _load(ref, path: str | os.PathLike, weights: str) -> HiFiGenerator:
    model = ref.config["model"]
    if model.get("family") != FAMILY:
        raise ValueError(f"vocoder {path} is a {model.get('family')!r} run, not a vocoder; train one with "
                         f"`mmgan train --data spoken-digits --config hifigan-spoken-digits` (or on your own clips)")
    net = HiFiGenerator(**generator_kwargs(model))
    file = ref.generator_file(weights)
    try:
        state = load_file(str(file))
    except Exception as e:  # safetensors raises its own error types
        raise ValueError(f"vocoder {path}: {file} is not a readable safetensors file ({e})") from None
    own = {k[len(PREFIX):]: v for k, v in state.items() if k.startswith(PREFIX)}
    try:
        net.load_state_dict(own)
    except RuntimeError as e:
        raise ValueError(f"vocoder {path}: {file} does not match the network its config builds: {e}") from None
    net.spec = MelSpec.from_dict(model["extra"]["mel"])
    return net.eval()


_CACHE: dict[tuple, HiFiGenerator] = {}
_LOCK = threading.Lock()


def cached_vocoder(path: str | os.PathLike) -> HiFiGenerator:
    """load_vocoder(path), loaded once per weights file (and again when the file changes)."""
    ref = _resolve(path)
    file = ref.generator_file("G_ema")
    key = (str(file.resolve()), file.stat().st_mtime_ns if file.exists() else 0)
    with _LOCK:
        if key not in _CACHE:
            _CACHE[key] = _load(ref, path, "G_ema")
        return _CACHE[key]


def check_compatible(vocoder: MelSpec, spec: MelSpec, where: str = "") -> None:
    """A vocoder reads another model's mels when both have the same rate, bands, FFT size and hop."""
    bad = [k for k in MEL_KEYS if getattr(vocoder, k) != getattr(spec, k)]
    if vocoder.hop != spec.hop:
        bad.append("hop")
    if bad:
        mine = ", ".join(f"{k}={getattr(spec, k) if k != 'hop' else spec.hop}" for k in bad)
        theirs = ", ".join(f"{k}={getattr(vocoder, k) if k != 'hop' else vocoder.hop}" for k in bad)
        raise ValueError(f"vocoder {where}: it was trained on mels with {theirs}, these mels have {mine} "
                         f"(clips of {spec.samples / spec.sample_rate:g} s vs {vocoder.samples / vocoder.sample_rate:g} s); "
                         f"train a vocoder on clips of the same length")


def rescale(pictures: torch.Tensor, spec: MelSpec, vocoder: MelSpec) -> torch.Tensor:
    """Pictures drawn with spec's dB range, redrawn on the vocoder's (top_db is fixed per model from its
    data's loudest bins; the same dB must reach the vocoder as the same picture value)."""
    if (spec.top_db, spec.range_db) == (vocoder.top_db, vocoder.range_db):
        return pictures
    db = (pictures.clamp(-1, 1) - 1) * (spec.range_db / 2) + spec.top_db
    db = db.clamp(vocoder.top_db - vocoder.range_db, vocoder.top_db)
    return (db - vocoder.top_db) / (vocoder.range_db / 2) + 1


@torch.no_grad()
def vocode(vocoder_path: str | os.PathLike, pictures: torch.Tensor, spec: MelSpec, batch: int = 16) -> torch.Tensor:
    """(b, 1, n_mels, frames) pictures in spec's units -> (b, spec.samples) waveforms by the vocoder run
    at vocoder_path (loaded once and cached)."""
    net = cached_vocoder(vocoder_path)
    vspec = net.spec
    check_compatible(vspec, spec, str(vocoder_path))
    x = rescale(pictures.float().cpu(), spec, vspec)
    outs = [net(x[i:i + batch])[:, 0] for i in range(0, len(x), batch)]
    return fit_samples(torch.cat(outs), spec.samples) if outs else torch.zeros(0, spec.samples)
