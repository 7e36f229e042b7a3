"""Voice activity (mmgan.modalities.vad) on a synthetic recording of tones and silence."""
import numpy as np
import pytest

from mmgan.modalities.vad import Segmenter, VadOptions, split_speech

SR = 16000


def tone(s, f=440.0, level=0.3):
    t = np.arange(int(s * SR)) / SR
    return (level * np.sin(2 * np.pi * f * t)).astype(np.float32)


def quiet(s, noise=0.0, seed=0):
    return (noise * np.random.default_rng(seed).standard_normal(int(s * SR))).astype(np.float32)


def recording():
    # speech 0.5-1.1 and 1.2-1.6 (a 0.1-s gap: one segment), 2.6-3.1, then 10 s without a pause
    return np.concatenate([quiet(.5), tone(.6), quiet(.1), tone(.4), quiet(1.0), tone(.5), quiet(.8), tone(10),
                           quiet(.5)])


def spans(segs):
    return [(round(s.seconds[0], 2), round(s.seconds[1], 2)) for s in segs]


def test_cuts_at_pauses_with_hangover_padding_and_max_length():
    segs = split_speech(recording(), SR, VadOptions(max_seconds=4.0))
    assert spans(segs) == [(0.35, 1.75), (2.45, 3.25), (3.75, 7.9), (7.9, 11.9), (11.9, 14.05)]
    for s in segs:
        assert len(s.samples) == s.end - s.start
    assert all(a.end <= b.start for a, b in zip(segs, segs[1:]))                # never overlapping


def test_streaming_blocks_give_the_offline_segments():
    x = recording()
    for block in (160, 1600, 7919):
        seg, out = Segmenter(SR, VadOptions(max_seconds=4.0)), []
        for i in range(0, len(x), block):
            out += seg.push(x[i:i + block])
        out += seg.flush()
        assert spans(out) == spans(split_speech(x, SR, VadOptions(max_seconds=4.0)))
        assert len(seg.buf) < SR                               # it keeps no more audio than it may still need


def test_clicks_noise_floor_and_silence():
    x = np.concatenate([quiet(1, noise=1e-4), tone(.03), quiet(1, noise=1e-4), tone(.5, level=.1), quiet(1, 1e-4)])
    assert spans(split_speech(x, SR)) == [(1.87, 2.69)]     # the 30-ms click dropped, the noise no speech (20-ms frames)
    assert split_speech(np.zeros(SR, np.float32), SR) == []


def test_bad_options():
    with pytest.raises(ValueError, match="pad_ms"):
        VadOptions(pad_ms=500, min_pause_ms=300)
    with pytest.raises(ValueError, match="frame_ms"):
        VadOptions(max_seconds=0.01)
