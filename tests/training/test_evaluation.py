"""Metrics during training: JSON lines per evaluation, the best snapshot kept in RUN/best/."""
from __future__ import annotations

import sys
from pathlib import Path

import json

import torch
from safetensors.torch import load_file

from _tiny import image_dataset, ring_dataset, tiny_config
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "metrics"))   # helpers_metrics lives there
from helpers_metrics import one_thread  # noqa: F401  (autouse)  # noqa: E402
from mmgan.metrics import features as features_mod
from mmgan.training import evaluation as training_mod
from mmgan.metrics.base import MetricResult
from mmgan.metrics.evaluate import Evaluation
from mmgan.pipeline import Pipeline
from mmgan.training import Trainer, latest_checkpoint
from mmgan.training.setup import resolve
from mmgan.utils import read_jsonl


def _trainer(cfg, ds, run):
    resolve(cfg, ds)
    return Trainer(cfg, run, ds, log=lambda m: None)


def test_ring_run_evaluates_and_exports_the_best(tmp_path):
    cfg = tiny_config("model.family=mlp", "train.steps=6", "train.eval_every=2", "train.eval_metrics=[modes500,pr200]")
    tr = _trainer(cfg, ring_dataset(), tmp_path / "run")
    tr.fit()
    rows = read_jsonl(tmp_path / "run" / "metrics.jsonl")
    assert [(r["step"], r["metric"]) for r in rows] == [(s, m) for s in (2, 4, 6) for m in ("modes500", "pr200")]
    assert all(r["source"] == "training" for r in rows)
    best = tr.best
    assert best["metric"] == "modes500" and best["higher_is_better"] is True
    modes = [r["results"]["modes"] for r in rows if r["metric"] == "modes500"]
    assert best["value"] == max(modes) and best["step"] == 2 + 2 * modes.index(max(modes))
    folder = tmp_path / "run" / "best"
    assert (folder / "config.json").exists() and (folder / "generator.safetensors").exists()
    assert json.loads((folder / "metrics.json").read_text())["step"] == best["step"]
    out = Pipeline.from_pretrained(folder, device="cpu")(num_images=3, seed=0)
    assert out.samples.shape == (3, 2)
    meta = json.loads((latest_checkpoint(tmp_path / "run") / "meta.json").read_text())
    assert meta["best"]["step"] == best["step"]                 # travels with checkpoints (resume keeps it)


def test_best_is_replaced_only_on_improvement(tmp_path, monkeypatch):
    values = iter([5.0, 3.0, 4.0, 2.5])                          # FID-like: lower is better

    def fake_compute(ctx, names, **_):
        ev = Evaluation()
        ev.results.append(MetricResult("fid100", {"fid": next(values)}, "fid", False, {"generated": 100}))
        return ev

    monkeypatch.setattr(training_mod, "compute_metrics", fake_compute)
    cfg = tiny_config("model.family=mlp", "train.steps=8", "train.eval_every=2", "train.eval_metrics=[fid100]")
    tr = _trainer(cfg, ring_dataset(), tmp_path / "run")
    seen = []
    real_keep = training_mod._keep_best

    def spy(trainer, ctx, res, step):
        real_keep(trainer, ctx, res, step)
        seen.append((step, dict(trainer.best)))

    monkeypatch.setattr(training_mod, "_keep_best", spy)
    tr.fit()
    assert [b["step"] for _, b in seen] == [2, 4, 4, 8]
    assert tr.best["value"] == 2.5
    g_best = load_file(str(tmp_path / "run" / "best" / "generator.safetensors"))
    g_ema = load_file(str(latest_checkpoint(tmp_path / "run") / "G_ema.safetensors"))
    assert all(torch.equal(g_best[k], g_ema[k]) for k in g_best)    # the step-8 snapshot


def test_evaluation_leaves_training_unchanged(tmp_path):
    """Evaluating must not consume the trainer's random numbers: same weights with and without it."""
    base = ["model.family=mlp", "train.steps=6", "train.seed=3"]
    a = _trainer(tiny_config(*base), ring_dataset(), tmp_path / "a")
    a.fit()
    b = _trainer(tiny_config(*base, "train.eval_every=2", "train.eval_metrics=[modes200]"), ring_dataset(), tmp_path / "b")
    b.fit()
    wa = load_file(str(latest_checkpoint(tmp_path / "a") / "G.safetensors"))
    wb = load_file(str(latest_checkpoint(tmp_path / "b") / "G.safetensors"))
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_image_run_trains_its_feature_network_once(tmp_path, monkeypatch):
    monkeypatch.setenv("MMGAN_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(features_mod, "DEFAULT_RECIPE", features_mod.Recipe(steps=6, batch_size=16, width=4,
                                                                            feat_dim=16, bf16=False))
    tr = _trainer(tiny_config("condition=[label]", "train.steps=4", "train.eval_every=2",
                              "train.eval_metrics=[fid64,cond_acc64]"), image_dataset(), tmp_path / "run")
    tr.fit()
    rows = read_jsonl(tmp_path / "run" / "metrics.jsonl")
    assert [r["metric"] for r in rows] == ["fid64", "cond_acc64"] * 2
    assert len(list((tmp_path / "cache" / "features").iterdir())) == 1
    assert (tmp_path / "run" / "best" / "generator.safetensors").exists()
