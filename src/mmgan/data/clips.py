"""One-second sound clips for the built-in sound datasets (spoken-digits, sfx, notes).

Every clip is a 16 kHz mono 16-bit PCM WAV of exactly CLIP_SAMPLES (16,000) samples, peak-normalised
to a level below 0 dBFS (never clipped). Clips are cached under <cache>/<dataset>/ (<cache> is
$MMGAN_CACHE, default .mmgan-cache, the rule of conditioning.features.cache_root), each named by a
hash of the parameters that make it: a second call only checks that the files exist. A file is
written under a temporary name and renamed, so no reader ever sees half a clip.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..modalities.sound import write_wav
from .base import DataInfo
from .common import rng_for

SAMPLE_RATE = 16000
CLIP_SAMPLES = SAMPLE_RATE                 # 1.0 s
LEVEL_RANGE_DB = (-6.0, -1.0)              # peak level of a clip, dBFS, drawn per item
PROGRESS_FROM = 200                        # show a progress bar when more new clips than this are made
WAV_BYTES = 44 + 2 * CLIP_SAMPLES          # header + PCM16 samples: a complete clip


def cache_dir(dataset: str) -> Path:
    """The absolute folder holding a dataset's clips."""
    return (Path(os.environ.get("MMGAN_CACHE") or ".mmgan-cache") / dataset).resolve()


def clip_path(folder: Path, dataset: str, version: int, params: dict) -> Path:
    key = hashlib.sha256(json.dumps([dataset, version, params], sort_keys=True).encode()).hexdigest()[:24]
    return folder / f"{key}.wav"


def at_level(y: np.ndarray, level_db: float) -> np.ndarray:
    """y scaled so that its peak sits at level_db dBFS (< 0: the clip stays inside [-1, 1])."""
    peak = float(np.abs(y).max()) if len(y) else 0.0
    if not np.isfinite(peak) or peak <= 0:
        raise ValueError("cannot normalise a silent or non-finite clip")
    return (y * (10 ** (level_db / 20) / peak)).astype(np.float32)


def fade(n: int, samples: int) -> np.ndarray:
    """A raised-cosine ramp from 0 to 1 over `samples` samples, then ones: length n."""
    ramp = np.ones(n, np.float32)
    k = min(samples, n)
    ramp[:k] = 0.5 - 0.5 * np.cos(np.pi * np.arange(k) / max(k, 1))
    return ramp


def placed(sound: np.ndarray, offset: float, level_db: float, samples: int = CLIP_SAMPLES) -> np.ndarray:
    """A clip of `samples` samples holding `sound` at `offset` (0: at the start, 1: ending at the end), its peak
    at level_db dBFS."""
    start = int(round(offset * (samples - len(sound))))
    clip = np.zeros(samples, np.float32)
    clip[start: start + len(sound)] = sound
    return at_level(clip, level_db)


def write_clip(path: Path, y: np.ndarray, samples: int | None = CLIP_SAMPLES) -> None:
    """Write one clip as 16 kHz mono PCM16 (temporary file, then rename). No fsync: this is a cache,
    and make_clips re-makes a file that is incomplete. samples: the clip's required length (None: any)."""
    y = np.asarray(y, dtype=np.float32)
    if (samples is not None and y.shape != (samples,)) or y.ndim != 1 or not y.size or not np.isfinite(y).all() \
            or np.abs(y).max() > 1:
        raise ValueError(f"a clip must be {samples or 'some'} finite samples in [-1, 1]; got shape {y.shape}, "
                         f"peak {np.abs(y).max() if y.size else 0:.3f}")
    write_wav(path, y, SAMPLE_RATE, durable=False)


def make_clips(dataset: str, version: int, params: Sequence[dict], render: Callable[[dict], np.ndarray],
               samples: int | None = CLIP_SAMPLES) -> list[str]:
    """The absolute paths of one clip per params dict, rendering (render(params) -> `samples` float
    samples in [-1, 1]; samples=None: clips of any length, e.g. sentences) only those not cached yet; a
    progress bar on stderr when more than PROGRESS_FROM are new. Bump `version` when render changes,
    so old clips are not reused."""
    complete = 44 + 2 * samples if samples is not None else 46      # header + PCM16 samples (at least one)
    folder = cache_dir(dataset)
    paths = [clip_path(folder, dataset, version, p) for p in params]
    todo = {}
    for path, p in zip(paths, params):
        if path not in todo and not (path.is_file() and path.stat().st_size >= complete):
            todo[path] = p
    if todo:
        from tqdm import tqdm

        for path, p in tqdm(todo.items(), total=len(todo), desc=dataset, unit="clip",
                            disable=len(todo) <= PROGRESS_FROM):
            write_clip(path, render(p), samples)
    return [str(p) for p in paths]


def balanced(n: int, k: int, seed: int, *keys) -> np.ndarray:
    """n values in range(k): each block of k consecutive items is a seeded permutation of range(k), so
    every value appears equally often (exactly, when n is a multiple of k) and the first m items are
    the same for every n >= m (a smaller dataset's clips are a cache hit for a larger one)."""
    blocks = [rng_for(seed, *keys, "block", b).permutation(k) for b in range(-(-n // k))]
    return np.concatenate(blocks)[:n].astype(np.int64) if blocks else np.zeros(0, np.int64)


def item_rngs(n: int, seed: int, *keys) -> list[np.random.Generator]:
    """One independent random stream per item (the same item i for every n)."""
    return [rng_for(seed, *keys, "item", i) for i in range(n)]


def sound_info(name: str, split: str, seed: int, class_names: list[str], label: str,
               attributes: dict | None = None, **extra) -> DataInfo:
    """The DataInfo of a built-in sound dataset: target `audio`, one 16,000-sample clip per item."""
    return DataInfo(name=name, kind="audio", shape=(CLIP_SAMPLES,), num_classes=len(class_names),
                    class_names=list(class_names), attributes=dict(attributes or {}),
                    extra={"sample_rate": SAMPLE_RATE, "seconds": CLIP_SAMPLES / SAMPLE_RATE, "split": split,
                           "seed": seed, "label": label, **extra})
