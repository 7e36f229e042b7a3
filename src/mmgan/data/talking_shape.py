"""talking-shape: a cartoon face whose mouth follows a short espeak-ng phrase, frame by frame (lip movement
from speech, the Wav2Lip task in miniature). 2.0 s clips: 24 RGB frames of 64x64 at 12 fps, and
32,000 samples at 16 kHz. Needs espeak-ng (mmgan.data.speech).

Phrases: 2, 3 or 4 words (uniform), each drawn uniformly (repeats allowed) from the 32 WORDS: colours,
shapes, digits and words with varied vowels and lip closures ("hello", "moon", "bob", "peep", "wow", ...).

Voices: as spoken-digits (spoken_digits.split_voices): a voice is an (accent, variant) pair of
speech.VOICES x speech.VARIANTS; `test` speaks only with the 17 spoken_digits.HELDOUT_VOICES, `train`
with the other 55 (balanced over items). Phrases may repeat across splits; voices never do. Each item
draws its speed (speech.SPEED_RANGE, 140-200 words per minute) and pitch (speech.PITCH_RANGE, 30-70).

Sound, fitted into exactly 2.0 s (CLIP_SAMPLES = 32,000 samples at 16 kHz):
  1. the phrase spoken as written, leading and trailing silence trimmed (spoken_digits.trim_silence:
     samples quieter than -40 dB below the peak), 2 ms fades at both ends;
  2. a phrase longer than MAX_SPEECH = 1.75 s (28,000 samples: at least 0.25 s, 3 frames, of silence
     in every clip) is re-synthesised faster (speed x its overshoot x 1.1, at most 3 tries, up to 450
     wpm), else cut to 1.75 s with a 10 ms fade-out;
  3. zero-padded to 32,000 samples with the phrase at a random (seeded) offset;
  4. the peak normalised to a level drawn in [-6, -1] dBFS (clips.LEVEL_RANGE_DB).
Clips are 16 kHz mono PCM16 WAVs cached under <cache>/talking-shape/ by a hash of their parameters
(clips.make_clips: atomic writes). A second load finds the files, reads them back and redraws the frames.

The viseme rule (mouth_track; the frames are drawn from the WAV as read back from the cache, so the
mouth a file implies is exactly the mouth drawn):
  - frame k (0..23) covers samples [round(k * 32000 / 24), round((k + 1) * 32000 / 24)): 16000 / 12 =
    1333.3 samples, 1333 or 1334;
  - loudness: the frame's RMS in dB relative to the loudest frame's RMS (0 dB at the loudest frame);
    opening = 0 at or below CLOSED_DB = -30 dB (a closed mouth), rising linearly to 1 at 0 dB;
  - vowel class of an open frame (opening > 0), from the Hann-windowed frame's power spectrum in three
    bands: LOW 200-550 Hz, MID 550-1100 Hz, HIGH 1800-3500 Hz:
      "open" ("ah", a high first formant)    when MID / (LOW + MID) >= OPEN_SHARE = 0.5,
      else "wide" ("ee", a high second formant) when HIGH / (LOW + MID + HIGH) >= WIDE_SHARE = 0.1,
      else "round" ("oo");
    a frame with opening 0 is "closed";
  - the mouth, a dark ellipse (in pixels at 64x64, whatever the resolution): height = max(CLOSED_HEIGHT,
    MOUTH_HEIGHT x opening x h), width = MOUTH_WIDTH x (w_closed + opening x (w - w_closed)), with
    MOUTH_HEIGHT = 11, MOUTH_WIDTH = 16, CLOSED_HEIGHT = 1.5 px and (h, w) from VISEMES:
      closed (0.0, 0.75): a 1.5 x 12 px line;  open (1.0, 1.0): up to 11 x 16;
      round (1.05, 0.7): up to 11.55 x 11.2;   wide (0.55, 1.3): up to 6.05 x 20.8.
    No smoothing and no lead: frame k's mouth depends on frame k's audio only.

Pictures (per item, from its own seeded stream; the same item i for every n):
  - background: plain BACKGROUND (228, 230, 236), light grey;
  - the face: an ellipse of horizontal radius R uniform in RADIUS_RANGE = [20, 23] px and vertical radius
    1.08 R, centred at (32, 33) + a per-clip offset uniform in [-3, 3] px on each axis, in one of the 6
    FACE_COLORS (yellow, orange, pink, green, blue, purple; balanced over items);
  - head bob: the whole face moves by a random walk, steps N(0, 0.4 px) per frame on each axis, clipped
    to [-1.5, 1.5] px (starts at 0 in frame 0); not tied to the sound;
  - two eyes: dark circles of radius 2.6 px at (+-0.36 R, -0.22 x 1.08 R) from the face centre; a blink
    starts in any frame with probability BLINK_P = 0.06 and closes both eyes (a 0.8 px tall line) for
    that frame and the next; not tied to the sound (free content, like the colour and the bob);
  - the mouth: the viseme rule's ellipse, dark red (70, 18, 32), centred 0.42 x 1.08 R below the face centre;
  - shapes are antialiased (coverage from the distance to each ellipse's edge); resolution > 0 resizes
    every frame (bilinear, antialiased).

Columns: video (float32 (N, 24, 3, 64, 64) in [-1, 1]), audio (absolute WAV paths, exactly 2.0 s), text
(a varied caption quoting the phrase: 'a green face saying "red moon two"'), speaker (the voice,
"accent+variant"), attributes (N, 1): the face colour index (info.attributes {"face": FACE_COLORS}).
There is no label column: the content that matters is the sound (a model conditions on `audio`); a
label = face colour would let a label-conditioned model look conditioned while ignoring the speech.
info.extra: fps, frames, sample_rate, seconds, voices, heldout_voices, words, word_counts, visemes,
mouth_px (MOUTH_HEIGHT, MOUTH_WIDTH, CLOSED_HEIGHT), closed_db, bands, open_share, wide_share,
max_speech_seconds, level_db, speed_range, pitch_range, and per item
"mouth" (24 [height, width] pairs in px at 64x64) and "phrases". MemoryDataset.subset does not subset
info.extra: a subset keeps its parent's per-item lists; mouth_track(ds.columns["audio"][i]) recomputes
an item's mouth from its sound (and gives the mouth any 2-s sound implies).
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from ..modalities.pixels import resize_clips
from ..modalities.sound import fit_length, read_wave
from ..registry import register
from . import speech
from .base import DataInfo, MemoryDataset
from .clips import LEVEL_RANGE_DB, SAMPLE_RATE, balanced, item_rngs, make_clips, placed
from .common import check_split, rng_for
from .spoken_digits import HELDOUT_VOICES, fit_word, split_voices

NAME = "talking-shape"
VERSION = 1                                  # bump when a clip's rendering changes
DEFAULT_N = {"train": 1500, "test": 300}
SPLITS = tuple(DEFAULT_N)

SECONDS = 2.0
FRAMES, FPS = 24, 12.0
SIDE = 64
CLIP_SAMPLES = int(SECONDS * SAMPLE_RATE)    # 32000
MAX_SPEECH = int(1.75 * SAMPLE_RATE)         # 28000: at least 0.25 s of silence per clip
WORD_COUNTS = (2, 3, 4)

WORDS = ["red", "green", "blue", "yellow", "pink", "moon", "star", "ball", "box", "one", "two", "three", "four",
         "five", "six", "seven", "eight", "nine", "zero", "hello", "bob", "peep", "wow", "pop", "boo", "map",
         "beep", "moo", "papa", "mama", "happy", "zoo"]

# the viseme rule (see the module docstring)
CLOSED_DB = -30.0
BANDS = {"low": (200.0, 550.0), "mid": (550.0, 1100.0), "high": (1800.0, 3500.0)}
OPEN_SHARE, WIDE_SHARE = 0.5, 0.1
VISEME_NAMES = ["closed", "open", "round", "wide"]
VISEMES = {"closed": (0.0, 0.75), "open": (1.0, 1.0), "round": (1.05, 0.7), "wide": (0.55, 1.3)}
MOUTH_HEIGHT, MOUTH_WIDTH, CLOSED_HEIGHT = 11.0, 16.0, 1.5

# pictures
BACKGROUND = (228, 230, 236)
FACE_COLORS = ["yellow", "orange", "pink", "green", "blue", "purple"]
FACE_RGB = {"yellow": (250, 210, 40), "orange": (245, 150, 60), "pink": (240, 155, 180),
            "green": (110, 195, 100), "blue": (100, 160, 235), "purple": (180, 130, 220)}
EYE_RGB, MOUTH_RGB = (30, 30, 40), (70, 18, 32)
CENTRE, CENTRE_JITTER = (32.0, 33.0), 3.0
RADIUS_RANGE, ASPECT = (20.0, 23.0), 1.08
BOB_STEP, BOB_MAX = 0.4, 1.5
EYE_X, EYE_Y, EYE_RADIUS, BLINK_HEIGHT = 0.36, 0.22, 2.6, 0.8
BLINK_P, BLINK_FRAMES = 0.06, 2
MOUTH_Y = 0.42

TEMPLATES = [
    '{a} {c} face saying "{p}"',
    'a cartoon {c} face says "{p}"',
    '"{p}", said by {a} {c} face',
    'a talking {c} face: "{p}"',
    '{a} {c} face with its mouth moving to "{p}"',
    'a cartoon {c} head speaking the words "{p}"',
    '{a} {c} face says the words "{p}"',
    'the {c} face speaks: "{p}"',
    '{a} {c} cartoon head saying "{p}" aloud',
    'lips moving to "{p}" on {a} {c} face',
]


def frame_bounds() -> np.ndarray:
    """The FRAMES + 1 sample boundaries of the video frames: frame k is samples [b[k], b[k + 1])."""
    return np.round(np.arange(FRAMES + 1) * CLIP_SAMPLES / FRAMES).astype(np.int64)


def _wave(audio) -> np.ndarray:
    """A clip's samples, CLIP_SAMPLES long (cut or zero-padded at the end): from a path or an array."""
    y = read_wave(audio, SAMPLE_RATE) if isinstance(audio, (str, Path)) else np.asarray(audio, np.float32)
    return fit_length(y, CLIP_SAMPLES)


@lru_cache(maxsize=None)
def _spectrum_tools(length: int) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    """The Hann window of a frame of `length` samples and the rfft bins of the LOW, MID and HIGH bands."""
    hz = np.fft.rfftfreq(length, 1 / SAMPLE_RATE)
    return np.hanning(length), tuple((hz >= lo) & (hz < hi) for lo, hi in BANDS.values())


def visemes(audio) -> tuple[np.ndarray, np.ndarray]:
    """The viseme rule's per-frame opening (FRAMES,) in [0, 1] and class (FRAMES,) int, an index into
    VISEME_NAMES (0 = closed), of a 2-s sound (a path or samples at 16 kHz)."""
    y = _wave(audio).astype(np.float64)
    b = frame_bounds()
    rms = np.array([np.sqrt(np.mean(y[b[k]: b[k + 1]] ** 2)) for k in range(FRAMES)])
    top = rms.max()
    if top <= 0:
        return np.zeros(FRAMES), np.zeros(FRAMES, np.int64)
    with np.errstate(divide="ignore"):
        db = 20 * np.log10(rms / top)
    opening = np.clip((db - CLOSED_DB) / -CLOSED_DB, 0.0, 1.0)
    classes = np.zeros(FRAMES, np.int64)
    for k in np.flatnonzero(opening > 0):
        f = y[b[k]: b[k + 1]]
        window, masks = _spectrum_tools(len(f))
        power = np.abs(np.fft.rfft(f * window)) ** 2
        low, mid, high = (power[m].sum() for m in masks)
        if mid >= OPEN_SHARE * (low + mid) and mid > 0:
            classes[k] = VISEME_NAMES.index("open")
        elif high >= WIDE_SHARE * (low + mid + high) and high > 0:
            classes[k] = VISEME_NAMES.index("wide")
        else:
            classes[k] = VISEME_NAMES.index("round")
    return opening, classes


def mouth_track(audio) -> np.ndarray:
    """(FRAMES, 2) float: the mouth's (height, width) in pixels at 64x64 per frame that a 2-s sound (a
    WAV path or 16 kHz samples; cut or zero-padded to 32,000) implies: the rule the frames are drawn by."""
    opening, classes = visemes(audio)
    hs = np.array([VISEMES[v][0] for v in VISEME_NAMES])[classes]
    ws = np.array([VISEMES[v][1] for v in VISEME_NAMES])[classes]
    w_closed = VISEMES["closed"][1]
    height = np.maximum(CLOSED_HEIGHT, MOUTH_HEIGHT * opening * hs)
    width = MOUTH_WIDTH * (w_closed + opening * (ws - w_closed))
    return np.stack([height, width], 1)


def fit_phrase(text: str, voice: str, variant: str, speed: int, pitch: int) -> np.ndarray:
    """The trimmed phrase, at most MAX_SPEECH samples (module docstring, steps 1 and 2)."""
    return fit_word(text, voice, variant, speed, pitch, MAX_SPEECH)


def render_audio(p: dict) -> np.ndarray:
    """One clip from its parameters: the fitted phrase at its offset, at its level."""
    return placed(fit_phrase(p["text"], p["voice"], p["variant"], p["speed"], p["pitch"]), p["offset"], p["level_db"],
                  CLIP_SAMPLES)


def plan(split: str = "train", n: int = 0, seed: int = 0) -> list[dict]:
    """Every item's drawn parameters, before any sound or pixels: phrase, voice, variant, speed, pitch,
    offset, level_db, face (colour index), centre (x, y), radius, bob (FRAMES, 2) and blinks (FRAMES,) bool."""
    check_split(NAME, split, SPLITS)
    voices = split_voices(split)
    n = n or DEFAULT_N[split]
    faces = balanced(n, len(FACE_COLORS), seed, NAME, split, "face")
    who = balanced(n, len(voices), seed, NAME, split, "voice")
    items = []
    for i, rng in enumerate(item_rngs(n, seed, NAME, split)):
        words = rng.choice(len(WORDS), size=int(rng.choice(WORD_COUNTS)))
        accent, variant = voices[int(who[i])]
        p = {"phrase": " ".join(WORDS[w] for w in words), "voice": accent, "variant": variant,
             "speed": int(rng.integers(speech.SPEED_RANGE[0], speech.SPEED_RANGE[1] + 1)),
             "pitch": int(rng.integers(speech.PITCH_RANGE[0], speech.PITCH_RANGE[1] + 1)),
             "offset": round(float(rng.random()), 6), "level_db": round(float(rng.uniform(*LEVEL_RANGE_DB)), 3),
             "face": int(faces[i]),
             "centre": (np.array(CENTRE) + rng.uniform(-CENTRE_JITTER, CENTRE_JITTER, size=2)).tolist(),
             "radius": float(rng.uniform(*RADIUS_RANGE))}
        bob = np.zeros((FRAMES, 2))
        steps = rng.normal(0.0, BOB_STEP, size=(FRAMES, 2))
        for t in range(1, FRAMES):
            bob[t] = np.clip(bob[t - 1] + steps[t], -BOB_MAX, BOB_MAX)
        starts = np.flatnonzero(rng.random(FRAMES) < BLINK_P)
        blinks = np.zeros(FRAMES, bool)
        for s in starts:
            blinks[s: s + BLINK_FRAMES] = True
        items.append({**p, "bob": bob, "blinks": blinks})
    return items


_GRID = np.arange(SIDE, dtype=np.float32) + 0.5          # pixel centres


def _cover(cx: np.ndarray, cy: np.ndarray, a, b, rows: slice = slice(None), cols: slice = slice(None)) -> np.ndarray:
    """(T, h, w) coverage in [0, 1] of axis-aligned ellipses centred (cx, cy) (T,) with radii a, b
    (scalars or (T,)) over the pixels [rows, cols]: 0.5 minus the first-order signed distance to the
    edge, clipped (antialiased)."""
    t = len(cx)
    a = np.broadcast_to(np.asarray(a, np.float32), (t,))[:, None, None]
    b = np.broadcast_to(np.asarray(b, np.float32), (t,))[:, None, None]
    u = (_GRID[cols][None, None, :] - np.asarray(cx, np.float32)[:, None, None]) / a
    v = (_GRID[rows][None, :, None] - np.asarray(cy, np.float32)[:, None, None]) / b
    r = np.sqrt(u * u + v * v)
    grad = np.sqrt((u / a) ** 2 + (v / b) ** 2) / np.maximum(r, 1e-6)    # |grad r|, at least 1 / max(a, b)
    grad = np.maximum(grad, 1.0 / np.maximum(a, b))
    return np.clip(0.5 - (r - 1.0) / grad, 0.0, 1.0)


def _window(cx: np.ndarray, cy: np.ndarray, a, b) -> tuple[slice, slice]:
    """The rows and columns that the ellipses of every frame can touch (one pixel of margin)."""
    a, b = float(np.max(a)), float(np.max(b))
    x0, x1 = int(np.floor(np.min(cx) - a - 1)), int(np.ceil(np.max(cx) + a + 1))
    y0, y1 = int(np.floor(np.min(cy) - b - 1)), int(np.ceil(np.max(cy) + b + 1))
    return slice(max(y0, 0), min(y1, SIDE)), slice(max(x0, 0), min(x1, SIDE))


def render_frames(p: dict, mouth: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """(FRAMES, 3, SIDE, SIDE) float32 in [-1, 1]: one clip's face from its plan and mouth track
    (FRAMES, 2), drawn into `out` when given."""
    rx = p["radius"]
    ry = rx * ASPECT
    cx = p["centre"][0] + p["bob"][:, 0]
    cy = p["centre"][1] + p["bob"][:, 1]
    img = np.empty((FRAMES, 3, SIDE, SIDE), np.float32) if out is None else out
    img[:] = (np.array(BACKGROUND, np.float32) / 255)[None, :, None, None]

    def paint(x, y, a, b, rgb):
        rows, cols = _window(x, y, a, b)
        part = img[:, :, rows, cols]
        part += _cover(x, y, a, b, rows, cols)[:, None] * (np.array(rgb, np.float32)[None, :, None, None] / 255 - part)

    paint(cx, cy, rx, ry, FACE_RGB[FACE_COLORS[p["face"]]])
    eye_h = np.where(p["blinks"], BLINK_HEIGHT / 2, EYE_RADIUS)
    for side in (-1, 1):
        paint(cx + side * EYE_X * rx, cy - EYE_Y * ry, EYE_RADIUS, eye_h, EYE_RGB)
    paint(cx, cy + MOUTH_Y * ry, mouth[:, 1] / 2, mouth[:, 0] / 2, MOUTH_RGB)
    img *= 2
    img -= 1
    return img


def caption(phrase: str, face: int, template: int) -> str:
    c = FACE_COLORS[face]
    return TEMPLATES[template].format(a="an" if c[0] in "aeiou" else "a", c=c, p=phrase)


@register("dataset", NAME)
def talking_shape(split: str = "train", n: int = 0, seed: int = 0, resolution: int = 0) -> MemoryDataset:
    """A cartoon face mouthing a spoken phrase (see the module docstring); resolution > 0 resizes the
    frames. Raises speech.SpeechUnavailable when clips must be made and espeak-ng is missing."""
    items = plan(split, n, seed)
    n = len(items)
    params = [{"text": p["phrase"], "voice": p["voice"], "variant": p["variant"], "speed": p["speed"],
               "pitch": p["pitch"], "offset": p["offset"], "level_db": p["level_db"]} for p in items]
    audio = make_clips(NAME, VERSION, params, render_audio, samples=CLIP_SAMPLES)
    video = torch.empty(n, FRAMES, 3, SIDE, SIDE)
    mouths = []
    for i, (p, path) in enumerate(zip(items, audio)):
        mouth = mouth_track(path)
        mouths.append(np.round(mouth, 4).tolist())
        render_frames(p, mouth, out=video[i].numpy())
    video = resize_clips(video, resolution)
    pick = rng_for(seed, NAME, split, "captions").integers(len(TEMPLATES), size=n)
    text = [caption(p["phrase"], p["face"], int(t)) for p, t in zip(items, pick)]
    attrs = torch.tensor([[p["face"]] for p in items], dtype=torch.int64).reshape(n, 1)
    voices = split_voices(split)
    info = DataInfo(name=NAME, kind="video", shape=tuple(video.shape[1:]), attributes={"face": list(FACE_COLORS)},
                    extra={"split": split, "seed": seed, "fps": FPS, "frames": FRAMES, "sample_rate": SAMPLE_RATE,
                           "seconds": CLIP_SAMPLES / SAMPLE_RATE,
                           "voices": [f"{a}+{v}" for a, v in voices],
                           "heldout_voices": [f"{a}+{v}" for a, v in HELDOUT_VOICES],
                           "words": list(WORDS), "word_counts": list(WORD_COUNTS),
                           "visemes": {k: list(v) for k, v in VISEMES.items()},
                           "mouth_px": {"height": MOUTH_HEIGHT, "width": MOUTH_WIDTH, "closed_height": CLOSED_HEIGHT},
                           "closed_db": CLOSED_DB, "bands": {k: list(v) for k, v in BANDS.items()},
                           "open_share": OPEN_SHARE, "wide_share": WIDE_SHARE,
                           "max_speech_seconds": MAX_SPEECH / SAMPLE_RATE, "level_db": list(LEVEL_RANGE_DB),
                           "speed_range": list(speech.SPEED_RANGE), "pitch_range": list(speech.PITCH_RANGE),
                           "mouth": mouths, "phrases": [p["phrase"] for p in items]})
    return MemoryDataset(info, {"video": video, "audio": audio, "text": text, "attributes": attrs,
                                "speaker": [f"{p['voice']}+{p['variant']}" for p in items]})
