"""train.minutes bounds the whole `mmgan train` command: the split between its stages, the progress bar
that counts the budget, and a tiny multimodal run that ends within it."""
from __future__ import annotations

import json
import math
import time

import pytest

from mmgan.api.train import train
from mmgan.cli import main
from mmgan.config import Config
from mmgan.data import write_manifest
from mmgan.data.base import MemoryDataset
from mmgan.training import budget as budget_mod
from mmgan.training import progress as progress_mod
from mmgan.training.budget import Budget
from mmgan.training.progress import BudgetBar

from _mm_tiny import TINY_EXTRA

MM = ["model.family=dfgan", "model.condition=[text,audio]", "loss.phases=matching"]


def test_split_between_the_stages(tmp_path):
    cfg = Config().override(MM + ["train.minutes=10", "model.extra.joint_minutes=3"])
    t0 = time.time() - 60
    b = Budget.plan(cfg, tmp_path / "run", start=t0, now=t0 + 60)        # data loading took a minute
    p = b.planned
    assert p["data"] == 60 and p["joint"] == pytest.approx(0.25 * 540) and p["features"] == pytest.approx(54)
    assert p["finish"] == pytest.approx(0.03 * 540) and sum(p.values()) == pytest.approx(600)
    assert list(p) == ["data", "joint", "features", "finish", "gan"]
    text = b.describe()
    assert text.startswith("time budget 10 min for the whole command: data loading 60s (10%), joint space 2.2 min "
                           "(22%), features + fusion 54s (9%), GAN")
    assert text.index("GAN") < text.index("finish")
    b.begin("joint")
    assert b.deadline("joint") == pytest.approx(b.began["joint"] + p["joint"])
    assert b.deadline("gan") == pytest.approx(t0 + 600 - p["finish"])

    capped = Budget.plan(Config().override(MM + ["train.minutes=60", "model.extra.joint_minutes=2"]), tmp_path)
    assert capped.planned["joint"] == 120                              # joint_minutes caps the joint share
    assert capped.planned["gan"] > 0.6 * 3600                          # ... and the rest goes to the GAN

    labels = Budget.plan(Config().override(["train.minutes=2", "model.condition=[label]"]), tmp_path)
    assert "joint" not in labels.planned and "features" not in labels.planned
    (tmp_path / "resumed" / "joint").mkdir(parents=True)
    (tmp_path / "resumed" / "joint" / "config.json").write_text("{}")
    assert "joint" not in Budget.plan(Config().override(MM + ["train.minutes=2"]), tmp_path / "resumed").planned


def test_joint_share_gives_the_joint_space_more_of_the_budget(tmp_path):
    """model.extra.joint_share replaces the 25% (joint_minutes still caps it); the GAN gets what is left."""
    from mmgan.config import ConfigError

    t0 = time.time()
    base = Budget.plan(Config().override(MM + ["train.minutes=10", "model.extra.joint_minutes=10"]), tmp_path,
                       start=t0, now=t0)
    more = Budget.plan(Config().override(MM + ["train.minutes=10", "model.extra.joint_minutes=10",
                                               "model.extra.joint_share=0.4"]), tmp_path, start=t0, now=t0)
    assert base.planned["joint"] == pytest.approx(150) and more.planned["joint"] == pytest.approx(240)
    assert more.planned["gan"] == pytest.approx(base.planned["gan"] - 90)
    capped = Budget.plan(Config().override(MM + ["train.minutes=10", "model.extra.joint_minutes=3",
                                                 "model.extra.joint_share=0.4"]), tmp_path, start=t0, now=t0)
    assert capped.planned["joint"] == pytest.approx(180)
    for bad in ("0", "0.9", "-0.1"):
        with pytest.raises(ConfigError, match="joint_share must be in"):
            Budget.plan(Config().override(MM + ["train.minutes=10", f"model.extra.joint_share={bad}"]), tmp_path)


def test_an_overrun_budget_keeps_each_training_stages_floor_and_says_so(tmp_path):
    cfg = Config().override(MM + ["train.minutes=1"])
    t0 = time.time() - 300                                  # uncached features took five minutes already
    b = Budget.plan(cfg, tmp_path, start=t0, now=t0 + 1)
    b.begin("joint")
    assert b.deadline("joint") == pytest.approx(time.time() + budget_mod.FLOORS["joint"] * 60, abs=0.5)
    b.begin("gan")
    assert b.deadline("gan") == pytest.approx(time.time() + budget_mod.FLOORS["gan"] * 60, abs=0.5)
    text = b.summary()
    assert text.startswith("took 5.0 min of a 1 min budget (4.0 min over: data loading 5.0 min for its 1s;")
    assert "features computed the first time" in text and text.endswith("): data loading 5.0 min, joint space 0s, GAN 0s")


def test_no_time_budget_keeps_each_stage_cap(tmp_path):
    b = Budget.plan(Config().override(MM + ["model.extra.joint_minutes=2"]), tmp_path)
    assert not b.timed and "none" in b.describe()
    b.begin("joint")
    assert b.minutes_for("joint") == pytest.approx(2, abs=0.01)
    assert b.minutes_for("features") == pytest.approx(budget_mod.FUSION_MINUTES, abs=0.01)
    assert math.isinf(b.deadline("gan")) and b.minutes_for("gan") == 0.0


def test_without_a_budget_slow_features_leave_the_fusion_its_minute(monkeypatch):
    """The fusion's cap counts from when its fit starts: features that took minutes do not eat it (a
    fusion cut to 2 steps after 70 s of feature extraction, seen in bench/voices.py)."""
    clock = [1000.0]
    monkeypatch.setattr(budget_mod.time, "time", lambda: clock[0])
    b = Budget.plan(Config().override(MM), "unused")
    b.begin("features")
    clock[0] += 70.0                                       # feature extraction
    assert b.minutes_for("features") == pytest.approx(budget_mod.FUSION_MINUTES)


def test_bar_counts_the_budget_so_its_eta_is_the_budgets(monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(progress_mod.time, "time", lambda: clock[0])
    bar = BudgetBar(steps=100_000, seconds=300, desc="train")
    bar.bar.start_t = bar.bar.last_print_t = 1000.0
    bar.bar._time = lambda: clock[0]
    clock[0] += 123
    for _ in range(736):
        bar.update(1)
    bar.set_postfix({"D": "1.2"})
    assert bar.position() == pytest.approx(123)
    shown = str(bar.bar)
    assert "123/300s" in shown and "<02:57" in shown and "step=736/100000" in shown and "D=1.2" in shown
    quick = BudgetBar(steps=10, seconds=300, enabled=False)
    for _ in range(5):
        quick.update(1)
    assert quick.position() == pytest.approx(150, rel=0.01)      # the steps will end first: half the budget
    bar.close()


def _tiny_multimodal(tmp_path, paired):
    captions = MemoryDataset(paired.info, {k: v for k, v in paired.columns.items() if k != "audio"})
    data = write_manifest(captions, tmp_path / "data")
    sets = ["model.family=dfgan", "model.condition=[text]", "loss.phases=matching"] + TINY_EXTRA + ["model.z_dim=8", "model.g_width=4", "model.d_width=4", "train.batch_size=8",
                              "train.tensorboard=false", "train.channels_last=false", "train.sample_every=0",
                              "train.ckpt_every=0", "train.log_every=50", "train.steps=1000000",
                              # step caps far beyond the budget: only the clock can stop any stage
                              "model.extra.joint_steps=100000",
                              "model.extra.fusion_steps=100000", "model.extra.joint_minutes=10"]
    return data, sets


def test_dry_run_prints_the_split(tmp_path, paired, capsys):
    data, sets = _tiny_multimodal(tmp_path, paired)
    argv = ["train", "--data", str(data), "--minutes", "5", "--dry-run", "--out", str(tmp_path / "run")]
    assert main(argv + [x for s in sets for x in ("--set", s)]) == 0
    out = capsys.readouterr().out
    line = next(l for l in out.splitlines() if l.startswith("time budget"))
    assert "5 min for the whole command" in line and "joint space 75s (25%)" in line
    assert "features + fusion 30s (10%)" in line and "GAN" in line and "finish" in line


BUDGET_S, SLACK_S = 15.0, 15.0         # slack: a shared CI machine; without the budget this run takes hours


def test_a_budget_bounds_the_whole_run(tmp_path, paired, capsys):
    data, sets = _tiny_multimodal(tmp_path, paired)
    t = time.time()
    res = train(data=str(data), overrides=sets, out=tmp_path / "run", minutes=BUDGET_S / 60)
    took = time.time() - t
    assert res.stopped_by == "minutes" and res.step >= 1
    assert took < BUDGET_S + SLACK_S, f"a {BUDGET_S:.0f}s budget took {took:.1f}s"
    report = json.loads((tmp_path / "run" / "joint" / "report.json").read_text())
    assert report["seconds"] < BUDGET_S                                # its share (plus a step), not joint_minutes=10
    captured = capsys.readouterr()
    assert "time budget 0.25 min for the whole command" in captured.out
    assert "/" in captured.err and "s [" in captured.err and "step=" in captured.err    # bars count seconds
    assert "took " in captured.err and "of a 0.25 min budget" in captured.err and "GAN " in captured.err
