"""The SC09 digit judge: features, a few training steps on 40 stand-in clips, the cache round trip."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from mmgan.data.base import DataInfo, MemoryDataset
from mmgan.encoders.audio import log_mel, normalize_mel
from mmgan.metrics import sound_judge as sj
from mmgan.metrics.sound_judge import CLASS_NAMES, JudgeRecipe, SoundJudge, log_mels

from helpers_metrics import one_thread  # noqa: F401  (autouse)

TINY = JudgeRecipe(steps=3, batch_size=8, width=4, feat_dim=16, minutes=1.0)


def stand_in(root, n: int = 40) -> MemoryDataset:
    """n one-second clips cycling through the digits: espeak-ng words when it works here, else tones
    whose pitch is the digit (the judge's plumbing is the same)."""
    from mmgan.data import speech

    use_speech = speech.available()
    root.mkdir(parents=True, exist_ok=True)
    paths, labels = [], []
    for i in range(n):
        d = i % 10
        if use_speech:
            x = speech.speak(CLASS_NAMES[d], voice="en-us", variant=speech.VARIANTS[i % 4], speed=160 + i, pitch=50)
        else:
            x = 0.3 * np.sin(2 * np.pi * (200 + 60 * d) * np.arange(8000) / 16000)
        y = np.zeros(16000, np.float32)
        y[2000:2000 + min(len(x), 14000)] = x[:14000]
        paths.append(str(root / f"{i}.wav"))
        sf.write(paths[-1], y, 16000, subtype="PCM_16")
        labels.append(d)
    info = DataInfo("stand-in", "audio", (16000,), num_classes=10, class_names=list(CLASS_NAMES))
    return MemoryDataset(info, {"audio": paths, "label": torch.tensor(labels)})


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    return stand_in(tmp_path_factory.mktemp("digits"))


def test_batched_log_mels_match_log_mel_per_clip():
    x = 0.1 * torch.randn(3, 16000)
    x[1] *= 0.01                                                   # a quiet clip: normalization is per clip
    want = []
    for w in x.numpy():
        m = torch.from_numpy(log_mel(w, 16000, 64, 10.0, 32.0, norm="none"))[None]
        want.append(normalize_mel(m, torch.ones(m.shape[:2], dtype=torch.bool), "clip")[0])
    got = log_mels(x, 64, 10.0, 32.0, top_db=200.0)                # a floor no clip reaches: log_mel's exactly
    assert got.shape == (3, 101, 64)
    assert torch.allclose(got, torch.stack(want), atol=1e-4)


def test_silence_and_a_faint_noise_floor_look_alike():
    x = torch.zeros(2, 16000)
    x[:, 4000:8000] = 0.5 * torch.sin(torch.arange(4000) * 0.2)
    x[1] += 1e-5 * torch.randn(16000)
    m = log_mels(x)
    assert (m[0] - m[1]).abs().max() < 0.02             # normalized units: a clip spans about ±2


def test_augment_keeps_shape_and_moves_the_word():
    x = torch.zeros(4, 16000)
    x[:, 7000:9000] = 0.5
    y = sj.augment(x, JudgeRecipe(noise_p=0.0), torch.Generator().manual_seed(0))
    assert y.shape == x.shape and torch.isfinite(y).all()
    assert not torch.equal((y.abs() > 0.01).float().argmax(1), (x.abs() > 0.01).float().argmax(1))


def test_a_few_training_steps_give_the_right_shapes(clips):
    waves = sj.load_waves(clips.columns["audio"])
    assert waves.shape == (40, 16000)
    judge = sj.train_judge(waves, clips.columns["label"], TINY, progress=False)
    f, p = judge.run(waves[:5])
    assert f.shape == (5, 16) and p.shape == (5, 10)
    assert torch.allclose(p.sum(1), torch.ones(5), atol=1e-5) and (f >= 0).all()
    assert torch.equal(judge.probs(waves[:5]), p) and torch.equal(judge.features(waves[:5]), f)
    assert judge.info["steps_done"] == 3


def test_the_cache_round_trip(clips, tmp_path, monkeypatch):
    monkeypatch.setenv("MMGAN_CACHE", str(tmp_path / "cache"))
    train, test = clips.subset(range(30)), clips.subset(range(30, 40))
    judge, acc = sj.sound_judge(train, test, TINY, progress=False)
    folder = tmp_path / "cache" / "judges" / judge.id
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors"]   # no pickle
    assert 0.0 <= acc <= 1.0 and judge.info["test_acc"] == acc

    def no_training(*a, **k):
        raise AssertionError("the cached judge should have been reused")

    monkeypatch.setattr(sj, "train_judge", no_training)
    again, acc2 = sj.sound_judge(train, test, TINY, progress=False)
    assert acc2 == acc and again.id == judge.id and again.recipe == TINY
    w = sj.load_waves(test.columns["audio"])
    assert torch.allclose(again.probs(w), judge.probs(w), atol=1e-6)
    with pytest.raises(AssertionError, match="reused"):                  # another recipe is another judge
        sj.sound_judge(train, test, JudgeRecipe(**{**TINY.__dict__, "steps": 4}), progress=False)


def test_wrong_shapes_are_refused_with_a_clear_error():
    judge = SoundJudge(sj.DigitCNN(width=4, feat_dim=16), TINY)
    with pytest.raises(ValueError, match=r"\(n, 16000\)"):
        judge.probs(torch.zeros(2, 8000))
    with pytest.raises(FileNotFoundError, match="no sound judge"):
        SoundJudge.load("/nonexistent/judge")


def test_the_data_version_follows_the_clips_bytes_and_labels(tmp_path):
    paths = [tmp_path / "a.wav", tmp_path / "b.wav"]
    for p in paths:
        sf.write(p, np.zeros(16000, np.float32), 16000, subtype="PCM_16")
    v = sj.data_version(paths, [0, 1])
    assert sj.data_version(paths, [0, 2]) != v
    sf.write(paths[1], np.full(16000, 0.1, np.float32), 16000, subtype="PCM_16")    # same path, same size
    assert sj.data_version(paths, [0, 1]) != v
