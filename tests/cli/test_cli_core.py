"""The `mmgan` command end to end on small data, including kill -9 and --resume."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from mmgan.cli import main
from mmgan.training import latest_checkpoint

FAST = ["--set", "train.progress=false", "--set", "train.tensorboard=false", "--set", "model.z_dim=8",
        "--set", "model.g_width=8", "--set", "model.d_width=8", "--set", "train.batch_size=8",
        "--set", "model.g_hidden=[16,16]", "--set", "model.d_hidden=[16,16]"]


@pytest.fixture(scope="module")
def digits_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("data") / "digits"
    assert main(["data", "make", "digits", "--out", str(d), "-n", "60"]) == 0
    return d


def test_dry_run_prints_and_saves_config(digits_dir, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--data", str(digits_dir), "--set", "data.resolution=16", "--set", "condition=[label]",
                 "--out", str(run), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "resolved config" in out and "family: dcgan" in out and "num_classes: 10" in out
    assert (run / "config.dry-run.yaml").exists()
    assert latest_checkpoint(run) is None


def test_train_generate_info(digits_dir, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--data", str(digits_dir), "--set", "data.resolution=16", "--set", "condition=[label]",
                 *FAST, "--steps", "3", "--out", str(run)]) == 0
    assert (run / "config.yaml").exists() and (run / "loss.png").exists()
    out_dir = tmp_path / "gen"
    assert main(["generate", str(run), "--label", "seven", "-n", "4", "--seed", "1", "--out", str(out_dir)]) == 0
    pngs = sorted(p.name for p in out_dir.glob("*.png"))
    assert pngs == ["00000.png", "00001.png", "00002.png", "00003.png", "grid.png"]
    assert Image.open(out_dir / "00000.png").size == (16, 16)
    capsys.readouterr()
    assert main(["info", str(run), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["step"] == 3 and info["family"] == "dcgan"


def test_generate_same_seed_same_images(digits_dir, tmp_path):
    run = tmp_path / "run"
    main(["train", "--data", str(digits_dir), "--set", "data.resolution=16", "--set", "model.condition=[]", *FAST,
          "--steps", "2", "--out", str(run)])
    for o in ("a", "b"):
        main(["generate", str(run), "-n", "3", "--seed", "5", "--out", str(tmp_path / o)])
    assert (tmp_path / "a" / "grid.png").read_bytes() == (tmp_path / "b" / "grid.png").read_bytes()


def test_vector_data_writes_samples_npy(tmp_path):
    run = tmp_path / "ring"
    assert main(["train", "--data", "ring8", "--set", "data.n=500", "--set", "family=mlp", *FAST, "--steps", "2",
                 "--out", str(run)]) == 0
    assert main(["generate", str(run), "-n", "10", "--out", str(tmp_path / "g")]) == 0
    s = np.load(tmp_path / "g" / "samples.npy")
    assert s.shape == (10, 2)


def test_bad_rows_refuse_then_skip(tmp_path, capsys):
    d = tmp_path / "m"
    d.mkdir()
    Image.new("L", (16, 16), 128).save(d / "a.png")
    Image.new("L", (16, 16), 10).save(d / "b.png")
    (d / "broken.png").write_bytes(b"not an image")
    rows = [{"image": "a.png", "label": 0}, {"image": "missing.png", "label": 1}, {"image": "broken.png", "label": 1},
            {"image": "b.png", "label": 1}]
    (d / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    run = tmp_path / "run"
    assert main(["train", "--data", str(d / "manifest.jsonl"), *FAST, "--steps", "1", "--out", str(run)]) == 1
    err = capsys.readouterr().err
    assert "row 2" in err and "row 3" in err and "--skip-bad" in err
    assert latest_checkpoint(run) is None
    assert main(["train", "--data", str(d / "manifest.jsonl"), *FAST, "--set", "train.batch_size=2", "--steps", "1",
                 "--out", str(run), "--skip-bad"]) == 0
    assert "skipped 2 bad rows" in capsys.readouterr().out


def test_unknown_family_lists_valid(tmp_path, capsys):
    assert main(["train", "--data", "ring8", "--set", "family=nope", "--out", str(tmp_path / "r"), "--dry-run"]) == 1
    err = capsys.readouterr().err
    assert "unknown model 'nope'" in err and "dcgan" in err and "mlp" in err


def test_existing_run_needs_resume(digits_dir, tmp_path, capsys):
    run = tmp_path / "run"
    main(["train", "--data", str(digits_dir), "--set", "data.resolution=16", *FAST, "--steps", "1", "--out", str(run)])
    assert main(["train", "--data", str(digits_dir), "--set", "data.resolution=16", *FAST, "--steps", "1",
                 "--out", str(run)]) == 1
    assert "--resume" in capsys.readouterr().err


KILL_ARGS = ["train", "--data", "ring8", "--set", "data.n=2000", "--set", "family=mlp", *FAST,
             "--set", "train.ckpt_every=5", "--set", "train.seed=11", "--set", "train.sample_every=100000"]


def test_kill_9_then_resume_matches_uninterrupted(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    steps = "400"
    straight = tmp_path / "straight"
    subprocess.run([sys.executable, "-m", "mmgan", *KILL_ARGS, "--steps", steps, "--out", str(straight)],
                   check=True, env=env, capture_output=True, timeout=600)
    run = tmp_path / "killed"
    p = subprocess.Popen([sys.executable, "-m", "mmgan", *KILL_ARGS, "--steps", steps, "--out", str(run)],
                         env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline:
        ck = latest_checkpoint(run)
        if ck is not None and int(ck.name.split("-")[1]) >= 20:
            break
        time.sleep(0.02)
    p.send_signal(signal.SIGKILL)
    p.wait()
    killed_at = latest_checkpoint(run)
    assert killed_at is not None and int(killed_at.name.split("-")[1]) < int(steps), "run finished before the kill"
    r = subprocess.run([sys.executable, "-m", "mmgan", "train", "--out", str(run), "--resume"], env=env,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    a = load_file(str(latest_checkpoint(straight) / "G_ema.safetensors"))
    b = load_file(str(latest_checkpoint(run) / "G_ema.safetensors"))
    for k in a:
        assert torch.equal(a[k], b[k]), k
