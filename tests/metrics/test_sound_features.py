"""`mmgan eval` on audio runs: spoken digits get the SC09 scores through the digit judge (here an untrained
judge, injected: the cached one trains for minutes); other sounds get an error that says what would work."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import soundfile as sf
import torch

from helpers_metrics import one_thread  # noqa: F401  (autouse)
from mmgan.api.train import train
from mmgan.metrics import evaluate
from mmgan.metrics.sound_features import JudgeFeatures, is_spoken_digits
from mmgan.metrics.sound_judge import CLASS_NAMES, DigitCNN, JudgeRecipe, SoundJudge
from mmgan.data import load_dataset

from _tiny import tone_manifest

FAST = ["train.progress=false", "train.tensorboard=false", "train.sample_every=1000", "train.ckpt_every=1000",
        "model.z_dim=8", "model.g_width=4", "model.d_width=4", "train.batch_size=8"]


def digit_manifest(folder, per_split: dict[str, int]):
    """1-s tones labelled zero .. nine (digit k at 200 + 100 k Hz) with train/test rows; dataset.json keeps the
    digits' order, as spoken-digits has it."""
    (folder / "clips").mkdir(parents=True)
    rows, t = [], np.arange(16000) / 16000
    for split, n in per_split.items():
        for i in range(n):
            k = i % 10
            name = f"clips/{split}{i:03d}.wav"
            sf.write(folder / name, (0.3 * np.sin(2 * np.pi * (200 + 100 * k) * t) * np.exp(-3 * t)).astype(np.float32),
                     16000)
            rows.append({"audio": name, "label": CLASS_NAMES[k], "split": split})
    (folder / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (folder / "dataset.json").write_text(json.dumps({"name": "tone-digits", "class_names": list(CLASS_NAMES)}))
    return folder


def untrained_judge() -> JudgeFeatures:
    torch.manual_seed(0)
    judge = SoundJudge(DigitCNN(width=4, feat_dim=16), JudgeRecipe(width=4, feat_dim=16), {"id": "untrained-test"})
    return JudgeFeatures(judge, {"test_accuracy": 0.1, "real_test_is": 2.0, "test_data": "none (untrained)"})


def test_eval_of_a_spoken_digit_run_defaults_to_the_sc09_scores(tmp_path):
    data = digit_manifest(tmp_path / "data", {"train": 20, "test": 10})
    assert is_spoken_digits(load_dataset(str(data)))
    run = tmp_path / "run"
    train(data=str(data), overrides=FAST, out=run, steps=2, log=lambda m: None)
    ev = evaluate(run, samples=20, features=untrained_judge(), progress=False, log=lambda m: None)
    assert [r.name for r in ev.results] == ["is20", "fid20", "cond_acc20"] and not ev.skipped
    is_ = ev["is20"].values
    assert 1.0 <= is_["is"] <= 10.0 and is_["is_ratio"] == pytest.approx(is_["is"] / 2.0)
    assert math.isfinite(ev["fid20"].value) and 0.0 <= ev["cond_acc20"].value <= 1.0
    assert "SC09 digit judge" in ev["fid20"].protocol["features"]
    assert (run / "metrics.jsonl").read_text().count("\n") == 3 and (run / "report.html").exists()


def test_eval_of_other_sounds_names_what_is_possible(tmp_path):
    data = tone_manifest(tmp_path / "tones", n=8, classes=2)
    run = tmp_path / "run"
    train(data=str(data), overrides=FAST, out=run, steps=1, log=lambda m: None)
    with pytest.raises(ValueError, match="SC09 digit judge.*--features PATH"):
        evaluate(run, progress=False, report=False, log=lambda m: None)
