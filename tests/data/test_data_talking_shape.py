"""talking-shape: a cartoon face whose mouth follows an espeak-ng phrase frame by frame.
The viseme rule, the plan and the drawing are tested without espeak-ng; tests that synthesize skip where
it is unavailable."""
import os

import numpy as np
import pytest
import soundfile as sf
import torch

from _sound_checks import files, sound_cache  # noqa: F401  (sound_cache is a fixture)
from mmgan.data import DataError, load_dataset, speech
from mmgan.data import spoken_digits as sd
from mmgan.data import talking_shape as ts
from mmgan.modalities.sound import read_wave

needs_espeak = pytest.mark.skipif(not speech.available(), reason="espeak-ng unavailable (pip install espeakng-loader)")
N = 12
SR = 16000


def tone(freqs, frames, amp=0.5):
    """A 2-s clip: a sum of sines at freqs (Hz) in the given video frames, silence elsewhere."""
    t = np.arange(ts.CLIP_SAMPLES) / SR
    y = sum(np.sin(2 * np.pi * f * t) for f in freqs) / len(freqs) * amp
    keep = np.zeros(ts.CLIP_SAMPLES, bool)
    b = ts.frame_bounds()
    for k in frames:
        keep[b[k]: b[k + 1]] = True
    return np.where(keep, y, 0).astype(np.float32)


def frame_rms(y):
    b = ts.frame_bounds()
    return np.array([np.sqrt(np.mean(np.asarray(y, np.float64)[b[k]: b[k + 1]] ** 2)) for k in range(ts.FRAMES)])


def mouth_pixels(clip):
    """Dark pixels per frame below the face's centre row, measured from the pixels of one clip (T, 3, H, W)
    at 64x64: the face is what differs from the background, the mouth what is dark inside its lower half."""
    rgb = (clip.float() + 1) * 127.5
    bg = torch.tensor(ts.BACKGROUND, dtype=torch.float32).view(3, 1, 1)
    out = []
    for f in rgb:
        rows = torch.nonzero(((f - bg).abs().sum(0) > 60).any(1)).flatten()
        centre = (int(rows.min()) + int(rows.max())) / 2
        dark = 0.299 * f[0] + 0.587 * f[1] + 0.114 * f[2] < 85
        out.append(int(dark[int(centre) + 2:].sum()))
    return np.array(out)


def test_constants_and_frames():
    assert (ts.FRAMES, ts.FPS, ts.SIDE, ts.CLIP_SAMPLES, ts.SECONDS) == (24, 12.0, 64, 32000, 2.0)
    assert ts.DEFAULT_N == {"train": 1500, "test": 300}
    b = ts.frame_bounds()
    assert len(b) == 25 and b[0] == 0 and b[-1] == 32000 and set(np.diff(b).tolist()) == {1333, 1334}
    assert all(b[k] == round(k * 16000 / 12) for k in range(25))


def test_viseme_rule():
    silent = np.zeros(ts.CLIP_SAMPLES, np.float32)
    o, c = ts.visemes(silent)
    assert (o == 0).all() and (c == 0).all()
    assert np.allclose(ts.mouth_track(silent), [[1.5, 12.0]] * 24)          # a closed mouth: a 1.5 x 12 px line
    names = ts.VISEME_NAMES
    _, c = ts.visemes(tone([750], range(3, 6)))                              # a high first formant: "ah"
    assert [names[k] for k in c[3:6]] == ["open"] * 3 and (c[:3] == 0).all() and (c[6:] == 0).all()
    _, c = ts.visemes(tone([300], range(3, 6)))                              # low energy only: "oo"
    assert [names[k] for k in c[3:6]] == ["round"] * 3
    _, c = ts.visemes(tone([300, 2500], range(3, 6)))                        # a high second formant: "ee"
    assert [names[k] for k in c[3:6]] == ["wide"] * 3
    # loudness: 0 dB (the loudest frame) fully open, -6 dB 0.8 open, -40 dB closed (below -30 dB)
    y = tone([750], [2]) + tone([750], [5]) * 10 ** (-6 / 20) + tone([750], [8]) * 10 ** (-40 / 20)
    o, c = ts.visemes(y)
    assert abs(o[2] - 1) < 1e-6 and abs(o[5] - 0.8) < 1e-3 and o[8] == 0 and c[8] == 0
    m = ts.mouth_track(y)
    assert np.allclose(m[2], [11.0, 16.0]) and np.allclose(m[5], [11.0 * 0.8, 16 * (0.75 + 0.8 * 0.25)], atol=1e-2)
    assert np.allclose(ts.mouth_track(y[:20000]), ts.mouth_track(np.pad(y[:20000], (0, 12000))))   # padded to 2 s


def test_plan_deterministic_voices_and_geometry():
    items = ts.plan("train", 120, seed=0)
    assert [p["phrase"] for p in items] == [p["phrase"] for p in ts.plan("train", 120, seed=0)]
    assert [p["phrase"] for p in items[:30]] == [p["phrase"] for p in ts.plan("train", 30, seed=0)]
    assert [p["phrase"] for p in items[:30]] != [p["phrase"] for p in ts.plan("train", 30, seed=1)]
    assert sorted(p["face"] for p in items) == sorted(list(range(6)) * 20)
    for p in items:
        words = p["phrase"].split()
        assert 2 <= len(words) <= 4 and set(words) <= set(ts.WORDS)
        assert np.abs(p["bob"]).max() <= ts.BOB_MAX and (p["bob"][0] == 0).all()
        ry = p["radius"] * ts.ASPECT
        assert 0 < p["centre"][1] - ry - ts.BOB_MAX and p["centre"][1] + ry + ts.BOB_MAX < 64
        assert 0 < p["centre"][0] - p["radius"] - ts.BOB_MAX and p["centre"][0] + p["radius"] + ts.BOB_MAX < 64
    assert {len(p["phrase"].split()) for p in items} == {2, 3, 4}
    assert any(p["blinks"].any() for p in items) and not all(p["blinks"].any() for p in items)
    train = {(p["voice"], p["variant"]) for p in items}
    test = {(p["voice"], p["variant"]) for p in ts.plan("test", 60)}
    assert train <= set(sd.split_voices("train")) and test <= set(sd.HELDOUT_VOICES) and not train & test
    with pytest.raises(DataError, match="valid splits: train, test"):
        ts.plan("valid", 2)


def test_drawing_mouth_area():
    p = ts.plan("train", 1)[0]
    mouth = np.array([[1.5, 12.0]] * 12 + [[11.0, 16.0]] * 12)
    f = ts.render_frames(p, mouth)
    assert f.shape == (24, 3, 64, 64) and f.dtype == np.float32 and f.min() >= -1 and f.max() <= 1
    bg = np.array(ts.BACKGROUND) / 127.5 - 1
    assert np.allclose(f[0, :, 0, 0], bg, atol=1e-6)                           # plain background in the corner
    dark = mouth_pixels(torch.from_numpy(f))
    assert (dark[:12] < 25).all() and (np.abs(dark[12:] - np.pi / 4 * 11 * 16) < 20).all()


def test_fit_phrase_resynthesizes_faster(monkeypatch):
    calls = []

    def speak(text, voice, variant, speed, pitch, sample_rate):   # 2.4 s at 150 wpm, shorter when faster
        calls.append(speed)
        return np.sin(np.arange(int(2.4 * 16000 * 150 / speed)) / 5).astype(np.float32)

    monkeypatch.setattr(speech, "speak", speak)
    y = ts.fit_phrase("red moon two", "en", "m1", 150, 50)
    assert calls[0] == 150 and calls[-1] > 150 * 2.4 / 1.75 and len(y) <= ts.MAX_SPEECH
    clip = ts.render_audio({"text": "red moon", "voice": "en", "variant": "m1", "speed": 150, "pitch": 50,
                            "offset": 1.0, "level_db": -3.0})
    assert clip.shape == (32000,) and abs(20 * np.log10(np.abs(clip).max()) + 3) < 1e-3 and clip[:4000].max() == 0


@pytest.fixture(scope="module")
def train(sound_cache):  # noqa: F811
    return load_dataset("talking-shape", n=N, seed=0)


@needs_espeak
def test_columns_shapes_and_files(train):
    assert len(train) == N and train.info.name == "talking-shape" and train.info.kind == "video"
    assert train.info.shape == (24, 3, 64, 64) and "label" not in train.columns
    v = train.columns["video"]
    assert v.shape == (N, 24, 3, 64, 64) and v.dtype == torch.float32 and v.min() >= -1 and v.max() <= 1
    assert (v[:, 1:] != v[:, :-1]).any(dim=(2, 3, 4)).float().mean() > 0.9       # frames are not static
    e = train.info.extra
    assert (e["fps"], e["frames"], e["sample_rate"], e["seconds"]) == (12.0, 24, 16000, 2.0)
    assert set(e["visemes"]) == {"closed", "open", "round", "wide"} and len(e["mouth"]) == N
    a = train.columns["attributes"]
    assert a.dtype == torch.int64 and a.shape == (N, 1) and train.info.attributes == {"face": ts.FACE_COLORS}
    assert sorted(a[:, 0].tolist()) == sorted(list(range(6)) * 2)
    for path, text, phrase, face in zip(train.columns["audio"], train.columns["text"], e["phrases"], a[:, 0].tolist()):
        assert f'"{phrase}"' in text and ts.FACE_COLORS[face] in text
        assert os.path.isabs(path)
        info = sf.info(path)
        assert (info.samplerate, info.channels, info.frames, info.subtype) == (16000, 1, 32000, "PCM_16")
        x, _ = sf.read(path, dtype="float32")
        assert -6.1 <= 20 * np.log10(np.abs(x).max()) <= -0.9 and np.abs(x[:16]).max() < 0.02
        assert np.abs(x[-16:]).max() < 0.02
    assert len(set(train.columns["text"])) == N
    assert set(train.columns["speaker"]) <= set(e["voices"])


@needs_espeak
def test_mouth_follows_the_sound_in_the_pixels(train):
    for i in range(N):
        path = train.columns["audio"][i]
        rms = frame_rms(read_wave(path))
        dark = mouth_pixels(train.columns["video"][i])
        assert np.corrcoef(dark, rms)[0, 1] > 0.8, (i, dark, rms)
        silent, loud = rms < rms.max() * 10 ** (-40 / 20), rms > rms.max() * 10 ** (-6 / 20)
        assert silent.any() and loud.any()
        assert (dark[silent] < 25).all() and (dark[loud] > 40).all()        # closed on silence, open on sound
        track = ts.mouth_track(path)
        assert np.allclose(track, train.info.extra["mouth"][i], atol=1e-3)
        o, _ = ts.visemes(path)
        assert (o[silent] == 0).all() and (o[loud] >= 0.8).all()


@needs_espeak
def test_test_voices_never_heard_in_training(train):
    test = load_dataset("talking-shape", split="test", n=6)
    assert test.columns["video"].shape == (6, 24, 3, 64, 64)
    assert set(test.columns["speaker"]) <= set(test.info.extra["voices"]) == {f"{a}+{v}" for a, v in sd.HELDOUT_VOICES}
    assert not set(train.info.extra["voices"]) & set(test.info.extra["voices"])
    assert not set(test.columns["speaker"]) & set(train.columns["speaker"])
    assert not set(test.columns["audio"]) & set(train.columns["audio"])


@needs_espeak
def test_deterministic_cached_and_resolution(train, sound_cache, monkeypatch):  # noqa: F811
    before = files(sound_cache)
    monkeypatch.setattr(ts, "render_audio", lambda p: pytest.fail("a second call synthesised a clip"))
    again = load_dataset("talking-shape", n=N, seed=0)
    assert torch.equal(again.columns["video"], train.columns["video"]) and again.info.version == train.info.version
    assert again.columns["audio"] == train.columns["audio"] and again.columns["text"] == train.columns["text"]
    assert files(sound_cache) == before
    small = load_dataset("talking-shape", n=4, seed=0, resolution=32)
    assert small.columns["video"].shape == (4, 24, 3, 32, 32) and small.info.shape == (24, 3, 32, 32)
    assert small.columns["audio"] == train.columns["audio"][:4] and small.info.extra["mouth"] == train.info.extra["mouth"][:4]
    monkeypatch.undo()
    other = load_dataset("talking-shape", n=3, seed=1)
    assert not set(other.columns["audio"]) & set(train.columns["audio"])
    assert not torch.equal(other.columns["video"], train.columns["video"][:3])
