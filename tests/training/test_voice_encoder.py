"""The speaker encoder of a voice condition learns who speaks from the clips and speakers alone (held-out
clips of each speaker named above chance), saves and loads back to the same voices, and gets its share of
a run's time budget."""
from __future__ import annotations

import torch

from mmgan.config import Config
from mmgan.data import load_dataset
from mmgan.training.budget import Budget
from mmgan.training.voice import VoiceOptions, fit_voice_encoder, load_voice_encoder

from _tiny import tone_manifest


def test_speaker_encoder_tells_speakers_apart_and_loads_back(tmp_path, monkeypatch):
    monkeypatch.setenv("MMGAN_CACHE", str(tmp_path / "cache"))
    ds = load_dataset(str(tone_manifest(tmp_path / "tones", n=60, classes=2, speakers=3)))
    enc, report = fit_voice_encoder(ds, tmp_path / "voice", VoiceOptions(dim=16, width=16, steps=60, batch_size=32),
                                    log=lambda m: None, progress=False)
    assert report["speakers"] == 3 and report["held_out_clips"] == 6 and report["steps"] == 60
    assert report["held_out_accuracy"] >= 0.8                         # chance 1/3
    again, cfg = load_voice_encoder(tmp_path / "voice")
    batch = enc.prepare(ds.columns["audio"][:4])
    assert cfg["dim"] == 16 and torch.allclose(again(batch).pooled, enc(batch).pooled, atol=1e-6)


def test_a_voice_run_budgets_its_speaker_encoder(tmp_path):
    cfg = Config()
    cfg.model.condition = ["label", "voice"]
    cfg.train.minutes = 10
    b = Budget.plan(cfg, tmp_path / "run", start=0.0, now=0.0)
    assert b.planned["voice"] == 60.0 and "joint" not in b.planned   # 10% of 10 min, under voice_minutes (1.5)
    assert "speaker encoder 60s" in b.describe()
    (tmp_path / "run" / "voice").mkdir(parents=True)
    (tmp_path / "run" / "voice" / "config.json").write_text("{}")      # resuming: the saved encoder is reused
    assert "voice" not in Budget.plan(cfg, tmp_path / "run", start=0.0, now=0.0).planned
