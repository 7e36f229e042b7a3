"""Spoken captions with espeak-ng: synthesize one caption, or add an `audio` column to a dataset.

Engines, first that works:
  1. the espeakng-loader wheel (`pip install espeakng-loader`): libespeak-ng and its data, driven
     in-process through ctypes (fast: no process start per caption);
  2. an `espeak-ng` (or `espeak`) binary on PATH (`apt-get install espeak-ng`), via subprocess.
Output is mono 16-bit WAV at sample_rate (espeak renders at 22,050 Hz; we resample).
WAVs are cached by a hash of (text, voice, variant, speed, pitch, sample_rate): re-runs are fast.
"""
from __future__ import annotations

import ctypes
import hashlib
import io
import json
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from ..modalities.sound import write_wav
from .audio import resample
from .base import MemoryDataset
from .common import rng_for
from .errors import DataError
from .export import write_manifest
from .loader import list_datasets, load_dataset

VOICES = ("en", "en-us", "en-gb-x-rp", "en-gb-scotland", "en-029", "en-us-nyc")
VARIANTS = tuple(f"m{i}" for i in range(1, 8)) + tuple(f"f{i}" for i in range(1, 6))
ALIASES = {"en-gb": "en", "en-uk": "en"}     # espeak-ng's "en" is British English
SPEED_RANGE, PITCH_RANGE = (140, 200), (30, 70)
INSTALL_HINT = ("install espeak-ng: `pip install espeakng-loader` (ships the library and its voices) "
                "or `apt-get install espeak-ng`")


class SpeechUnavailable(RuntimeError):
    """Neither the espeakng-loader library nor an espeak-ng binary works here."""


def _voice_name(voice: str, variant: str | None) -> str:
    v = ALIASES.get(voice.lower(), voice)
    return f"{v}+{variant}" if variant else v


class _LibEngine:
    """libespeak-ng in-process (synchronous mode: espeak_Synth returns when the audio is complete)."""

    _CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)

    def __init__(self) -> None:
        import espeakng_loader

        lib = ctypes.CDLL(espeakng_loader.get_library_path())
        data_parent = str(Path(espeakng_loader.get_data_path()).parent)   # the folder holding espeak-ng-data
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_Synth.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
                                     ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
        # AUDIO_OUTPUT_SYNCHRONOUS = 2; espeakINITIALIZE_DONT_EXIT = 0x8000 (never exit() our process)
        rate = lib.espeak_Initialize(2, 0, data_parent.encode(), 0x8000)
        if rate <= 0:
            raise SpeechUnavailable(f"espeak_Initialize failed (data at {data_parent})")
        self.sample_rate = rate
        self._chunks: list[np.ndarray] = []
        self._cb = self._CALLBACK(self._collect)   # kept on self: ctypes callbacks must outlive their use
        lib.espeak_SetSynthCallback(self._cb)
        self.lib = lib

    def _collect(self, wav, n, events) -> int:
        if wav and n > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        return 0

    def synth(self, text: str, voice: str, speed: int, pitch: int) -> np.ndarray:
        if self.lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise ValueError(f"unknown espeak-ng voice {voice!r}; try one of {', '.join(VOICES)}, "
                             f"optionally with a variant such as +m3 or +f2")
        self.lib.espeak_SetParameter(1, int(speed), 0)     # espeakRATE, words per minute
        self.lib.espeak_SetParameter(3, int(pitch), 0)     # espeakPITCH, 0..100
        self._chunks = []
        data = text.encode("utf-8")
        # POS_CHARACTER = 1; flags: espeakCHARS_UTF8 = 1 | espeakENDPAUSE = 0x1000
        err = self.lib.espeak_Synth(data, len(data) + 1, 0, 1, 0, 0x1001, None, None)
        self.lib.espeak_Synchronize()
        if err != 0:
            raise RuntimeError(f"espeak_Synth failed with error {err} for text {text[:60]!r}")
        pcm = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)
        return pcm.astype(np.float32) / 32768.0


class _CliEngine:
    """An espeak-ng binary, text on stdin (so a caption starting with '-' is not read as an option)."""

    def __init__(self, exe: str) -> None:
        self.exe = exe
        self.sample_rate = 22050

    def synth(self, text: str, voice: str, speed: int, pitch: int) -> np.ndarray:
        import soundfile as sf

        r = subprocess.run([self.exe, "-v", voice, "-s", str(int(speed)), "-p", str(int(pitch)), "--stdout", "--stdin"],
                           input=text.encode("utf-8"), capture_output=True, timeout=60)
        if r.returncode != 0 or not r.stdout:
            raise RuntimeError(f"{self.exe} failed for voice {voice!r}: {r.stderr.decode(errors='replace')[:300]}")
        x, self.sample_rate = sf.read(io.BytesIO(r.stdout), dtype="float32", always_2d=True)
        return x.mean(axis=1)


_ENGINE = None
_LOCK = threading.Lock()   # libespeak-ng has global state: one synthesis at a time


def _engine():
    global _ENGINE
    if _ENGINE is None:
        errors = []
        try:
            _ENGINE = _LibEngine()
        except Exception as e:  # ImportError, OSError loading the library, init failure
            errors.append(f"espeakng-loader: {type(e).__name__}: {e}")
            exe = shutil.which("espeak-ng") or shutil.which("espeak")
            if exe:
                _ENGINE = _CliEngine(exe)
            else:
                errors.append("no espeak-ng binary on PATH")
                raise SpeechUnavailable(f"speech synthesis unavailable ({'; '.join(errors)}); {INSTALL_HINT}") from None
    return _ENGINE


def available() -> bool:
    """True if synthesize() can work here (for tests and optional features)."""
    try:
        with _LOCK:
            _engine()
        return True
    except SpeechUnavailable:
        return False


def speak(text: str, voice: str = "en", variant: str | None = None, speed: int = 175, pitch: int = 50,
          sample_rate: int = 16000) -> np.ndarray:
    """Synthesize text to float32 mono samples at sample_rate."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"nothing to say: text is {text!r}")
    with _LOCK:
        eng = _engine()
        x = eng.synth(text, _voice_name(voice, variant), speed, pitch)
        sr = eng.sample_rate
    if len(x) == 0:
        raise RuntimeError(f"espeak-ng produced no audio for {text[:60]!r} (voice {voice}, variant {variant})")
    return resample(x, sr, sample_rate)


def synthesize(text: str, path: str | Path, voice: str = "en", variant: str | None = None, speed: int = 175,
               pitch: int = 50, sample_rate: int = 16000) -> Path:
    """Speak text into a mono 16-bit WAV at path (atomic write); returns the path."""
    y = speak(text, voice, variant, speed, pitch, sample_rate)
    # write then rename: never a half file under the final name. No fsync: these are caches, and an
    # fsync per caption would cost more than the synthesis; cached_wav re-makes a file left empty.
    return write_wav(path, y, sample_rate, durable=False)


VOICE_KEYS = ("voice", "variant", "speed", "pitch")


def check_voices(voices: Sequence[Mapping]) -> list[dict]:
    """A voice pool as plain dicts, checked: each names an accent (`voice`) and optionally a `variant`,
    `speed` (words per minute) and `pitch` (0..100); what it leaves out is drawn per item."""
    if not voices:
        raise ValueError("a voice pool needs at least one voice")
    out = []
    for i, v in enumerate(voices):
        extra = set(v) - set(VOICE_KEYS)
        if "voice" not in v or extra:
            raise ValueError(f"voice {i} ({dict(v)}): needs 'voice' and may have {', '.join(VOICE_KEYS[1:])}"
                             + (f"; unknown keys {sorted(extra)}" if extra else ""))
        if "pitch" in v and not 0 <= int(v["pitch"]) <= 100:
            raise ValueError(f"voice {i} ({dict(v)}): pitch must be in 0..100")
        out.append(dict(v))
    return out


def voice_params(seed: int, index: int, k: int = 0, voices: Sequence[Mapping] | None = None) -> dict:
    """Deterministic varied voice for item index, variant k: accent, voice variant, speed and pitch.

    voices: a pool (check_voices) to draw from instead of every accent and variant; a pool entry's
    missing keys are drawn as without a pool."""
    rng = rng_for(seed, "speech", index, k)
    drawn = {"voice": VOICES[rng.integers(len(VOICES))], "variant": VARIANTS[rng.integers(len(VARIANTS))],
             "speed": int(rng.integers(SPEED_RANGE[0], SPEED_RANGE[1] + 1)),
             "pitch": int(rng.integers(PITCH_RANGE[0], PITCH_RANGE[1] + 1))}
    if voices is None:
        return drawn
    return {**drawn, **voices[rng.integers(len(voices))]}


def cached_wav(text: str, cache_dir: Path, params: dict, sample_rate: int = 16000) -> Path:
    key = hashlib.sha256(json.dumps([text, params, sample_rate], sort_keys=True).encode()).hexdigest()[:24]
    path = cache_dir / f"{key}.wav"
    if not path.is_file() or path.stat().st_size <= 44:   # 44 bytes: a WAV header without samples
        synthesize(text, path, sample_rate=sample_rate, **params)
    return path


def add_speech(source, out_dir: str | Path, seed: int = 0, variants_per_caption: int = 1,
               sample_rate: int = 16000, split: str | None = None, progress: bool = False,
               voices: Sequence[Mapping] | None = None):
    """Speak every caption with a varied voice and fill the `audio` column.

    source a MemoryDataset: WAVs go into out_dir (a cache); returns the new dataset.
    source a path or built-in name: loaded (split defaults to "all" for paths, "train" for names),
    WAVs go into out_dir/audio and the result is written there with write_manifest; returns the
    manifest path. variants_per_caption > 1 repeats each item that many times, each with another voice.
    progress shows a progress bar (tqdm) while synthesizing. voices: a pool to draw each item's voice
    from (check_voices; e.g. the five speakers of a small recording set); unset, every accent and variant.
    """
    if variants_per_caption < 1:
        raise ValueError(f"variants_per_caption must be >= 1, got {variants_per_caption}")
    voices = None if voices is None else check_voices(voices)
    if isinstance(source, MemoryDataset):
        return _speak_dataset(source, Path(out_dir), seed, variants_per_caption, sample_rate, progress, voices)

    name = str(source)
    split = split or ("train" if name.lower() in list_datasets() else "all")
    ds = _speak_dataset(load_dataset(name, split=split), Path(out_dir) / "audio", seed, variants_per_caption,
                        sample_rate, progress, voices)
    return write_manifest(ds, out_dir)


def _speak_dataset(ds: MemoryDataset, cache_dir: Path, seed: int, k: int, sample_rate: int,
                   progress: bool = False, voices: list[dict] | None = None) -> MemoryDataset:
    if not ds.has("text"):
        raise DataError(f"dataset {ds.info.name!r} has no 'text' column to speak; columns: {list(ds.columns)}")
    cache_dir.mkdir(parents=True, exist_ok=True)
    if k > 1:
        import torch

        ds = ds.subset(torch.arange(len(ds)).repeat_interleave(k))
    items = enumerate(ds.columns["text"])
    if progress:
        from tqdm import tqdm

        items = tqdm(items, total=len(ds), desc="speech", unit="caption")
    audio = [str(cached_wav(t, cache_dir, voice_params(seed, i // k, i % k, voices), sample_rate).resolve())
             for i, t in items]
    from dataclasses import replace

    meta = {"seed": seed, "variants": k} | ({"voices": voices} if voices is not None else {})
    info = replace(ds.info, version="", extra={**ds.info.extra, "speech": meta})
    return MemoryDataset(info, {**ds.columns, "audio": audio})


def with_speech(ds: MemoryDataset, cache_dir: str | Path, seed: int = 0, progress: bool = False,
                voices: Sequence[Mapping] | None = None) -> MemoryDataset:
    """ds with its captions spoken into `audio` (one varied voice per item, from `voices` when given;
    WAVs cached in cache_dir)."""
    return add_speech(ds, cache_dir, seed=seed, progress=progress, voices=voices)
