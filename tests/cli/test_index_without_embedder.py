"""`mmgan index DATA --store DIR` with no --embedder: the store's joint space, a run's trained on the same
data, else one fitted on the data (kept in DIR/joint/, where `mmgan search` finds it without flags)."""
from __future__ import annotations

import json

import pytest
import torch
import yaml

from mmgan.cli import main
from mmgan.conditioning import JointSpace
from mmgan.data import write_manifest
from mmgan.data.base import DataInfo, MemoryDataset

from _mm_tiny import TINY_JOINT

pytest.importorskip("milvus_lite", reason="pymilvus / milvus-lite not installed")

COLORS, SHAPES = ["red", "blue"], ["block", "bar"]
# a tiny joint space, fitted in seconds: what --set passes (the names of model.extra)
TINY_FIT = ["--set", "text_encoder=tiny-text", "--set", "joint_dim=16", "--set", "joint_steps=60",
            "--set", "joint_batch=16", "--set", "joint_minutes=2",
            "--set", "joint_encoders={image: {width: 8}, text: {dim: 32, layers: 1, heads: 2}}"]


def captioned(n_per: int = 6, res: int = 16) -> MemoryDataset:
    """Four captions ("a red block", ...), n_per distinct images each (the shape moves), no audio."""
    imgs, text, labels = [], [], []
    for c, color in enumerate(COLORS):
        for s, shape in enumerate(SHAPES):
            for k in range(n_per):
                img = torch.full((3, res, res), 0.8)
                w, top, left = (res // 2 if s == 0 else res // 4), 1 + k % 4, 1 + k // 4 * 2
                img[:, top : top + 8, left : left + w] = -1.0
                img[0 if c == 0 else 2, top : top + 8, left : left + w] = 1.0
                imgs.append(img)
                text.append(f"a {color} {shape}")
                labels.append(s)
    info = DataInfo("tiny-captioned", "image", (3, res, res), num_classes=2, class_names=SHAPES)
    return MemoryDataset(info, {"image": torch.stack(imgs), "text": text, "label": torch.tensor(labels)})


def _hits(capsys, *argv) -> list[dict]:
    capsys.readouterr()
    assert main(["search", *argv, "--json", "--sheet", ""]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]


def test_index_fits_a_joint_space_that_search_then_uses(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)                        # no runs/ here: nothing trained on this data
    manifest = write_manifest(captioned(), tmp_path / "data")
    assert main(["index", str(manifest), "--store", "st", *TINY_FIT]) == 0
    out, err = capsys.readouterr()
    assert "no joint space for" in err and "fitting one on its 24 items" in err    # the notice
    assert "joint space:" in err and "step=" in err                              # the progress bar
    assert "fitted in" in err and "saved to" in err and "24 added" in out          # the time it took
    assert (tmp_path / "st" / "joint" / "config.json").exists()
    assert json.loads((tmp_path / "st" / "joint" / "report.json").read_text())["phase_a"]["steps"] == 60

    for caption in ("a red block", "a blue bar"):
        hits = _hits(capsys, "--text", caption, "--dense", "-k", "3", "--store", "st")   # dense: the space alone
        assert [h["caption"] for h in hits] == [caption] * 3, hits
    assert _hits(capsys, "--text", "a red bar", "-k", "1", "--store", "st")[0]["caption"] == "a red bar"

    assert main(["index", str(manifest), "--store", "st"]) == 0                # again: the store's space, no refit
    out, err = capsys.readouterr()
    assert "fitting" not in err and "0 added, 24 already stored" in out


def test_index_uses_a_run_trained_on_the_same_data(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    manifest = write_manifest(captioned(n_per=2), tmp_path / "data")
    run = tmp_path / "runs" / "00001-data-dfgan"
    space = JointSpace({m: TINY_JOINT[m] for m in ("image", "text", "label")}, dim=16)
    space.save_pretrained(run / "joint")
    (run / "config.yaml").write_text(yaml.safe_dump({"data": {"name": "data"}}))     # relative, as trained
    assert main(["index", str(manifest), "--store", "st", "--quiet"]) == 0
    err = capsys.readouterr().err
    assert f"using the joint space of {run.relative_to(tmp_path)}" in err and "fitting" not in err
    assert not (tmp_path / "st" / "joint").exists()
    assert main(["store", "stats", "--json", "--store", "st"]) == 0
    assert json.loads(capsys.readouterr().out)["embedder"] == space.id


def test_index_without_embedder_explains_what_it_needs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    ds = captioned(n_per=1)
    only_images = MemoryDataset(ds.info, {"image": ds.columns["image"]})
    manifest = write_manifest(only_images, tmp_path / "imgs")
    assert main(["index", str(manifest), "--store", "st"]) == 1
    assert "needs images paired with text, audio or labels" in capsys.readouterr().err
    assert main(["index", str(write_manifest(ds, tmp_path / "d")), "--store", "st", "--set", "steps=3"]) == 1
    assert "KEY one of joint_dim" in capsys.readouterr().err
