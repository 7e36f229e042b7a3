"""spoken-shapes: the shapes captions ("a tiny tangerine circle near the left edge") spoken by espeak-ng as
whole sentences (1.5-4 s), with `text` = the words said: transcripts for a speech recogniser that writes
subtitles (configs/recognizer-spoken-shapes.yaml). Needs espeak-ng (mmgan.data.speech).

Voices: as spoken-digits (mmgan.data.spoken_digits.split_voices): `test` speaks only with the 17
HELDOUT_VOICES that `train` never uses (every variant of the Caribbean accent en-029, and one unheard
variant of each other accent); each item also draws its speed (speech.SPEED_RANGE) and pitch.
Sentences: shapes.caption() of an attribute combination drawn uniformly from all 192 (the words and
templates of the shapes captions: 12 templates, 4 synonyms a value, 56 distinct words); what is held out
is the voice, not the sentence.

A clip: the caption spoken as written (its commas and colons make espeak pause), the leading and
trailing silence trimmed (speech quieter than -40 dB below the peak), 2 ms fades, then LEAD_RANGE seconds
of silence before and after (seeded), the peak at a level in [-6, -1] dBFS. Clips vary in length;
cached under <cache>/spoken-shapes/ by a hash of their parameters.

Columns: audio (absolute WAV paths), text (the transcript: the caption in lower case, hyphens as spaces,
no punctuation: "a ball that is small and purple on the right side"), label (the shape), attributes
(shape, color, size, position, accent, variant).
"""
from __future__ import annotations

import re

import numpy as np
import torch

from ..modalities import get_codec
from ..registry import register
from . import speech
from .base import DataInfo, MemoryDataset
from .clips import LEVEL_RANGE_DB, SAMPLE_RATE, at_level, fade, item_rngs, make_clips
from .common import check_split
from .shapes import ATTRIBUTES, SHAPES, all_combinations, caption
from .spoken_digits import EDGE_FADE, HELDOUT_VOICES, SILENCE_DB, split_voices, trim_silence

NAME = "spoken-shapes"
VERSION = 1                                  # bump when a clip's rendering changes
DEFAULT_N = {"train": 4000, "test": 400}
SPLITS = tuple(DEFAULT_N)
LEAD_RANGE = (0.05, 0.35)                    # seconds of silence before and after the sentence


def transcript(text: str) -> str:
    """What a listener writes down: lower case, hyphens as spaces, no punctuation, single spaces."""
    return " ".join(re.sub(r"[^a-z' ]", " ", text.lower().replace("-", " ")).split())


def render(p: dict) -> np.ndarray:
    """One clip from its parameters (see the module docstring)."""
    y = trim_silence(speech.speak(p["caption"], p["voice"], p["variant"], p["speed"], p["pitch"], SAMPLE_RATE))
    y = y * fade(len(y), EDGE_FADE) * fade(len(y), EDGE_FADE)[::-1]
    lead, tail = (int(round(s * SAMPLE_RATE)) for s in p["pad"])
    return at_level(np.concatenate([np.zeros(lead, np.float32), y, np.zeros(tail, np.float32)]), p["level_db"])


@register("dataset", NAME)
def spoken_shapes(split: str = "train", n: int = 0, seed: int = 0, resolution: int = 0) -> MemoryDataset:
    """Spoken shapes captions with held-out test voices (see the module docstring); resolution is
    ignored. Raises speech.SpeechUnavailable when clips must be made and espeak-ng is missing."""
    check_split(NAME, split, SPLITS)
    voices = split_voices(split)
    n = n or DEFAULT_N[split]
    combos = all_combinations()
    params, attrs = [], []
    for rng in item_rngs(n, seed, NAME, split):
        combo = combos[rng.integers(len(combos))]
        accent, variant = voices[rng.integers(len(voices))]
        params.append({"caption": caption(combo, rng), "voice": accent, "variant": variant,
                       "speed": int(rng.integers(speech.SPEED_RANGE[0], speech.SPEED_RANGE[1] + 1)),
                       "pitch": int(rng.integers(speech.PITCH_RANGE[0], speech.PITCH_RANGE[1] + 1)),
                       "pad": [round(float(rng.uniform(*LEAD_RANGE)), 3) for _ in range(2)],
                       "level_db": round(float(rng.uniform(*LEVEL_RANGE_DB)), 3)})
        attrs.append([ATTRIBUTES[k].index(v) for k, v in zip(ATTRIBUTES, combo)]
                     + [speech.VOICES.index(accent), speech.VARIANTS.index(variant)])
    audio = make_clips(NAME, VERSION, params, render, samples=None)
    attrs_t = torch.tensor(attrs, dtype=torch.long).reshape(n, 6)
    info = DataInfo(name=NAME, kind="audio", shape=get_codec("audio").item_shape(audio), num_classes=len(SHAPES), class_names=list(SHAPES),
                    attributes={**{k: list(v) for k, v in ATTRIBUTES.items()}, "accent": list(speech.VOICES),
                                "variant": list(speech.VARIANTS)},
                    extra={"sample_rate": SAMPLE_RATE, "split": split, "seed": seed, "label": "shape index",
                           "voices": [f"{a}+{v}" for a, v in voices],
                           "heldout_voices": [f"{a}+{v}" for a, v in HELDOUT_VOICES], "silence_db": SILENCE_DB,
                           "speed_range": list(speech.SPEED_RANGE), "pitch_range": list(speech.PITCH_RANGE)})
    return MemoryDataset(info, {"audio": audio, "text": [transcript(p["caption"]) for p in params],
                                "label": attrs_t[:, 0].clone(), "attributes": attrs_t})
