"""Speech quality of a re-synthesised clip against its original: the vocoder scores issue 21 names.

Each takes a reference x and a degraded copy y, mono float waveforms at the same rate, time-aligned
as copy synthesis leaves them (y = vocoder(mel(x))):

  mcd             mel-cepstral distortion in dB, (10 / ln 10) * sqrt(2 * sum_d (c_d - c'_d)^2) averaged over
                  the frames of a DTW path (Kubichek 1993). The cepstra here are the DCT-II (orthonormal) of
                  the natural log of the mel amplitude (40 Slaney bands, 25 ms Hann window, 5 ms hop),
                  coefficients c1..c13 (c0, the energy, excluded); each clip trimmed to its sound (40 dB below
                  its peak) and both floored 80 dB below the reference's loudest band, so digital silence
                  and a vocoder's noise floor look alike. An MFCC-style MCD: close to, not the same number
                  as, SPTK mel-cepstra (mcep) MCD in papers; compare rows measured here only.
  f0_rmse_cents   RMS of 1200 log2(f0_y / f0_x) over frames both call voiced (librosa.pyin, 60-500 Hz,
                  64 ms frames, 10 ms hop; frame-by-frame, copy synthesis keeps the timing)
  voicing_f1      F1 of y's voiced/unvoiced decisions against x's (pyin's)
  stoi            short-time objective intelligibility (pystoi; Taal et al. 2011), 0..1. STOI drops silent
                  frames, then needs 30 frames (384 ms) of sound; a spoken digit holds less, so `compare`
                  scores all clips of a set joined end to end (pystoi returns 1e-5 for too short a clip)
  pesq            wide-band PESQ (ITU-T P.862.2 through the `pesq` package), MOS-LQO 1.04..4.64; 16 kHz only

pesq and pystoi are optional (pip install 'mmgan[audio]'): `available()` says which are installed and
`compare` leaves the missing ones out. Nothing is downloaded.
Shape legend: s samples, t frames, d cepstral coefficients.
"""
from __future__ import annotations

import math
from typing import Mapping

import numpy as np
import torch

from ..modalities.sound import mel_power, stft_sizes

MCD_ORDER = 13                  # c1..c13
MCD_MELS = 40
MCD_TRIM_DB = 40.0
MCD_FLOOR_DB = 80.0
F0_MIN, F0_MAX = 60.0, 500.0
F0_FRAME, F0_HOP_MS = 1024, 10.0
MCD_WIN_MS, MCD_HOP_MS = 25.0, 5.0
MCD_SCALE = 10.0 / math.log(10.0) * math.sqrt(2.0)


def available() -> dict[str, bool]:
    """Which optional scorers are installed: {"stoi": ..., "pesq": ...}."""
    out = {}
    for name, module in (("stoi", "pystoi"), ("pesq", "pesq")):
        try:
            __import__(module)
            out[name] = True
        except ImportError:
            out[name] = False
    return out


def _wave(x) -> np.ndarray:
    a = np.asarray(x.detach().cpu() if torch.is_tensor(x) else x, dtype=np.float64).reshape(-1)
    if not np.isfinite(a).all():
        raise ValueError("the waveform holds NaN or infinite samples")
    return a


def _pair(x, y) -> tuple[np.ndarray, np.ndarray]:
    x, y = _wave(x), _wave(y)
    if len(x) != len(y):
        n = min(len(x), len(y))                   # a vocoder may return a few samples more or fewer
        x, y = x[:n], y[:n]
    if len(x) == 0:
        raise ValueError("empty waveforms")
    return x, y


# ---- mel-cepstral distortion ------------------------------------------------------------------------
def _trim(x: np.ndarray, hop: int, top_db: float) -> np.ndarray:
    """The span from the first to the last frame within top_db of the loudest frame (frame RMS)."""
    n = len(x) // hop
    if n == 0:
        return x
    rms = np.sqrt((x[: n * hop].reshape(n, hop) ** 2).mean(1)) + 1e-12
    loud = np.flatnonzero(20 * np.log10(rms / rms.max()) > -top_db)
    return x[loud[0] * hop:(loud[-1] + 1) * hop] if len(loud) else x


def mel_cepstrum(x: np.ndarray, sample_rate: int, floor: float | None = None) -> tuple[np.ndarray, float]:
    """((t, MCD_ORDER) cepstra c1..c13 of ln mel amplitude, the mel power's max); floor: the power floor."""
    from scipy.fft import dct

    n_fft, hop = stft_sizes(sample_rate, MCD_HOP_MS, MCD_WIN_MS)
    p = mel_power(torch.from_numpy(x).float(), sample_rate, n_fft, hop, MCD_MELS).double().numpy()   # (m, t)
    top = float(p.max())
    floor = top * 10 ** (-MCD_FLOOR_DB / 10) if floor is None else floor
    log_amp = 0.5 * np.log(np.maximum(p, max(floor, 1e-20)))
    return dct(log_amp, type=2, norm="ortho", axis=0)[1:MCD_ORDER + 1].T, top


def mcd(x, y, sample_rate: int = 16000) -> float:
    """Mel-cepstral distortion (dB) of y against x along a DTW path (librosa.sequence.dtw)."""
    x, y = _pair(x, y)
    hop = stft_sizes(sample_rate, MCD_HOP_MS, MCD_WIN_MS)[1]
    cx, top = mel_cepstrum(_trim(x, hop, MCD_TRIM_DB), sample_rate)
    cy, _ = mel_cepstrum(_trim(y, hop, MCD_TRIM_DB), sample_rate, floor=top * 10 ** (-MCD_FLOOR_DB / 10))
    dist = MCD_SCALE * np.sqrt(((cx[:, None] - cy[None]) ** 2).sum(-1))                   # (tx, ty) frame MCDs
    i, j = dtw_path(dist)
    return float(dist[i, j].mean())


def dtw_path(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The least-cost monotone path through a (tx, ty) cost matrix from (0, 0) to (tx-1, ty-1), steps
    (1, 0), (0, 1), (1, 1): (row indices, column indices). Rows are swept in numpy, a row's left-to-right
    dependency in a Python loop over columns (1-s clips: a few hundred frames)."""
    tx, ty = cost.shape
    acc = np.full((tx + 1, ty + 1), np.inf)
    acc[0, 0] = 0.0
    for a in range(1, tx + 1):
        diag_up = np.minimum(acc[a - 1, :-1], acc[a - 1, 1:]) + cost[a - 1]           # from (a-1, b-1) or (a-1, b)
        row = acc[a]
        for b in range(1, ty + 1):
            row[b] = min(diag_up[b - 1], row[b - 1] + cost[a - 1, b - 1])
    i, j, path = tx, ty, []
    while i > 0 and j > 0:
        path.append((i - 1, j - 1))
        step = int(np.argmin((acc[i - 1, j - 1], acc[i - 1, j], acc[i, j - 1])))
        i, j = (i - 1, j - 1) if step == 0 else (i - 1, j) if step == 1 else (i, j - 1)
    rows, cols = np.asarray(path[::-1]).T
    return rows, cols


# ---- pitch ------------------------------------------------------------------------------------------
def pitch(x, sample_rate: int = 16000) -> tuple[np.ndarray, np.ndarray]:
    """(f0 in Hz with NaN where unvoiced, voiced flags), one per 10 ms frame (librosa.pyin)."""
    import librosa

    f0, voiced, _ = librosa.pyin(_wave(x), fmin=F0_MIN, fmax=F0_MAX, sr=sample_rate, frame_length=F0_FRAME,
                                 hop_length=int(sample_rate * F0_HOP_MS / 1000))
    return f0, voiced.astype(bool)


def f0_scores(x, y, sample_rate: int = 16000, reference: tuple[np.ndarray, np.ndarray] | None = None) -> dict:
    """{"f0_rmse_cents", "voicing_f1", "voiced_frames"} of y against x; reference: pitch(x) when computed."""
    x, y = _pair(x, y)
    f0x, vx = reference if reference is not None else pitch(x, sample_rate)
    f0y, vy = pitch(y, sample_rate)
    n = min(len(vx), len(vy))
    f0x, vx, f0y, vy = f0x[:n], vx[:n], f0y[:n], vy[:n]
    both = vx & vy & np.isfinite(f0x) & np.isfinite(f0y)
    cents = 1200 * np.log2(f0y[both] / f0x[both])
    tp = float((vx & vy).sum())
    f1 = 2 * tp / (vx.sum() + vy.sum()) if vx.sum() + vy.sum() else 1.0                  # no voicing in either: agreed
    return {"f0_rmse_cents": float(np.sqrt(np.mean(cents ** 2))) if both.any() else float("nan"),
            "voicing_f1": float(f1), "voiced_frames": int(both.sum())}


# ---- intelligibility and quality (optional packages) ------------------------------------------------
def stoi(x, y, sample_rate: int = 16000) -> float:
    try:
        from pystoi import stoi as _stoi
    except ImportError:
        raise ImportError("STOI needs pystoi: pip install pystoi (or pip install 'mmgan[audio]')") from None
    x, y = _pair(x, y)
    return float(_stoi(x, y, sample_rate, extended=False))


def pesq(x, y, sample_rate: int = 16000) -> float:
    """Wide-band PESQ (MOS-LQO); NaN where PESQ finds no utterance in x."""
    try:
        from pesq import PesqError, pesq as _pesq
    except ImportError:
        raise ImportError("PESQ needs pesq: pip install pesq (or pip install 'mmgan[audio]')") from None
    if sample_rate != 16000:
        raise ValueError(f"wide-band PESQ takes 16 kHz clips, got {sample_rate} Hz")
    x, y = _pair(x, y)
    try:
        return float(_pesq(sample_rate, x, y, "wb"))
    except PesqError:
        return float("nan")


# ---- many clips -------------------------------------------------------------------------------------
def compare(reference, outputs: Mapping[str, object], sample_rate: int = 16000, f0: bool = True) -> dict[str, dict]:
    """Each output set against the reference clips, averaged over clips (NaNs, e.g. a clip with no voiced
    frame in common, left out of a mean): reference (n, s); outputs {name: (n, s)} ->
    {name: {"mcd", "f0_rmse_cents", "voicing_f1", "stoi", "pesq"}} (stoi / pesq where installed)."""
    ref = [_wave(r) for r in reference]
    have = available()
    refs_f0 = [pitch(r, sample_rate) for r in ref] if f0 else None
    out = {}
    for name, ys in outputs.items():
        ys = [_wave(y) for y in ys]
        if len(ys) != len(ref):
            raise ValueError(f"{name}: {len(ys)} clips for {len(ref)} references")
        rows: dict[str, list[float]] = {"mcd": [mcd(r, y, sample_rate) for r, y in zip(ref, ys)]}
        if f0:
            scores = [f0_scores(r, y, sample_rate, p) for r, y, p in zip(ref, ys, refs_f0)]
            rows["f0_rmse_cents"] = [s["f0_rmse_cents"] for s in scores]
            rows["voicing_f1"] = [s["voicing_f1"] for s in scores]
        if have["stoi"]:           # one score over the clips end to end: STOI needs >= 384 ms of sound, a digit is less
            n = [min(len(r), len(y)) for r, y in zip(ref, ys)]
            rows["stoi"] = [stoi(np.concatenate([r[:k] for r, k in zip(ref, n)]),
                                 np.concatenate([y[:k] for y, k in zip(ys, n)]), sample_rate)]
        if have["pesq"] and sample_rate == 16000:
            rows["pesq"] = [pesq(r, y, sample_rate) for r, y in zip(ref, ys)]
        out[name] = {k: float(np.nanmean(v)) if np.isfinite(v).any() else float("nan") for k, v in rows.items()}
    return out
