"""SpecGAN (Donahue et al. 2019, "Adversarial Audio Synthesis"): the DCGAN architecture on a clip's
log-mel spectrogram, drawn as a one-channel picture (the audio codec's units: 64 mel bands x 64
frames in [-1, 1]); the codec turns generated pictures back into sound: by Griffin-Lim, or by a
trained HiFi-GAN vocoder when model.extra.vocoder names one (a hifigan run; mmgan.modalities.vocoder).

The networks are DCGAN's (mmgan.models.dcgan: z -> 4x4 -> transposed convs -> 64x64, D mirrored, any
condition the conditioners make: labels, text, speech, images); this family registers them for the
audio codec, which owns everything particular to sound. Its presets: configs/specgan-spoken-digits.yaml
(label -> spoken digit) and configs/specgan-spoken-shapes.yaml (a shapes caption's text -> the spoken sentence).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..config import ModelConfig
from ..model_options import Options, option
from ..registry import register
from .dcgan import DCGANOptions, build_dcgan


@dataclass(frozen=True)
class MelOptions(Options):
    """What every family drawing log-mel pictures takes (specgan, ttsgan): the audio codec reads them."""
    vocoder: str | None = option(None, "a hifigan run (or its checkpoint or export) that turns the log-mels into sound "
                                       "(unset: Griffin-Lim); `mmgan generate RUN --vocoder V` sets it for one call")
    clip_seconds: float = option(0.0, "length of the clips drawn, in seconds (0 = the data's: the median clip, "
                                      "rounded up to 0.25 s; longer clips are cut)")
    mel_side: int = option(64, "mel bands and frames of the log-mel picture the generator draws (64 for 1-s "
                               "words; 128 for 3-4 s sentences: 31 ms frames)")


@dataclass(frozen=True)
class SpecGANOptions(DCGANOptions, MelOptions):
    pass


@register("model", "specgan", options=SpecGANOptions)
def build_specgan(cfg: ModelConfig, with_discriminator: bool = True):
    if cfg.channels != 1:
        raise ValueError(f"specgan draws one-channel log-mel pictures; got model.channels={cfg.channels} "
                         f"(train it on audio data: its codec sets the channels)")
    return build_dcgan(cfg, with_discriminator)
