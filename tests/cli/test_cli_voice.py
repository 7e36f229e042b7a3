"""Speak in a given voice, end to end through `mmgan`: a sound manifest with a speaker column trains
specgan on [label, voice] (a speaker encoder first, saved in RUN/voice), `mmgan generate --voice ref.wav`
writes WAVs whose voice follows the reference, no reference still works, and the mistakes a user makes
get errors that say what to do."""
from __future__ import annotations

import json

import pytest
import torch

from mmgan.cli import main
from mmgan.pipeline import Pipeline

from _tiny import tone_manifest

FAST = ["--set", "train.progress=false", "--set", "train.tensorboard=false", "--set", "model.z_dim=8",
        "--set", "model.g_width=4", "--set", "model.d_width=4", "--set", "train.batch_size=8",
        "--set", "train.minutes=0", "--set", "train.threads=1"]
VOICE = ["--set", "model.condition=[label,voice]", "--set", "model.extra.voice_steps=20",
         "--set", "model.extra.voice_dim=8"]


@pytest.fixture(scope="module")
def voiced(tmp_path_factory):
    root = tmp_path_factory.mktemp("voiced")
    manifest = tone_manifest(root / "tones", n=24, classes=2, speakers=3)
    run = root / "run"
    assert main(["train", "--data", str(manifest), *FAST, *VOICE, "--steps", "2", "--out", str(run)]) == 0
    return manifest, run


def test_a_voice_run_keeps_its_speaker_encoder_and_speaks_in_the_given_voice(voiced, tmp_path):
    manifest, run = voiced
    saved = json.loads((run / "voice" / "config.json").read_text())
    assert saved["speakers"] == ["spk0", "spk1", "spk2"] and saved["report"]["steps"] == 20
    refs = sorted((manifest.parent / "clips").glob("*.wav"))
    out = tmp_path / "gen"
    assert main(["generate", str(run), "--label", "high", "--voice", str(refs[0]), "-n", "2", "--out", str(out)]) == 0
    assert len(list(out.glob("*.wav"))) == 2 and (out / "spectrograms.png").exists()
    pipe = Pipeline.from_pretrained(run, device="cpu")
    a = pipe(labels="high", voice=str(refs[0]), num_images=2, seed=0, output_type="pt").tensor
    b = pipe(labels="high", voice=str(refs[1]), num_images=2, seed=0, output_type="pt").tensor   # another speaker
    none = pipe(labels="high", num_images=2, seed=0, output_type="pt")
    assert a.shape == b.shape == none.tensor.shape and not torch.equal(a, b)   # same seed, the voice differs
    res = pipe(labels="high", voice=str(refs[0]), num_images=1, seed=0)
    assert res.conditions["voice"] == [str(refs[0])]                              # recorded by its path


def test_voice_mistakes_are_named(voiced, tmp_path, capsys):
    manifest, run = voiced
    assert main(["generate", str(run), "--label", "high", "--voice", str(tmp_path / "nope.wav"),
                 "--out", str(tmp_path / "g")]) != 0
    assert "voice clip not found" in capsys.readouterr().err
    plain = tone_manifest(tmp_path / "plain", n=8)                 # no speaker column
    assert main(["train", "--data", str(plain), *FAST, *VOICE, "--steps", "1", "--out", str(tmp_path / "r")]) != 0
    assert "no 'speaker' column" in capsys.readouterr().err
    other = tmp_path / "other"
    assert main(["train", "--data", str(plain), *FAST, "--steps", "1", "--out", str(other)]) == 0
    assert main(["generate", str(other), "--label", "high", "--voice",
                 str(next((manifest.parent / "clips").glob("*.wav"))), "--out", str(tmp_path / "g2")]) != 0
    assert "not trained to speak in a given voice" in capsys.readouterr().err
