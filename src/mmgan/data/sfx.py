"""sfx: procedurally synthesised sound effects, one second each, ten classes, numpy only.

Classes: kick, snare, hi-hat, chirp (rising), sweep (falling), dtmf (a random keypad key's tone
pair), noise burst (white, pink or brown), bell (inharmonic partials, exponential decay), clap,
laser zap. Every item draws its own parameters within its class (pitch, decay, length, noise,
...), starts at a random onset in the first 0.1 s and is peak-normalised to a random level in
[-6, -1] dBFS, so items of one class differ. Tones, partials and sweeps stay below 7.6 kHz (no aliasing).

Columns: audio (absolute WAV paths, cached under <cache>/sfx/), label (the class), text (a caption
varied per class, e.g. "a deep kick drum", "a bright bell rings", "the DTMF tone of key 5").
Splits train and test draw from independent random streams (nothing is shared between them).
"""
from __future__ import annotations

import numpy as np
import torch

from ..registry import register
from .base import MemoryDataset
from .clips import (CLIP_SAMPLES, LEVEL_RANGE_DB, SAMPLE_RATE, at_level, balanced, fade, item_rngs, make_clips,
                    sound_info)
from .common import check_split, rng_for

NAME = "sfx"
VERSION = 1                                  # bump when a class's synthesis changes
DEFAULT_N = {"train": 4000, "test": 800}
SPLITS = tuple(DEFAULT_N)
SR = SAMPLE_RATE
CLASSES = ["kick", "snare", "hi-hat", "chirp", "sweep", "dtmf", "noise burst", "bell", "clap", "laser zap"]
DTMF_KEYS = "123456789*0#"
DTMF_ROWS, DTMF_COLS = (697, 770, 852, 941), (1209, 1336, 1477)
KEY_NAMES = {"*": "star", "#": "hash"}
BELL_RATIOS = (0.56, 0.92, 1.19, 1.71, 2.0, 2.74, 3.0, 3.76, 4.07)   # Risset's bell partials

CAPTIONS = {
    "kick": ["a deep kick drum", "a punchy bass drum hit", "a kick drum", "a thumping kick", "an electronic kick drum"],
    "snare": ["a snare drum hit", "a crisp snare", "a snappy snare drum", "a rattling snare hit"],
    "hi-hat": ["{h} hi-hat", "{h} hi-hat cymbal", "the sound of {h} hi-hat", "{h} hat"],
    "chirp": ["a rising chirp", "a tone sweeping upward", "an upward chirp", "a bird-like rising chirp"],
    "sweep": ["a falling sweep", "a tone gliding down", "a descending sweep", "a downward whistle"],
    "dtmf": ["the DTMF tone of key {k}", "a phone keypad tone for {k}", "a touch-tone beep, key {k}",
             "someone presses {k} on a phone"],
    "noise burst": ["a burst of {c} noise", "a short hiss of {c} noise", "a {c} noise burst", "a blast of {c} noise"],
    "bell": ["a bright bell rings", "a bell chiming", "a ringing bell", "a small bell struck once"],
    "clap": ["a hand clap", "a sharp clap", "someone claps once", "an electronic clap"],
    "laser zap": ["a laser zap", "a sci-fi laser shot", "a retro laser blast", "the zap of a ray gun"],
}


def _t(seconds: float) -> np.ndarray:
    return np.arange(int(seconds * SR)) / SR


def _band(x: np.ndarray, low: float, high: float | None = None) -> np.ndarray:
    """x high-passed above low (and low-passed below high when given), in the frequency domain with
    4th-order Butterworth magnitudes (zero phase; the envelope is applied after filtering)."""
    f = np.maximum(np.fft.rfftfreq(len(x), 1 / SR), 1e-3)
    gain = 1 / np.sqrt(1 + (low / f) ** 8)
    if high:
        gain = gain / np.sqrt(1 + (f / high) ** 8)
    return np.fft.irfft(np.fft.rfft(x) * gain, len(x))


def _sweep(f0: float, f1: float, seconds: float) -> np.ndarray:
    """Phase of an exponential glide from f0 to f1 Hz over seconds."""
    f = f0 * (f1 / f0) ** (_t(seconds) / seconds)
    return 2 * np.pi * np.cumsum(f) / SR


def draw(label: int, rng: np.random.Generator) -> dict:
    """The parameters of one item of class CLASSES[label] (what its cache key hashes)."""
    u = lambda a, b: round(float(rng.uniform(a, b)), 4)  # noqa: E731
    p = {"class": CLASSES[label], "noise_seed": int(rng.integers(2 ** 31)), "onset": u(0, 0.1),
         "level_db": u(*LEVEL_RANGE_DB)}
    p.update({
        "kick": lambda: {"f_start": u(100, 180), "f_end": u(40, 60), "pitch_tau": u(0.03, 0.08),
                         "decay": u(0.1, 0.3), "click": u(0, 0.3)},
        "snare": lambda: {"tone": u(160, 250), "tone_decay": u(0.04, 0.1), "decay": u(0.1, 0.25), "noise": u(0.5, 0.8)},
        "hi-hat": lambda: {"open": bool(rng.random() < 0.5), "cutoff": u(5000, 7000), "decay": u(0.02, 0.07)},
        "chirp": lambda: {"f0": u(200, 800), "f1": u(1500, 5000), "length": u(0.2, 0.7)},
        "sweep": lambda: {"f0": u(2000, 6000), "f1": u(100, 500), "length": u(0.3, 0.8)},
        "dtmf": lambda: {"key": DTMF_KEYS[rng.integers(len(DTMF_KEYS))], "length": u(0.1, 0.5)},
        "noise burst": lambda: {"color": ["white", "pink", "brown"][rng.integers(3)], "length": u(0.1, 0.6),
                                "ramp": u(0.005, 0.03)},
        "bell": lambda: {"f0": u(300, 1200), "decay": u(0.3, 0.8)},
        "clap": lambda: {"bursts": int(rng.integers(3, 6)), "gap": u(0.008, 0.015), "decay": u(0.08, 0.2),
                         "centre": u(1000, 2500)},
        "laser zap": lambda: {"f0": u(2000, 5000), "f1": u(100, 400), "length": u(0.1, 0.3), "buzz": u(0.2, 0.6)},
    }[p["class"]]())
    return p


def synth(p: dict) -> np.ndarray:
    """The sound of one item, at most 0.9 s (render adds the fade-out, onset and level)."""
    noise = np.random.default_rng(p["noise_seed"]).standard_normal(int(0.9 * SR))
    c = p["class"]
    if c == "kick":
        t = _t(0.9)
        f = p["f_end"] + (p["f_start"] - p["f_end"]) * np.exp(-t / p["pitch_tau"])
        body = np.sin(2 * np.pi * np.cumsum(f) / SR) * np.exp(-t / p["decay"])
        return body + p["click"] * noise * np.exp(-t / 0.004)
    if c == "snare":
        t = _t(0.9)
        tone = np.sin(2 * np.pi * p["tone"] * t) * np.exp(-t / p["tone_decay"])
        return (1 - p["noise"]) * tone + p["noise"] * _band(noise, 1000, 7500) * np.exp(-t / p["decay"])
    if c == "hi-hat":
        decay = p["decay"] * (5 if p["open"] else 1)
        return _band(noise, p["cutoff"]) * np.exp(-_t(0.9) / decay)
    if c in ("chirp", "sweep"):
        n = int(p["length"] * SR)
        return np.sin(_sweep(p["f0"], p["f1"], p["length"])) * fade(n, 80) * fade(n, 400)[::-1]
    if c == "dtmf":
        i = DTMF_KEYS.index(p["key"])
        t = _t(p["length"])
        tone = np.sin(2 * np.pi * DTMF_ROWS[i // 3] * t) + np.sin(2 * np.pi * DTMF_COLS[i % 3] * t)
        return tone * fade(len(t), 80) * fade(len(t), 80)[::-1]
    if c == "noise burst":
        x = noise[: int(p["length"] * SR)]
        if p["color"] != "white":      # pink ~ 1/f, brown ~ 1/f^2: shape the spectrum
            spec = np.fft.rfft(x)
            f = np.maximum(np.fft.rfftfreq(len(x), 1 / SR), 20.0)
            x = np.fft.irfft(spec / (np.sqrt(f) if p["color"] == "pink" else f), len(x))
        ramp = int(p["ramp"] * SR)
        return x * fade(len(x), ramp) * fade(len(x), ramp)[::-1]
    if c == "bell":
        t = _t(0.9)
        x = np.zeros_like(t)
        for k, r in enumerate(BELL_RATIOS):
            if p["f0"] * r < 7600:
                x += np.sin(2 * np.pi * p["f0"] * r * t + k) * np.exp(-t * r / p["decay"]) / (1 + 0.3 * k)
        return x * fade(len(t), 16)
    if c == "clap":
        t = _t(0.9)
        last = p["gap"] * (p["bursts"] - 1)
        env = 0.7 * (t >= last) * np.exp(-np.maximum(t - last, 0) / p["decay"])    # the room's tail
        for b in range(p["bursts"]):
            tb = t - b * p["gap"]
            env = np.maximum(env, (tb >= 0) * np.exp(-np.maximum(tb, 0) / 0.004))
        return _band(noise, 0.6 * p["centre"], 1.6 * p["centre"]) * env
    if c == "laser zap":
        n = int(p["length"] * SR)
        phase = _sweep(p["f0"], p["f1"], p["length"])
        f = np.diff(phase, prepend=0) * SR / (2 * np.pi)
        x = np.sin(phase) + p["buzz"] * sum((f * h < 7600) * np.sin(h * phase) / h for h in (2, 3))
        return x * fade(n, 32) * np.exp(-_t(p["length"]) / p["length"])
    raise ValueError(f"unknown sfx class {c!r}; classes: {', '.join(CLASSES)}")


def render(p: dict) -> np.ndarray:
    """The clip: the sound faded out over its last 0.2 s (or quarter), at its onset and level."""
    x = synth(p)
    x = x * fade(len(x), min(int(0.2 * SR), len(x) // 4))[::-1]
    start = int(p["onset"] * SR)
    clip = np.zeros(CLIP_SAMPLES, np.float32)
    clip[start: start + len(x)] = x[: CLIP_SAMPLES - start]
    return at_level(clip, p["level_db"])


def caption(p: dict, rng: np.random.Generator) -> str:
    options = CAPTIONS[p["class"]]
    return options[rng.integers(len(options))].format(
        h="an open" if p.get("open") else "a closed", k=KEY_NAMES.get(p.get("key", ""), p.get("key", "")),
        c=p.get("color", ""))


@register("dataset", NAME)
def sfx(split: str = "train", n: int = 0, seed: int = 0, resolution: int = 0) -> MemoryDataset:
    """Synthesised sound effects, one second each (see the module docstring); resolution is ignored."""
    check_split(NAME, split, SPLITS)
    n = n or DEFAULT_N[split]
    labels = balanced(n, len(CLASSES), seed, NAME, split, "class")
    params = [draw(y, rng) for y, rng in zip(labels.tolist(), item_rngs(n, seed, NAME, split))]
    audio = make_clips(NAME, VERSION, params, render)
    cap_rng = rng_for(seed, NAME, split, "captions")
    info = sound_info(NAME, split, seed, CLASSES, "sound class", level_db=list(LEVEL_RANGE_DB))
    return MemoryDataset(info, {"audio": audio, "label": torch.from_numpy(labels),
                                "text": [caption(p, cap_rng) for p in params]})
