"""load_audio: any WAV/FLAC/OGG (what libsndfile reads) to float32 mono at one sample rate, raising the
data layer's AudioError (the reading itself is mmgan.modalities.sound's, shared with the audio codec)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..modalities.sound import WaveError, read_wave, resample  # noqa: F401  (resample re-exported)
from .errors import AudioError


def load_audio(path: str | Path, sample_rate: int = 16000, max_seconds: float | None = None) -> np.ndarray:
    """Read an audio file, mix to mono, resample to sample_rate, cut to max_seconds; float32 (T,)."""
    try:
        return read_wave(path, sample_rate, max_seconds)
    except WaveError as e:
        raise AudioError(str(e)) from None
