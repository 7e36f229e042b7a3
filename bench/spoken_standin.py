"""A stand-in for the built-in `spoken-digits` data while it is being written (issue 21): "zero".."nine"
spoken by espeak-ng, trimmed and placed at a random offset in exactly 1 s of 16 kHz mono PCM16.

The train split draws every accent with the voice variants outside TEST_VARIANTS; the test split
uses only TEST_VARIANTS (voices never heard in training). Speed and pitch are drawn per clip.
WAVs are cached under $MMGAN_CACHE/spoken-standin/ (default .mmgan-cache/).

    from spoken_standin import standin_digits            (bench/ on sys.path)
    ds = standin_digits("test", n=1000)                  # a MemoryDataset: audio (paths), label
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import torch

from mmgan.data.base import DataInfo, MemoryDataset
from mmgan.data.speech import PITCH_RANGE, SPEED_RANGE, VARIANTS, VOICES, speak

CLASS_NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
TEST_VARIANTS = ("m7", "f5")
SECONDS, RATE = 1.0, 16000


def clip(word: str, params: dict, offset: float) -> np.ndarray:
    """One word as exactly 1 s: silence trimmed (-50 dB of the peak), then placed at `offset` (0..1) of
    the free room."""
    x = speak(word, sample_rate=RATE, **params)
    loud = np.flatnonzero(np.abs(x) > np.abs(x).max() * 10 ** (-50 / 20))
    x = x[loud[0]:loud[-1] + 1][: int(SECONDS * RATE)]
    out = np.zeros(int(SECONDS * RATE), np.float32)
    start = int(offset * (len(out) - len(x)))
    out[start:start + len(x)] = x
    return out


def standin_digits(split: str = "train", n: int = 2000, seed: int = 0, root: str | Path | None = None,
                   progress: bool = False) -> MemoryDataset:
    """n clips, labels cycling 0..9 (balanced), voices by split as the module says."""
    import soundfile as sf

    if split not in ("train", "test"):
        raise ValueError(f"split must be train or test, got {split!r}")
    root = Path(root or Path(os.environ.get("MMGAN_CACHE") or ".mmgan-cache") / "spoken-standin")
    variants = TEST_VARIANTS if split == "test" else tuple(v for v in VARIANTS if v not in TEST_VARIANTS)
    rng = np.random.default_rng([seed, 1 if split == "test" else 0])
    items = range(n)
    if progress:
        from tqdm import tqdm

        items = tqdm(items, desc=f"stand-in {split}", unit="clip")
    paths, labels = [], []
    for i in items:
        label = i % 10
        params = {"voice": str(rng.choice(VOICES)), "variant": str(rng.choice(variants)),
                  "speed": int(rng.integers(SPEED_RANGE[0], SPEED_RANGE[1] + 1)),
                  "pitch": int(rng.integers(PITCH_RANGE[0], PITCH_RANGE[1] + 1))}
        offset = float(rng.uniform(0.1, 0.9))
        key = hashlib.sha256(json.dumps([CLASS_NAMES[label], params, round(offset, 4)]).encode()).hexdigest()[:20]
        path = (root / split / f"{key}.wav").resolve()
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            sf.write(str(tmp), clip(CLASS_NAMES[label], params, offset), RATE, format="WAV", subtype="PCM_16")
            os.replace(tmp, path)
        paths.append(str(path))
        labels.append(label)
    info = DataInfo(f"spoken-digits-standin-{split}", "audio", (int(SECONDS * RATE),), num_classes=10,
                    class_names=list(CLASS_NAMES))
    return MemoryDataset(info, {"audio": paths, "label": torch.tensor(labels, dtype=torch.long)})
