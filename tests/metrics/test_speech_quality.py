"""Vocoder scores on synthetic voices with known answers: a copy scores perfectly, a pitch-shifted copy is off
by the shift, noise lowers STOI and PESQ."""
from __future__ import annotations

import numpy as np
import pytest

from mmgan.metrics import speech_quality as sq

SR = 16000


def voice(f0: float, seconds: float = 1.0, noise: float = 1e-3, seed: int = 0) -> np.ndarray:
    """A vowel-like buzz: nine harmonics of f0 with 4-Hz vibrato, a 0.66-s envelope, a faint noise floor."""
    t = np.arange(int(SR * seconds)) / SR
    env = np.clip(np.sin(2 * np.pi * 1.5 * t), 0, None) ** 0.5 * (t < 0.66)
    phase = 2 * np.pi * np.cumsum(f0 * (1 + 0.02 * np.sin(2 * np.pi * 4 * t))) / SR
    x = sum(np.sin(k * phase) / k for k in range(1, 10)) * env * 0.3
    return (x + noise * np.random.default_rng(seed).standard_normal(len(t))).astype(np.float32)


X = voice(150)
NOISY = X + 0.02 * np.random.default_rng(1).standard_normal(SR).astype(np.float32)


def test_mcd_is_zero_for_a_copy_and_ignores_a_delay():
    assert sq.mcd(X, X) == pytest.approx(0.0, abs=1e-9)
    assert sq.mcd(X, np.roll(X, 800)) == pytest.approx(0.0, abs=1e-6)        # 50 ms later: DTW aligns it
    assert sq.mcd(X, voice(150 * 2 ** (100 / 1200))) > 1.0
    assert sq.mcd(X, NOISY) > sq.mcd(X, voice(150 * 2 ** (100 / 1200)))


def test_dtw_path_follows_the_cheap_cells():
    cost = np.ones((4, 6))
    cost[[0, 1, 2, 3, 3, 3], [0, 1, 2, 3, 4, 5]] = 0
    rows, cols = sq.dtw_path(cost)
    assert cost[rows, cols].sum() == 0 and (rows[0], cols[0]) == (0, 0) and (rows[-1], cols[-1]) == (3, 5)
    assert (np.diff(rows) >= 0).all() and (np.diff(cols) >= 0).all()


def test_f0_error_is_the_pitch_shift_in_cents():
    same = sq.f0_scores(X, X)
    assert same["f0_rmse_cents"] == pytest.approx(0.0) and same["voicing_f1"] == 1.0 and same["voiced_frames"] > 20
    shifted = sq.f0_scores(X, voice(150 * 2 ** (100 / 1200)), reference=sq.pitch(X))
    assert shifted["f0_rmse_cents"] == pytest.approx(100, abs=15)
    assert sq.f0_scores(X, np.zeros(SR, np.float32))["voicing_f1"] == 0.0                  # silence: nothing voiced


@pytest.mark.skipif(not sq.available()["stoi"], reason="pystoi not installed")
def test_stoi_is_one_for_a_copy_and_lower_with_noise():
    long = np.concatenate([X, voice(120, seed=2)])                                         # STOI needs >= 384 ms of sound
    assert sq.stoi(long, long) == pytest.approx(1.0, abs=1e-6)
    assert sq.stoi(long, long + 0.05 * np.random.default_rng(3).standard_normal(len(long))) < 0.9


@pytest.mark.skipif(not sq.available()["pesq"], reason="pesq not installed")
def test_pesq_is_top_for_a_copy_and_lower_with_noise():
    assert sq.pesq(X, X) == pytest.approx(4.64, abs=0.01)
    assert sq.pesq(X, NOISY) < 2.5
    with pytest.raises(ValueError, match="16 kHz"):
        sq.pesq(X, X, sample_rate=8000)


def test_compare_averages_clips_and_lists_what_is_installed():
    out = sq.compare([X, X], {"copy": [X, X], "noisy": [NOISY, NOISY]}, f0=False)
    want = {"mcd"} | {k for k, v in sq.available().items() if v}
    assert set(out["copy"]) == want
    assert out["copy"]["mcd"] == 0.0 and out["noisy"]["mcd"] > 1.0
    if "stoi" in want:
        assert out["copy"]["stoi"] > 0.99 > out["noisy"]["stoi"]
    with pytest.raises(ValueError, match="1 clips for 2"):
        sq.compare([X, X], {"short": [X]})
    with pytest.raises(ValueError, match="NaN"):
        sq.mcd(X, np.full(SR, np.nan))
