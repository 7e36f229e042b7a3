"""A HiFi-GAN vocoder through the `mmgan` command: the preset trains on a user's clips (tones stand in for
spoken digits), its saved weights load back as the same network, `mmgan generate` on it re-synthesises
clips, and a specgan run speaks through it (model.extra.vocoder at train time, or --vocoder for a call)
instead of Griffin-Lim."""
from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
import torch
import yaml

from mmgan.cli import main
from mmgan.modalities.vocoder import load_vocoder
from mmgan.pipeline import Pipeline

from _tiny import tone_manifest

FAST = ["--set", "train.progress=false", "--set", "train.tensorboard=false", "--set", "train.minutes=0",
        "--set", "train.batch_size=8"]
TINY_VOCODER = ["--set", "model.g_width=16", "--set", "model.d_width=2", "--set", "model.extra.periods=[2,3]",
                "--set", "model.extra.scales=2", "--set", "model.extra.segment_frames=8", "--set", "train.log_every=1",
                "--set", "model.extra.warmup_steps=1"]
TINY_SPECGAN = ["--set", "model.z_dim=8", "--set", "model.g_width=4", "--set", "model.d_width=4"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A tone manifest, a 3-step hifigan run on it, and a 2-step specgan run that names it as its vocoder."""
    root = tmp_path_factory.mktemp("vocoder")
    manifest = tone_manifest(root / "tones", n=16, classes=2)
    voc, spec = root / "vocoder", root / "specgan"
    assert main(["train", "--data", str(manifest), "--config", "hifigan-spoken-digits", *FAST, *TINY_VOCODER,
                 "--steps", "3", "--out", str(voc)]) == 0
    assert main(["train", "--data", str(manifest), *FAST, *TINY_SPECGAN, "--set", f"model.extra.vocoder={voc}",
                 "--steps", "2", "--out", str(spec)]) == 0
    return root, manifest, voc, spec


def test_the_preset_trains_a_vocoder(runs):
    root, _, voc, _ = runs
    cfg = yaml.safe_load((voc / "config.yaml").read_text())
    assert cfg["model"]["family"] == "hifigan" and cfg["loss"]["name"] == "lsgan" and cfg["model"]["condition"] == []
    logs = [json.loads(line) for line in (voc / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in logs] == [1, 2, 3]
    assert "loss/D" not in logs[0] and np.isfinite(logs[0]["loss/G_stft"])      # the warm-up: G alone
    assert all(np.isfinite(r[k]) for r in logs[1:] for k in ("loss/D", "loss/G", "loss/G_fm", "loss/G_mel",
                                                             "loss/G_stft"))
    assert (voc / "samples" / "final.png").exists()           # the stored clips re-synthesised


def test_saved_vocoder_loads_back_as_the_same_network(runs, tmp_path):
    _, _, voc, _ = runs
    net = load_vocoder(voc)
    pipe = Pipeline.from_pretrained(voc, device="cpu")
    mel = torch.rand(2, 1, 64, 64) * 2 - 1
    with torch.no_grad():
        assert torch.equal(net(mel), pipe.generator(mel=mel))
        assert torch.equal(load_vocoder(pipe.save_pretrained(tmp_path / "export"))(mel), net(mel))   # an export too


def test_generate_on_a_vocoder_resynthesises_clips(runs, tmp_path):
    _, manifest, voc, _ = runs
    clips = sorted((manifest.parent / "clips").glob("*.wav"))[:2]
    out = tmp_path / "copy"
    assert main(["generate", str(voc), "--audio", str(clips[0]), "--audio", str(clips[1]), "--out", str(out)]) == 0
    wavs = sorted(out.glob("*.wav"))
    assert len(wavs) == 2 and all(sf.info(str(p)).frames == 8000 for p in wavs)
    assert main(["generate", str(voc), "-n", "3", "--out", str(tmp_path / "kept")]) == 0    # its stored clips
    assert len(list((tmp_path / "kept").glob("*.wav"))) == 3
    assert main(["generate", str(voc), "--label", "low", "--out", str(tmp_path / "bad")]) == 1   # no conditions
    pipe = Pipeline.from_pretrained(voc, device="cpu")                       # the Python API: paths or Sounds
    first = pipe(audio=str(clips[0]))
    again = pipe(audio=first.audio[0]).audio[0]
    assert first.audio[0].waveform.shape == again.waveform.shape == (8000,)


def test_a_specgan_run_speaks_through_its_vocoder(runs, tmp_path):
    _, _, voc, spec = runs
    cfg = yaml.safe_load((spec / "config.yaml").read_text())
    assert cfg["model"]["extra"]["vocoder"] == str(voc.resolve())               # stored as an absolute path
    assert main(["generate", str(spec), "--label", "high", "-n", "2", "--out", str(tmp_path / "voc")]) == 0
    vocoded = np.stack([sf.read(str(p))[0] for p in sorted((tmp_path / "voc").glob("*.wav"))])
    pipe = Pipeline.from_pretrained(spec, device="cpu")
    again = pipe(labels="high", num_images=2, seed=0, output_type="pt").tensor
    assert np.abs(vocoded - again.numpy()).max() < 1e-3                        # the WAVs are the vocoder's
    griffin = Pipeline.from_pretrained(spec, device="cpu", extra={"vocoder": None})
    gl = griffin(labels="high", num_images=2, seed=0, output_type="pt").tensor
    assert gl.shape == again.shape and (gl - again).abs().mean() > 1e-3        # not Griffin-Lim's
    # --vocoder attaches one for a call (here the same run: the same sound)
    assert main(["generate", str(spec), "--label", "high", "-n", "2", "--vocoder", str(voc),
                 "--out", str(tmp_path / "flag")]) == 0
    flagged = np.stack([sf.read(str(p))[0] for p in sorted((tmp_path / "flag").glob("*.wav"))])
    assert np.array_equal(flagged, vocoded)


def test_a_bad_vocoder_is_refused(runs, tmp_path, capsys):
    root, manifest, _, spec = runs
    assert main(["train", "--data", str(manifest), *FAST, "--set", f"model.extra.vocoder={spec}", "--dry-run",
                 "--out", str(tmp_path / "r")]) == 1
    assert "is a 'specgan' run, not a vocoder" in capsys.readouterr().err
    assert main(["generate", str(spec), "--vocoder", str(tmp_path / "nowhere"), "--out", str(tmp_path / "g")]) == 1
    assert "nowhere" in capsys.readouterr().err
    from mmgan.config import ConfigError
    with pytest.raises(ConfigError, match="unknown option model.extra.vocoder for model family 'hifigan'"):
        Pipeline.from_pretrained(runs[2], device="cpu", extra={"vocoder": str(runs[2])})
