"""Joint-space training with speech augmentation: used on every phase-B batch when enabled, never at
evaluation; the model.extra keys that turn it on (and old configs without them)."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from mmgan.config import Config, ConfigError
from mmgan.encoders.audio import normalize_mel
from mmgan.encoders.audio_augment import AudioAugment
from mmgan.training.conditioner import joint_options
from mmgan.training.joint import JointOptions, train_joint

from _mm_tiny import TINY_JOINT


@pytest.fixture
def spy(monkeypatch):
    """Counts AudioAugment calls and records what the audio encoder is fed."""
    calls = []
    real = AudioAugment.__call__

    def counted(self, batch, normalize, sample_rate, hop_ms, g=None):
        out = real(self, batch, normalize, sample_rate, hop_ms, g)
        calls.append((batch, out))
        return out

    monkeypatch.setattr(AudioAugment, "__call__", counted)
    return calls


def _opts(augment):
    return JointOptions(dim=16, steps=2, audio_steps=4, batch_size=8, encoders=TINY_JOINT, log_every=0,
                        minutes=0, audio_augment=augment)


def test_augmentation_on_every_training_batch_and_never_at_eval(paired, spy):
    aug = AudioAugment(noise_p=1.0, reverb_p=1.0)
    space, report = train_joint(paired, ["text", "audio"], _opts(aug))
    assert report["phase_b"]["steps"] == 4 and len(spy) == 4
    assert report["options"]["audio_augment"]["noise_p"] == 1.0
    raw, fed = spy[0]
    # phase B reads raw log-mels (unnormalized) and feeds perturbed, normalized ones
    assert float(raw["mel"][raw["mask"]].mean()) < -1                  # log power, not zero-mean features
    clean = normalize_mel(raw["mel"], raw["mask"], "clip")
    n = min(clean.shape[1], fed["mel"].shape[1])
    assert float((fed["mel"][:, :n] - clean[:, :n]).abs().mean()) > 0.05
    seen = len(spy)
    a = space.embed("audio", paired.columns["audio"][:4])
    b = space.embed("audio", paired.columns["audio"][:4])
    assert len(spy) == seen and np.array_equal(a, b)                   # eval: no augmentation, deterministic


def test_no_augmentation_unless_asked(paired, spy):
    _, report = train_joint(paired, ["text", "audio"], _opts(None))
    assert report["phase_b"]["steps"] == 4 and spy == [] and report["options"]["audio_augment"] is None


def test_same_batches_with_and_without_augmentation(paired, spy):
    """The augmentation draws from its own generator: phase A and the batch order do not change."""
    plain, _ = train_joint(paired, ["text", "audio"], _opts(None))
    augmented, _ = train_joint(paired, ["text", "audio"], _opts(AudioAugment()))
    for m in ("text", "image"):
        items = paired.columns[m][:4]
        np.testing.assert_array_equal(plain.embed(m, items), augmented.embed(m, items))
    assert not np.allclose(plain.embed("audio", paired.columns["audio"][:4]),
                           augmented.embed("audio", paired.columns["audio"][:4]))


def test_phase_b_takes_its_own_batch_and_learning_rate(paired, spy):
    """audio_batch_size / audio_lr (model.extra.joint_audio_batch / joint_audio_lr) set phase B alone: the audio
    encoder is fed batches of that size; phase A and the image and text embeddings are as without them."""
    aug = AudioAugment(noise_p=0.0, reverb_p=0.0)                       # the spy sees every phase-B batch
    plain, r0 = train_joint(paired, ["text", "audio"], _opts(aug))
    sizes_plain = [len(raw["mel"]) for raw, _ in spy]
    spy.clear()
    opts = dataclasses.replace(_opts(aug), audio_batch_size=4, audio_lr=5e-3)
    own, r1 = train_joint(paired, ["text", "audio"], opts)
    assert set(sizes_plain) == {8} and [len(raw["mel"]) for raw, _ in spy] == [4] * 4
    assert (r0["phase_b"]["batch_size"], r0["phase_b"]["lr"]) == (8, 2e-3)
    assert (r1["phase_b"]["batch_size"], r1["phase_b"]["lr"]) == (4, 5e-3)
    for m in ("text", "image"):
        items = paired.columns[m][:4]
        np.testing.assert_array_equal(plain.embed(m, items), own.embed(m, items))
    assert not np.allclose(plain.embed("audio", paired.columns["audio"][:4]), own.embed("audio", paired.columns["audio"][:4]))


def test_model_extra_keys():
    old = joint_options({"joint_dim": 64})                             # a config from before these keys
    assert old.audio_augment is None and "audio" not in old.encoders
    new = joint_options({"audio_norm": "cmvn", "audio_dropout": 0.1, "audio_augment": True,
                         "audio_augment_args": {"speed": [0.9, 1.1], "noise_p": 0.2},
                         "joint_encoders": {"audio": {"width": 32}}})
    assert new.encoders["audio"] == {"norm": "cmvn", "dropout": 0.1, "width": 32}
    assert new.audio_augment == AudioAugment(speed=(0.9, 1.1), noise_p=0.2)
    assert joint_options({"audio_augment": True}).audio_augment == AudioAugment()
    with pytest.raises(ConfigError, match="audio_augment is not true"):
        joint_options({"audio_augment_args": {"noise_p": 0.2}})
    with pytest.raises(ConfigError, match=r"model.extra.audio_augment_args: unknown key\(s\) \['speeed'\]"):
        joint_options({"audio_augment": True, "audio_augment_args": {"speeed": [0.9, 1.1]}})

    assert (old.lr, old.audio_lr, old.audio_batch_size) == (2e-3, None, None)      # phase B as phase A
    phase_b = joint_options({"joint_lr": 3e-3, "joint_audio_lr": "4e-3", "joint_audio_batch": 64})
    assert (phase_b.lr, phase_b.audio_lr, phase_b.audio_batch_size, phase_b.batch_size) == (3e-3, 4e-3, 64, 128)
    for key in ("joint_lr", "joint_audio_lr"):
        for bad in (0, -1e-3, 1.5):
            with pytest.raises(ConfigError, match=rf"model.extra.{key} must be in \(0, 1\), got"):
                joint_options({key: bad})
    with pytest.raises(ConfigError, match="joint_audio_batch must be >= 2"):
        joint_options({"joint_audio_batch": 1})


def test_speech_preset_turns_it_on():
    cfg = Config.load("shapes-text-speech")
    opts = joint_options(cfg.model.extra)
    assert opts.audio_augment is not None and opts.encoders["audio"]["norm"] == "cmvn"


def test_bf16_autocast_trains_the_same_batches_in_bfloat16(paired, monkeypatch):
    """opts.bf16 (train.bf16): the encoders' training forward passes run under bf16 autocast (half the time of
    fp32 on a CPU with native bf16); the losses stay float32 and the saved space is float32."""
    import torch

    seen = []
    real = torch.nn.Conv1d.forward

    def spy(self, x):
        seen.append(torch.is_autocast_enabled("cpu"))
        return real(self, x)

    monkeypatch.setattr(torch.nn.Conv1d, "forward", spy)
    opts = _opts(None)
    fp32, rep32 = train_joint(paired, ["text", "audio"], opts)
    assert seen and not any(seen)
    seen.clear()
    opts.bf16 = True
    bf16, rep16 = train_joint(paired, ["text", "audio"], opts)
    assert seen and any(seen)                                   # training passes ran under autocast ...
    assert rep16["phase_b"]["steps"] == rep32["phase_b"]["steps"] == 4
    assert np.isfinite(rep16["phase_b"]["loss"]) and np.isfinite(rep16["phase_a"]["loss"])
    emb = bf16.embed("audio", paired.columns["audio"][:4])
    assert emb.dtype == np.float32 and np.isfinite(emb).all()  # ... and the space is float32
    assert all(p.dtype == torch.float32 for p in bf16.parameters())


def test_bf16_follows_train_bf16(monkeypatch):
    from mmgan import utils
    from mmgan.training import conditioner as cond_mod

    assert Config.load("shapes-text-speech").train.bf16 == "auto"
    monkeypatch.setattr(utils, "native_bf16", lambda device: True)
    assert cond_mod.joint_bf16(Config().override(["train.bf16=auto"])) is True
    assert cond_mod.joint_bf16(Config().override(["train.bf16=false"])) is False
    monkeypatch.setattr(utils, "native_bf16", lambda device: False)
    assert cond_mod.joint_bf16(Config().override(["train.bf16=auto"])) is False
    assert cond_mod.joint_bf16(Config().override(["train.bf16=true"])) is True
