"""notes: pitched one-second notes of six synthetic timbres over two octaves (an NSynth stand-in, offline).

Timbres: sine (slight vibrato), square and sawtooth (band-limited: harmonics below 7.6 kHz only),
pluck (Karplus-Strong string with an all-pass tuned delay), organ (additive drawbar harmonics),
bell (FM: an inharmonic modulator ratio and a decaying index). Pitches: MIDI 48..71, named C3..B4
(MIDI 60 = C4). Each note has an ADSR envelope (attack, decay, sustain level, release drawn per
item), a held length of 0.4..0.8 s, a detune of up to +-10 cents, an onset in the first 50 ms and a
velocity (0.5..1) that sets its peak level in [-6, -1] dBFS and the brightness of pluck and bell.

Label = timbre (num_classes 6); the pitch is the attribute `pitch` (attributes: pitch, timbre, in
that order; info.attributes names them). Columns: audio (absolute WAV paths, cached under
<cache>/notes/), label, attributes, text ("a plucked string playing A4", "an organ, C3", ...).
"""
from __future__ import annotations

import numpy as np
import torch

from ..registry import register
from .base import MemoryDataset
from .clips import (CLIP_SAMPLES, LEVEL_RANGE_DB, SAMPLE_RATE, at_level, balanced, fade, item_rngs, make_clips,
                    sound_info)
from .common import check_split, rng_for

NAME = "notes"
VERSION = 1                                  # bump when a timbre's synthesis changes
DEFAULT_N = {"train": 4000, "test": 800}
SPLITS = tuple(DEFAULT_N)
SR = SAMPLE_RATE
TOP = 7600.0                                 # highest partial, Hz (Nyquist is 8 kHz)
MIDI_LOW, MIDI_HIGH = 48, 71
NOTE_NAMES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]
PITCHES = [f"{NOTE_NAMES[m % 12]}{m // 12 - 1}" for m in range(MIDI_LOW, MIDI_HIGH + 1)]
TIMBRES = ["sine", "square", "sawtooth", "pluck", "organ", "bell"]
DRAWBARS = ((1, 1.0), (2, 0.8), (3, 0.6), (4, 0.5), (6, 0.3), (8, 0.25))   # (harmonic, largest weight)

PHRASES = {
    "sine": ["a sine tone", "a pure sine wave", "a soft sine tone"],
    "square": ["a square wave", "a hollow square-wave synth", "a chiptune square wave"],
    "sawtooth": ["a sawtooth synth", "a buzzy sawtooth wave", "a bright saw synth"],
    "pluck": ["a plucked string", "a guitar-like pluck", "a plucked harp string"],
    "organ": ["an organ", "an electric organ", "a drawbar organ"],
    "bell": ["an FM bell", "a bell-like FM tone", "a chiming bell"],
}
TEMPLATES = ["{t} playing {p}", "{t}, {p}", "{t} at {p}", "{p} played on {t}", "the note {p} on {t}",
             "{t} sounding {p}"]


def frequency(midi: int, cents: float = 0.0) -> float:
    return 440.0 * 2 ** ((midi - 69 + cents / 100) / 12)


def adsr(p: dict, n: int) -> np.ndarray:
    """Attack, decay to the sustain level, hold until the note's length, release: n samples."""
    a, d, r = (max(1, int(p[k] * SR)) for k in ("attack", "decay", "release"))
    hold = max(a + d, int(p["length"] * SR))
    env = np.concatenate([np.linspace(0, 1, a, endpoint=False), np.linspace(1, p["sustain"], d, endpoint=False),
                          np.full(hold - a - d, p["sustain"]), np.linspace(p["sustain"], 0, r), np.zeros(n)])
    return env[:n]


def _additive(f: float, t: np.ndarray, weights) -> np.ndarray:
    """Sum of harmonics k * f with weight w(k), only those below TOP. sin(k x) by the recurrence
    sin(k x) = 2 cos(x) sin((k - 1) x) - sin((k - 2) x): one multiply-add per harmonic, not one sin()."""
    x = 2 * np.pi * f * t
    two_cos, prev, cur = 2 * np.cos(x), np.zeros_like(x), np.sin(x)
    out = np.zeros_like(x)
    for k in range(1, int(TOP // f) + 1):
        w = weights(k)
        if w:
            out += w * cur
        prev, cur = cur, two_cos * cur - prev
    return out


def _pluck(f: float, brightness: float, decay: float, noise: np.ndarray, n: int) -> np.ndarray:
    """Karplus-Strong: a noise burst in a feedback delay of one period (two-point average + all-pass
    for the fraction), losing 60 dB in `decay` seconds."""
    from scipy.signal import lfilter               # here, not at the top: importing scipy.signal takes ~1 s

    period = SR / f - 0.5                                  # the averaging filter delays half a sample
    delay = int(np.floor(period - 0.1))
    frac = period - delay                                  # in [0.1, 1.1): a stable, flat all-pass
    c = (1 - frac) / (1 + frac)
    g = 10 ** (-3 / (decay * f))
    burst = noise[:delay] * brightness + np.convolve(noise[:delay], np.ones(4) / 4, "same") * (1 - brightness)
    x = np.zeros(n)
    x[:delay] = burst
    a = np.zeros(delay + 3)
    a[0], a[1] = 1.0, c
    a[delay:] -= 0.5 * g * np.array([c, 1 + c, 1])
    return lfilter([1.0, c], a, x)


def draw(timbre: int, pitch: int, rng: np.random.Generator) -> dict:
    """The parameters of one note (what its cache key hashes)."""
    u = lambda a, b: round(float(rng.uniform(a, b)), 4)  # noqa: E731
    velocity = u(0.5, 1.0)
    p = {"timbre": TIMBRES[timbre], "midi": MIDI_LOW + pitch, "cents": u(-10, 10), "velocity": velocity,
         "length": u(0.4, 0.8), "onset": u(0, 0.05), "attack": u(0.005, 0.04), "decay": u(0.05, 0.2),
         "sustain": u(0.5, 0.9), "release": u(0.05, 0.12), "noise_seed": int(rng.integers(2 ** 31)),
         "level_db": round(LEVEL_RANGE_DB[0] + (velocity - 0.5) / 0.5 * (LEVEL_RANGE_DB[1] - LEVEL_RANGE_DB[0]), 3)}
    if p["timbre"] == "organ":
        p["drawbars"] = [u(0.3, 1) * w if k > 1 else 1.0 for k, w in DRAWBARS]
    if p["timbre"] in ("pluck", "bell"):
        p["ring"] = u(0.4, 1.2)                            # seconds to fade by 60 dB (pluck), decay time (bell)
    if p["timbre"] == "bell":
        p["ratio"] = [1.4, 2.76, 3.5][rng.integers(3)]
    return p


def synth(p: dict) -> np.ndarray:
    """The note (without onset and level): 1 s minus the onset."""
    n = CLIP_SAMPLES - int(p["onset"] * SR)
    t = np.arange(n) / SR
    f = frequency(p["midi"], p["cents"])
    env = adsr(p, n)
    timbre = p["timbre"]
    if timbre == "sine":
        return np.sin(2 * np.pi * f * t + 0.003 * np.sin(2 * np.pi * 5 * t) * f / 5) * env
    if timbre == "square":
        return _additive(f, t, lambda k: (k % 2) / k) * env
    if timbre == "sawtooth":
        return _additive(f, t, lambda k: (-1) ** (k + 1) / k) * env
    if timbre == "organ":
        bars = dict(zip((k for k, _ in DRAWBARS), p["drawbars"]))
        return _additive(f, t, lambda k: bars.get(int(k), 0.0)) * env
    if timbre == "pluck":
        noise = np.random.default_rng(p["noise_seed"]).uniform(-1, 1, SR)
        string = _pluck(f, p["velocity"], p["ring"], noise, n)
        return string * fade(n, 16) * _released(p, n)
    if timbre == "bell":
        fm = f * p["ratio"]
        most = max(0.0, (TOP - f) / fm - 2)                # sidebands up to order index + 2 stay below TOP
        index = min(most, 1 + 3 * p["velocity"]) * np.exp(-t / p["ring"])
        return np.sin(2 * np.pi * f * t + index * np.sin(2 * np.pi * fm * t)) * np.exp(-t / p["ring"]) * fade(n, 32) \
            * _released(p, n)
    raise ValueError(f"unknown timbre {timbre!r}; timbres: {', '.join(TIMBRES)}")


def _released(p: dict, n: int) -> np.ndarray:
    """1 while the note is held, then a linear release to 0 (for timbres that ring on their own)."""
    hold, r = int(p["length"] * SR), max(1, int(p["release"] * SR))
    return np.clip(1 - (np.arange(n) - hold) / r, 0, 1)


def render(p: dict) -> np.ndarray:
    x = synth(p)
    clip = np.zeros(CLIP_SAMPLES, np.float32)
    clip[CLIP_SAMPLES - len(x):] = x
    return at_level(clip, p["level_db"])


@register("dataset", NAME)
def notes(split: str = "train", n: int = 0, seed: int = 0, resolution: int = 0) -> MemoryDataset:
    """Synthetic pitched notes, one second each (see the module docstring); resolution is ignored."""
    check_split(NAME, split, SPLITS)
    n = n or DEFAULT_N[split]
    timbres = balanced(n, len(TIMBRES), seed, NAME, split, "timbre")
    pitches = balanced(n, len(PITCHES), seed, NAME, split, "pitch")
    rngs = item_rngs(n, seed, NAME, split)
    params = [draw(tb, pc, rng) for tb, pc, rng in zip(timbres.tolist(), pitches.tolist(), rngs)]
    audio = make_clips(NAME, VERSION, params, render)
    cap_rng = rng_for(seed, NAME, split, "captions")
    text = []
    for tb, pc in zip(timbres.tolist(), pitches.tolist()):
        phrases = PHRASES[TIMBRES[tb]]
        t = phrases[cap_rng.integers(len(phrases))]
        text.append(TEMPLATES[cap_rng.integers(len(TEMPLATES))].format(t=t, p=PITCHES[pc]))
    info = sound_info(NAME, split, seed, TIMBRES, "timbre index (the pitch is attribute 'pitch')",
                      attributes={"pitch": list(PITCHES), "timbre": list(TIMBRES)},
                      midi=[MIDI_LOW, MIDI_HIGH], level_db=list(LEVEL_RANGE_DB))
    return MemoryDataset(info, {"audio": audio, "label": torch.from_numpy(timbres), "text": text,
                                "attributes": torch.from_numpy(np.stack([pitches, timbres], 1).reshape(n, 2))})
