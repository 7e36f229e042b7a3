"""spoken-digits: "zero" .. "nine" spoken by espeak-ng in many voices, one second each (an SC09
stand-in made offline; needs espeak-ng, see mmgan.data.speech).

Voices: a voice is an (accent, variant) pair of speech.VOICES x speech.VARIANTS (6 x 12 = 72); each
item also draws its speed (speech.SPEED_RANGE, words per minute) and pitch (speech.PITCH_RANGE).
Splits: `test` speaks only with HELDOUT_VOICES, which `train` never uses (17 voices; train has the
other 55):
  - every variant of the Caribbean accent en-029: an accent training never hears;
  - one variant of each other accent (en+m6, en-us+f5, en-gb-x-rp+m3, en-gb-scotland+f2,
    en-us-nyc+m7): a known accent and a known variant, but never that voice.
info.extra["voices"] lists the split's voices ("accent+variant").

Fitting a word into exactly 1.0 s (16,000 samples at 16 kHz):
  1. trim leading and trailing silence: samples quieter than SILENCE_DB (-40 dB) below the
     utterance's peak; the kept word gets 2 ms fades at both ends (no clicks);
  2. a word still longer than 1.0 s is re-synthesized faster (speed x its overshoot x 1.1, at most
     3 tries, up to espeak's 450 wpm); if it still does not fit it is cut to 1.0 s with a 10 ms fade-out.
     At the speeds drawn here no digit comes near 1 s (the longest is about 0.75 s);
  3. zero-padded to 16,000 samples with the word at a random (seeded) offset;
  4. the peak normalised to a random level in [-6, -1] dBFS.

Columns: audio (absolute WAV paths, cached under <cache>/spoken-digits/), label (the digit), text (a
varied caption: "seven", "someone says seven", ...), attributes (digit, accent, variant), speaker (the
voice, "accent+variant": what a voice condition groups clips by).
"""
from __future__ import annotations

import numpy as np
import torch

from ..registry import register
from . import speech
from .base import MemoryDataset
from .clips import (CLIP_SAMPLES, LEVEL_RANGE_DB, SAMPLE_RATE, balanced, fade, item_rngs, make_clips, placed,
                    sound_info)
from .common import check_split, rng_for
from .digits import DIGIT_WORDS

NAME = "spoken-digits"
VERSION = 1                                  # bump when a clip's rendering changes
DEFAULT_N = {"train": 6000, "test": 1000}
SPLITS = tuple(DEFAULT_N)
SILENCE_DB = -40.0
EDGE_FADE, CUT_FADE = 32, 160                # 2 ms and 10 ms at 16 kHz
MAX_SPEED, SPEED_TRIES = 450, 3

HELDOUT_VOICES = tuple([("en-029", v) for v in speech.VARIANTS] + [
    ("en", "m6"), ("en-us", "f5"), ("en-gb-x-rp", "m3"), ("en-gb-scotland", "f2"), ("en-us-nyc", "m7")])

TEMPLATES = [
    "{w}", "the digit {w}", "a spoken {w}", "someone says {w}", "the word {w}, spoken", "a voice saying {w}",
    "{w}, said aloud", "the number {w}", "a recording of someone saying {w}", "the spoken number {w}",
    "a person saying the digit {w}", "{w}, spoken clearly",
]


def split_voices(split: str) -> list[tuple[str, str]]:
    """The (accent, variant) voices a split speaks with: test the held-out ones, train all others."""
    check_split(NAME, split, SPLITS)
    held = set(HELDOUT_VOICES)
    every = [(a, v) for a in speech.VOICES for v in speech.VARIANTS]
    return [av for av in every if (av in held) == (split == "test")]


def trim_silence(y: np.ndarray, threshold_db: float = SILENCE_DB) -> np.ndarray:
    """y without the leading and trailing samples quieter than threshold_db below its peak."""
    a = np.abs(y)
    loud = np.flatnonzero(a >= a.max() * 10 ** (threshold_db / 20))
    return y[loud[0]: loud[-1] + 1]


def fit_word(text: str, voice: str, variant: str, speed: int, pitch: int, samples: int = CLIP_SAMPLES) -> np.ndarray:
    """The trimmed word (or phrase), at most `samples` long (see the module docstring, steps 1 and 2; moving-digits-av
    and talking-shape fit theirs the same way)."""
    for _ in range(SPEED_TRIES + 1):
        y = trim_silence(speech.speak(text, voice, variant, speed, pitch, SAMPLE_RATE))
        if len(y) <= samples or speed >= MAX_SPEED:
            break
        speed = min(MAX_SPEED, int(np.ceil(speed * len(y) / samples * 1.1)))
    if len(y) > samples:
        y = y[:samples] * fade(samples, CUT_FADE)[::-1]
    edges = fade(len(y), EDGE_FADE) * fade(len(y), EDGE_FADE)[::-1]
    return (y * edges).astype(np.float32)


def render(p: dict) -> np.ndarray:
    """One clip from its parameters: the fitted word placed at its offset, at its level."""
    return placed(fit_word(p["text"], p["voice"], p["variant"], p["speed"], p["pitch"]), p["offset"], p["level_db"])


@register("dataset", NAME)
def spoken_digits(split: str = "train", n: int = 0, seed: int = 0, resolution: int = 0) -> MemoryDataset:
    """Spoken digits, one second each, with held-out test voices (see the module docstring);
    resolution is ignored. Raises speech.SpeechUnavailable when clips must be made and espeak-ng is missing."""
    voices = split_voices(split)
    n = n or DEFAULT_N[split]
    labels = balanced(n, 10, seed, NAME, split, "digit")
    who = balanced(n, len(voices), seed, NAME, split, "voice")
    params = []
    for y, v, rng in zip(labels.tolist(), who.tolist(), item_rngs(n, seed, NAME, split)):
        accent, variant = voices[v]
        params.append({"text": DIGIT_WORDS[y], "voice": accent, "variant": variant,
                       "speed": int(rng.integers(speech.SPEED_RANGE[0], speech.SPEED_RANGE[1] + 1)),
                       "pitch": int(rng.integers(speech.PITCH_RANGE[0], speech.PITCH_RANGE[1] + 1)),
                       "offset": round(float(rng.random()), 6),
                       "level_db": round(float(rng.uniform(*LEVEL_RANGE_DB)), 3)})
    audio = make_clips(NAME, VERSION, params, render)
    cap_rng = rng_for(seed, NAME, split, "captions")
    text = [TEMPLATES[cap_rng.integers(len(TEMPLATES))].format(w=DIGIT_WORDS[y]) for y in labels.tolist()]
    attrs = np.array([[y, speech.VOICES.index(p["voice"]), speech.VARIANTS.index(p["variant"])]
                      for y, p in zip(labels.tolist(), params)], dtype=np.int64).reshape(n, 3)
    info = sound_info(NAME, split, seed, DIGIT_WORDS, "digit",
                      attributes={"digit": list(DIGIT_WORDS), "accent": list(speech.VOICES),
                                  "variant": list(speech.VARIANTS)},
                      voices=[f"{a}+{v}" for a, v in voices], heldout_voices=[f"{a}+{v}" for a, v in HELDOUT_VOICES],
                      silence_db=SILENCE_DB, level_db=list(LEVEL_RANGE_DB),
                      speed_range=list(speech.SPEED_RANGE), pitch_range=list(speech.PITCH_RANGE))
    return MemoryDataset(info, {"audio": audio, "label": torch.from_numpy(labels), "text": text,
                                "attributes": torch.from_numpy(attrs),
                                "speaker": [f"{p['voice']}+{p['variant']}" for p in params]})


@register("dataset", NAME + "-words")
def spoken_digit_words(split: str = "train", n: int = 0, seed: int = 0, resolution: int = 0) -> MemoryDataset:
    """spoken-digits with `text` = the word said ("seven"): transcripts for a speech recogniser (the
    recognizer family's preset), where spoken-digits' own text is a caption about the clip ("someone
    says seven"). The same clips, voices and splits."""
    from dataclasses import replace

    ds = spoken_digits(split, n, seed, resolution)
    info = replace(ds.info, name=NAME + "-words")
    return MemoryDataset(info, {**ds.columns, "text": [DIGIT_WORDS[int(y)] for y in ds.columns["label"]]})
