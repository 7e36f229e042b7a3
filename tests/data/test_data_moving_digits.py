"""moving-digits-av: MNIST digits bouncing in 64x64 frames, every wall hit spoken at its frame.
The motion rules are tested without espeak-ng; tests that synthesize skip where it is unavailable."""
import numpy as np
import pytest
import soundfile as sf
import torch

from _sound_checks import files, sound_cache  # noqa: F401  (sound_cache is a fixture)
from mmgan.data import DataError, load_dataset, speech
from mmgan.data import moving_digits as md
from mmgan.data import spoken_digits as sd
from mmgan.data.common import hash_split
from mmgan.data.digits import DIGIT_WORDS, _raw

needs_espeak = pytest.mark.skipif(not speech.available(), reason="espeak-ng unavailable (pip install espeakng-loader)")
N = 24
SPF = md.SAMPLES_PER_FRAME


def test_constants():
    assert (md.FRAMES, md.FPS, md.SIDE, md.SAMPLES_PER_FRAME, md.CLIP_SAMPLES) == (16, 8.0, 64, 2000, 32000)
    assert md.DEFAULT_N == {"train": 2000, "test": 400} and len(md.DIRECTIONS) == 8 and md.WALLS[2] == "top"
    assert md.after_bounce(md.DIRECTIONS.index("up right"), 2) == md.DIRECTIONS.index("down right")
    assert md.after_bounce(md.DIRECTIONS.index("up right"), 1) == md.DIRECTIONS.index("up left")
    assert md.after_bounce(md.DIRECTIONS.index("left"), 0) == md.DIRECTIONS.index("right")
    assert md.motion_caption(1, 4, 0, 0) == "a one moves left, then bounces right"
    assert md.motion_caption(8, 2, 2, 2) == "an eight moving up hits the top and heads down"


def test_bounce_and_hit_frame_rule():
    # right from x = 33 at 4 px/frame: crosses 36 after 3 of its 4 px, so it is nearest the wall at frame 1
    pos, hits = md.simulate([33.0, 10.0], 0, 4.0)
    assert pos[:3, 0].tolist() == [33.0, 35.0, 31.0] and (pos[:, 1] == 10).all()
    assert hits[0] == (1, 1, 2.0) and hits[1][:2] == (10, 0) and md.valid(hits)   # then the left wall
    pos, hits = md.simulate([35.0, 10.0], 0, 4.0)     # 1 px from the wall: nearest at frame 0, the start
    assert pos[1, 0] == 33.0 and hits[0][:2] == (0, 1) and not md.valid(hits)
    pos, hits = md.simulate([10.0, 3.0], 2, 4.0)      # up: the top wall after 3 px, frame 1
    assert hits[0][:2] == (1, 2) and pos[1, 1] == 1.0
    assert not md.valid([(3, 0, 2.0), (7, 2, 2.0)]) and md.valid([(3, 0, 2.0), (8, 2, 2.0)])   # MIN_GAP = 5
    assert not md.valid([(3, 0, 0.2)]) and not md.valid([]) and not md.valid([(15, 0, 2.0)])


def test_plan_rules_deterministic_and_splits():
    items = md.plan("train", 200, seed=0)
    assert [p["hits"] for p in items] == [p["hits"] for p in md.plan("train", 200, seed=0)]
    assert [p["hits"] for p in items[:50]] == [p["hits"] for p in md.plan("train", 50, seed=0)]
    assert [p["start"] for p in items[:20]] != [p["start"] for p in md.plan("train", 20, seed=1)]
    assert sorted(p["label"] for p in items) == sorted(list(range(10)) * 20)
    assert sorted(p["direction"] for p in items) == sorted(list(range(8)) * 25)
    for p in items:
        h = p["hits"]
        assert len(h) >= 1 and h[0] >= 1 and h[-1] <= md.FRAMES - 2 and all(b - a >= md.MIN_GAP for a, b in zip(h, h[1:]))
        assert md.SPEED_RANGE[0] <= p["speed"] <= md.SPEED_RANGE[1] and len(p["walls"]) == len(h)
        assert p["positions"].shape == (16, 2) and p["positions"].min() >= 0 and p["positions"].max() <= md.ROOM
        step = np.linalg.norm(np.diff(p["positions"], axis=0), axis=1)
        assert step.max() <= p["speed"] + 1e-9                    # never faster than the speed (bounces shorten a step)
    _, y = _raw("mnist")
    train, test = md.plan("train", 100), md.plan("test", 100)
    assert {p["source"] for p in train} <= set(md.mnist_pool("train").tolist())
    assert {p["source"] for p in test} <= set(md.mnist_pool("test").tolist())
    assert set(md.mnist_pool("test").tolist()) == set(hash_split("mnist", 5000, "test").tolist())
    assert not set(md.mnist_pool("test").tolist()) & set(md.mnist_pool("train").tolist())
    assert all(y[p["source"]] == p["label"] for p in train + test)
    with pytest.raises(DataError, match="valid splits: train, test"):
        md.plan("all", 2)


def test_voices_held_out():
    train, test = md.split_voices("train"), md.split_voices("test")
    assert len(train) == 8 and len(test) == 3 and not set(train) & set(test)
    assert set(test) <= set(sd.HELDOUT_VOICES) and set(train) <= set(sd.split_voices("train"))
    assert {p["voice"] + "+" + p["variant"] for p in md.plan("test", 30)} == {f"{a}+{v}" for a, v in test}


def test_render_frames_bilinear_inside():
    x, _ = _raw("mnist")
    pos = np.array([[0.0, 0.0], [36.0, 36.0], [10.25, 20.5], [35.9, 0.1]])
    f = md.render_frames(x[0], pos)
    assert f.shape == (4, 64, 64) and f.dtype == np.float32 and f.min() >= -1 and f.max() <= 1
    assert np.array_equal(f[0, :28, :28], x[0]) and (f[0, 28:] == -1).all() and (f[0, :, 28:] == -1).all()
    assert np.array_equal(f[1, 36:, 36:], x[0])
    ink = (f + 1) / 2
    assert np.allclose(ink.sum((1, 2)), ((x[0] + 1) / 2).sum(), rtol=1e-5)     # nothing cut off by the frame
    com = [(ink[t] * np.arange(64)).sum() / ink[t].sum() for t in range(4)]   # x centre of mass follows x exactly
    assert np.allclose(np.diff(com), np.diff(pos[:, 0]), atol=1e-3)


@pytest.fixture(scope="module")
def train(sound_cache):  # noqa: F811
    return load_dataset("moving-digits-av", n=N, seed=0)


@needs_espeak
def test_columns_and_info(train):
    v = train.columns["video"]
    assert v.dtype == torch.float32 and v.shape == (N, 16, 1, 64, 64) and v.min() >= -1 and v.max() <= 1
    assert (v[:, :, :, 0, :] == -1).all() and (v[:, :, :, :, -1] == -1).all()      # MNIST margins: black edges
    info = train.info
    assert info.name == "moving-digits-av" and info.kind == "video" and info.shape == (16, 1, 64, 64)
    assert info.num_classes == 10 and info.class_names == DIGIT_WORDS
    assert list(info.attributes) == ["digit", "direction", "wall"] and info.attributes["wall"] == md.WALLS
    e = info.extra
    assert (e["fps"], e["frames"], e["sample_rate"], e["seconds"], e["min_gap"]) == (8.0, 16, 16000, 2.0, 5)
    assert e["speed_range"] == [3.0, 5.0] and len(e["voices"]) == 8 and len(e["heldout_voices"]) == 3
    assert len(e["hits"]) == len(e["walls"]) == len(e["sources"]) == N
    y, a = train.columns["label"], train.columns["attributes"]
    assert y.dtype == a.dtype == torch.int64 and a.shape == (N, 3) and torch.equal(a[:, 0], y)
    assert a[:, 1].max() < 8 and a[:, 2].tolist() == [w[0] for w in e["walls"]]
    assert set(train.columns["speaker"]) <= set(e["voices"])
    for path in train.columns["audio"]:
        i = sf.info(path)
        assert path.startswith("/") and (i.samplerate, i.channels, i.frames, i.subtype) == (16000, 1, 32000, "PCM_16")


@needs_espeak
def test_digit_inside_every_frame(train):
    ink = (train.columns["video"][:, :, 0] + 1) / 2                           # (N, T, H, W)
    mass = ink.sum((-2, -1))
    assert torch.allclose(mass, mass[:, :1].expand_as(mass), rtol=1e-4)      # the whole digit in every frame
    x, _ = _raw("mnist")
    for i, src in enumerate(train.info.extra["sources"]):                    # and it is that MNIST digit
        assert torch.isclose(mass[i, 0], torch.tensor(((x[src] + 1) / 2).sum()), rtol=1e-4)


@needs_espeak
def test_velocity_flips_exactly_at_hits(train):
    hits, walls = md.events(train)
    assert hits == train.info.extra["hits"] and walls == train.info.extra["walls"]
    e = train.info.extra
    for h, w in zip(e["hits"], e["walls"]):
        assert len(h) >= 1 and all(b - a >= md.MIN_GAP for a, b in zip(h, h[1:])) and set(w) <= {0, 1, 2, 3}


@needs_espeak
def test_sound_onsets_at_hits_silence_elsewhere(train):
    for path, hits in zip(train.columns["audio"], train.info.extra["hits"]):
        x, _ = sf.read(path, dtype="float32")
        peak_db = 20 * np.log10(np.abs(x).max())
        assert -6.1 <= peak_db <= -0.9
        rms = np.sqrt((x.reshape(16, SPF) ** 2).mean(1))
        for k in hits:
            assert rms[k] > 0.01 and rms[k] > rms[k - 1] and rms[k - 1] < 1e-4, (path, hits, rms)
        sounding = {j for k in hits for j in range(k, k + md.WORD_FRAMES)}
        assert all(rms[j] < 1e-4 for j in range(16) if j not in sounding), (path, hits, rms)
        assert hits[0] * SPF <= np.flatnonzero(x)[0] < hits[0] * SPF + 40      # the first word starts at its frame


@needs_espeak
def test_captions(train):
    a = train.columns["attributes"].tolist()
    for text, (y, d, w) in zip(train.columns["text"], a):
        assert DIGIT_WORDS[y] in text and md.DIRECTIONS[d] in text
        assert text in {md.motion_caption(y, d, w, t) for t in range(len(md.TEMPLATES))}
    assert len(set(train.columns["text"])) > N // 2


@needs_espeak
def test_deterministic_cached_and_seeds(train, sound_cache, monkeypatch):  # noqa: F811
    before = files(sound_cache)
    monkeypatch.setattr(md, "render_audio", lambda p: pytest.fail("a second call synthesised a clip"))
    again = load_dataset("moving-digits-av", n=N, seed=0)
    assert torch.equal(again.columns["video"], train.columns["video"]) and again.columns["audio"] == train.columns["audio"]
    assert again.columns["text"] == train.columns["text"] and again.info.version == train.info.version
    assert files(sound_cache) == before
    assert load_dataset("moving-digits-av", n=8, seed=0).columns["audio"] == train.columns["audio"][:8]
    monkeypatch.undo()
    other = load_dataset("moving-digits-av", n=8, seed=1)
    assert not torch.equal(other.columns["video"], train.columns["video"][:8])
    assert other.info.extra["hits"] != train.info.extra["hits"][:8]


@needs_espeak
def test_test_split_and_resolution(train):
    test = load_dataset("moving-digits-av", split="test", n=12, resolution=32)
    v = test.columns["video"]
    assert v.shape == (12, 16, 1, 32, 32) and test.info.shape == (16, 1, 32, 32) and v.min() >= -1 and v.max() <= 1
    assert set(test.columns["speaker"]) <= set(test.info.extra["voices"]) == set(train.info.extra["heldout_voices"])
    assert not set(test.columns["speaker"]) & set(train.columns["speaker"])
    assert set(test.info.extra["sources"]) <= set(md.mnist_pool("test").tolist())
    assert not set(test.info.extra["sources"]) & set(md.mnist_pool("train").tolist())
    assert md.events(test) == (test.info.extra["hits"], test.info.extra["walls"])     # tracking works at 32x32 too


def test_unavailable_espeak_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("MMGAN_CACHE", str(tmp_path))
    monkeypatch.setattr(speech, "_ENGINE", None)
    monkeypatch.setattr(speech, "_LibEngine", lambda: (_ for _ in ()).throw(OSError("no library")))
    monkeypatch.setattr(speech.shutil, "which", lambda name: None)
    md.word_samples.cache_clear()                    # words cached in memory by earlier tests would hide it
    with pytest.raises(speech.SpeechUnavailable, match="pip install espeakng-loader"):
        load_dataset("moving-digits-av", n=2)
