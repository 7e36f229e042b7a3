"""Sound through the store from the command line (issue 21): `mmgan index` clips with captions (a text+audio
space fitted on them), `mmgan generate AUDIO_RUN --store` keeps the clips with provenance, and `mmgan search
--text` prints and returns their WAV paths."""
from __future__ import annotations

import json

import pytest

from mmgan.cli import main

from _tiny import tone_manifest

pytest.importorskip("milvus_lite", reason="pymilvus / milvus-lite not installed")

FAST = ["--set", "train.progress=false", "--set", "train.tensorboard=false", "--set", "model.z_dim=8",
        "--set", "model.g_width=4", "--set", "model.d_width=4", "--set", "train.batch_size=8",
        "--set", "train.minutes=0"]
TINY_FIT = ["--set", "text_encoder=tiny-text", "--set", "joint_dim=16", "--set", "joint_steps=40",
            "--set", "joint_batch=8", "--set", "joint_minutes=1",
            "--set", "joint_encoders={audio: {width: 16, n_mels: 16}, text: {dim: 32, layers: 1, heads: 2}}"]


def _json_hits(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def test_index_generate_and_search_clips(tmp_path, capsys):
    manifest = tone_manifest(tmp_path / "tones", n=16, classes=2)
    st = str(tmp_path / "st")
    assert main(["index", str(manifest), "--store", st, "--quiet", *TINY_FIT]) == 0
    out = capsys.readouterr()
    assert "audio with text, label" in out.err and "16 added" in out.out and (tmp_path / "st" / "joint").is_dir()

    run = tmp_path / "run"
    assert main(["train", "--data", str(manifest), *FAST, "--steps", "2", "--out", str(run)]) == 0
    capsys.readouterr()
    assert main(["generate", str(run), "--label", "high", "-n", "2", "--seed", "4", "--out", str(tmp_path / "gen"),
                 "--store", st]) == 0
    out = capsys.readouterr()
    assert "2 added" in out.err and "now holds 18 items" in out.err
    assert sorted(p.name for p in (tmp_path / "gen").glob("*.wav")) == ["00000.wav", "00001.wav"]

    assert main(["search", "--store", st, "--text", "a high tone", "--dense", "-k", "18", "--json", "--sheet", ""]) == 0
    hits = _json_hits(capsys.readouterr().out)
    assert len(hits) == 18 and all(h["modality"] == "audio" and h["file"].endswith(".wav") for h in hits)
    made = [h for h in hits if h["kind"] == "synthetic"]
    assert len(made) == 2 and all(h["class_name"] == "high" and h["seed"] == 4 and h["step"] == 2 for h in made)
    assert {h["extra"]["regenerate"]["index"] for h in made} == {0, 1} and made[0]["model"] == str(run.resolve())
    assert all(open(h["file"], "rb").read(4) == b"RIFF" for h in hits)

    assert main(["search", "--store", st, "--text", "a low tone", "-k", "3", "--sheet", str(tmp_path / "s.png")]) == 0
    table = capsys.readouterr().out
    assert table.count(".wav") == 3 and "file" in table.splitlines()[0]


def test_generate_store_needs_a_space_that_embeds_sound(tmp_path, capsys):
    manifest = tone_manifest(tmp_path / "tones", n=8, classes=2)
    run = tmp_path / "run"
    assert main(["train", "--data", str(manifest), *FAST, "--steps", "1", "--out", str(run)]) == 0
    capsys.readouterr()
    assert main(["generate", str(run), "--label", "low", "-n", "1", "--out", str(tmp_path / "gen"),
                 "--store", str(tmp_path / "empty")]) != 0
    assert "is empty, so it has no joint space" in capsys.readouterr().err
    assert not (tmp_path / "gen").exists()


def test_a_broken_clip_names_its_row_and_the_store_keeps_what_it_had(tmp_path, capsys):
    manifest = tone_manifest(tmp_path / "tones", n=8, classes=2)
    st = str(tmp_path / "st")
    assert main(["index", str(manifest), "--store", st, "--quiet", *TINY_FIT]) == 0
    capsys.readouterr()
    (tmp_path / "tones" / "clips" / "005.wav").write_bytes(b"RIFF....WAVE broken")
    extra = tmp_path / "tones" / "more.jsonl"
    extra.write_text(manifest.read_text())
    assert main(["index", str(extra), "--store", st, "--quiet"]) != 0
    err = capsys.readouterr().err
    assert "row 6" in err and "005.wav" in err                       # manifest rows count from 1
    assert main(["store", "stats", "--store", st, "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["items"] == 8 and stats["embeddings"]["audio"] == 8
