"""Sound out, end to end through the `mmgan` command: a user's sound manifest (and a built-in written as
one) trains the specgan recipe, `mmgan generate --label` writes WAVs other players open and a
spectrogram sheet, and the Python API hands back Sounds."""
from __future__ import annotations

import numpy as np
import soundfile as sf
import torch

from mmgan.cli import main
from mmgan.config import Config
from mmgan.pipeline import Pipeline

from _tiny import tone_manifest

FAST = ["--set", "train.progress=false", "--set", "train.tensorboard=false", "--set", "model.z_dim=8",
        "--set", "model.g_width=4", "--set", "model.d_width=4", "--set", "train.batch_size=8",
        "--set", "train.minutes=0"]


def test_train_and_generate_sound_from_a_manifest(tmp_path, capsys):
    manifest = tone_manifest(tmp_path / "tones", n=16, classes=2)
    run = tmp_path / "run"
    assert main(["train", "--data", str(manifest), *FAST, "--steps", "3", "--out", str(run)]) == 0
    out = capsys.readouterr()
    assert "model.family=specgan" in out.out + out.err
    gen = tmp_path / "gen"
    assert main(["generate", str(run), "--label", "high", "-n", "3", "--out", str(gen)]) == 0
    wavs = sorted(gen.glob("*.wav"))
    assert [p.name for p in wavs] == ["00000.wav", "00001.wav", "00002.wav"] and (gen / "spectrograms.png").exists()
    for p in wavs:
        info = sf.info(str(p))
        assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
        assert info.frames == 8000                                  # the tones' median length, 0.5 s
    pipe = Pipeline.from_pretrained(run, device="cpu")
    res = pipe(labels=["low", "high"], num_images=2, seed=0)
    assert [s.sample_rate for s in res.audio] == [16000, 16000] and res.audio[0].waveform.shape == (8000,)
    again = pipe(labels=["low", "high"], num_images=2, seed=0, output_type="pt").tensor
    assert again.shape == (2, 8000) and torch.equal(again, torch.from_numpy(res.samples))   # seeded: the same clips


def test_builtin_sound_data_written_as_a_manifest_loads_back(tmp_path):
    out = tmp_path / "sfx"
    assert main(["data", "make", "sfx", "--out", str(out), "-n", "16"]) == 0
    from mmgan.data import load_dataset

    ds = load_dataset(str(out))
    assert ds.info.kind == "audio" and len(ds) == 16 and ds.info.shape == (16000,)


def test_text_to_speech_on_captioned_data(tmp_path):
    """Captioned, spoken data (images too): --set data.target=audio with condition=[text] trains specgan on
    the joint space's text condition, and generate --text writes the caption's clips."""
    from _mm_tiny import TINY_EXTRA, tiny_paired
    from mmgan.data import write_manifest

    data = write_manifest(tiny_paired(tmp_path / "clips"), tmp_path / "paired").parent
    run = tmp_path / "run"
    sets = [a for s in TINY_EXTRA for a in ("--set", s)]
    assert main(["train", "--data", str(data), "--set", "data.target=audio", "--set", "model.condition=[text]",
                 *FAST, *sets, "--steps", "2", "--out", str(run)]) == 0
    gen = tmp_path / "gen"
    assert main(["generate", str(run), "--text", "a red block", "-n", "2", "--out", str(gen)]) == 0
    assert len(list(gen.glob("*.wav"))) == 2


def test_wavegan_preset_trains_and_generates_waveforms(tmp_path):
    """The wavegan preset (WGAN-GP, phase shuffle, bf16 and channels_last as it sets them) on a user's
    manifest: G makes the 0.5-s clips' 8000 samples directly (8 -> 32 -> ... -> 8192, cropped)."""
    manifest = tone_manifest(tmp_path / "tones", n=16, classes=2)
    run = tmp_path / "run"
    assert main(["train", "--data", str(manifest), "--config", "wavegan-spoken-digits", *FAST, "--steps", "3",
                 "--out", str(run)]) == 0
    cfg = Config.load(run / "config.yaml")
    assert (cfg.model.family, cfg.loss.name, cfg.model.channels, cfg.model.resolution, cfg.model.data_dim) == \
        ("wavegan", "wgan-gp", 1, 0, 8000)
    gen = tmp_path / "gen"
    assert main(["generate", str(run), "--label", "1", "-n", "2", "--out", str(gen)]) == 0
    wavs = sorted(gen.glob("*.wav"))
    assert [p.name for p in wavs] == ["00000.wav", "00001.wav"] and (gen / "spectrograms.png").exists()
    for p in wavs:
        info = sf.info(str(p))
        assert (info.samplerate, info.channels, info.subtype, info.frames) == (16000, 1, "PCM_16", 8000)
    pipe = Pipeline.from_pretrained(run, device="cpu")
    assert pipe.model_config["family"] == "wavegan" and pipe.model_config["data_dim"] == 8000
    res = pipe(labels=["high"], num_images=2, seed=0)
    assert [s.waveform.shape for s in res.audio] == [(8000,), (8000,)]
    assert all(abs(s.waveform).max() <= 1 for s in res.audio)


def test_image_to_sound_on_digits_say(tmp_path, monkeypatch):
    """The image of a digit says its name: digits-say with the clips as the target and the image as the condition
    trains specgan through the joint space's image encoder; generate --image writes the clips."""
    from _mm_tiny import TINY_EXTRA
    from mmgan.data import load_dataset
    from mmgan.modalities.pixels import to_pil

    from mmgan.modalities.audio import AudioCodec

    monkeypatch.setenv("MMGAN_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(AudioCodec, "preview_count", 4)      # the run's preview: 4 clips through Griffin-Lim, not 40
    run = tmp_path / "run"
    sets = [a for s in TINY_EXTRA + ["data.n=20"] for a in ("--set", s)]
    assert main(["train", "--data", "digits-say", "--set", "data.target=audio", "--set", "model.condition=[image]",
                 *FAST, *sets, "--steps", "2", "--out", str(run)]) == 0
    cfg = Config.load(run / "config.yaml")
    assert (cfg.model.family, cfg.data.target, cfg.model.condition) == ("specgan", "audio", ["image"])
    test = load_dataset("digits-say", split="test", n=10)
    seven = tmp_path / "seven.png"
    to_pil(test.columns["image"][int(torch.nonzero(test.columns["label"] == 7)[0])]).save(seven)
    gen = tmp_path / "gen"
    assert main(["generate", str(run), "--image", str(seven), "-n", "2", "--out", str(gen)]) == 0
    wavs = sorted(gen.glob("*.wav"))
    assert len(wavs) == 2 and sf.info(str(wavs[0])).frames == 16000 and (gen / "spectrograms.png").exists()
    pipe = Pipeline.from_pretrained(run, device="cpu")
    clips = pipe(image=test.columns["image"][:3], num_images=3, seed=0, output_type="pt").tensor
    assert clips.shape == (3, 16000) and torch.isfinite(clips).all()


def test_text_to_speech_preset_on_spoken_shapes(tmp_path, monkeypatch):
    """specgan-spoken-shapes: a shapes caption's text -> the spoken sentence. Two steps on 24 espeak-ng clips with
    tiny encoders; generate --text writes WAVs of the data's clip length and the spectrogram sheet."""
    import pytest

    from _mm_tiny import TINY_EXTRA
    from mmgan.data import speech
    from mmgan.modalities.audio import AudioCodec

    if not speech.available():
        pytest.skip("espeak-ng unavailable (pip install espeakng-loader)")
    monkeypatch.setenv("MMGAN_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(AudioCodec, "preview_count", 4)      # the run's preview: 4 clips through Griffin-Lim, not 40
    run = tmp_path / "run"
    sets = [a for s in TINY_EXTRA + ["data.n=24"] for a in ("--set", s)]
    assert main(["train", "--data", "spoken-shapes", "--config", "specgan-spoken-shapes", *FAST, *sets,
                 "--steps", "2", "--out", str(run)]) == 0
    cfg = Config.load(run / "config.yaml")
    assert (cfg.model.family, cfg.data.target, cfg.model.condition) == ("specgan", "audio", ["text"])
    assert cfg.model.extra["joint_positives"] == "text" and cfg.loss.phases == "matching"
    samples = cfg.model.extra["mel"]["samples"]
    assert samples % 4000 == 0 and 16000 <= samples <= 64000       # the clips' median length, in quarter seconds
    gen = tmp_path / "gen"
    assert main(["generate", str(run), "--text", "a small red circle at the top", "-n", "2", "--out", str(gen)]) == 0
    wavs = sorted(gen.glob("*.wav"))
    assert len(wavs) == 2 and (gen / "spectrograms.png").exists()
    x, rate = sf.read(str(wavs[0]), dtype="float32")
    assert rate == 16000 and x.shape == (samples,) and np.isfinite(x).all()
