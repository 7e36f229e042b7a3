"""load_audio: any WAV/FLAC/OGG (what libsndfile reads) to float32 mono at one sample rate.

Resampling uses scipy's polyphase filter (resample_poly): exact rational ratios, and no slow
librosa/numba import on the training path.
"""
from __future__ import annotations

from functools import lru_cache
from math import gcd
from pathlib import Path

import numpy as np

from .errors import AudioError


@lru_cache(maxsize=16)
def _lowpass(up: int, down: int) -> np.ndarray:
    """resample_poly's own default filter, designed once per ratio: designing it (thousands of taps
    for 22,050 -> 16,000 Hz) costs ~7x more than filtering a caption."""
    from scipy.signal import firwin

    max_rate = max(up, down)
    taps = firwin(2 * 10 * max_rate + 1, 1.0 / max_rate, window=("kaiser", 5.0))
    taps.setflags(write=False)
    return taps


def resample(x: np.ndarray, sr_from: int, sr_to: int) -> np.ndarray:
    """Resample a 1-D float signal between sample rates (polyphase, anti-aliased)."""
    if sr_from == sr_to or len(x) == 0:
        return x.astype(np.float32, copy=False)
    from scipy.signal import resample_poly

    g = gcd(int(sr_from), int(sr_to))
    up, down = int(sr_to) // g, int(sr_from) // g
    return resample_poly(x, up, down, window=_lowpass(up, down)).astype(np.float32)


def load_audio(path: str | Path, sample_rate: int = 16000, max_seconds: float | None = None) -> np.ndarray:
    """Read an audio file, mix to mono, resample to sample_rate, cut to max_seconds; float32 (T,)."""
    import soundfile as sf

    p = Path(path)
    if not p.is_file():
        raise AudioError(f"audio file not found: {p}")
    try:
        # read only what is needed when a cap is given (long files, short clips)
        frames = -1
        if max_seconds is not None:
            frames = int(np.ceil(max_seconds * sf.info(str(p)).samplerate)) + 1
        x, sr = sf.read(str(p), frames=frames, dtype="float32", always_2d=True)
    except Exception as e:  # LibsndfileError, RuntimeError, ...
        raise AudioError(f"cannot read audio file {p} ({type(e).__name__}: {e}); "
                         "supported: WAV, FLAC, OGG and what libsndfile reads") from None
    if x.shape[0] == 0:
        raise AudioError(f"audio file {p} is empty (0 frames)")
    y = resample(x.mean(axis=1), sr, sample_rate)
    if max_seconds is not None:
        y = y[: int(round(max_seconds * sample_rate))]
    return np.ascontiguousarray(y, dtype=np.float32)
