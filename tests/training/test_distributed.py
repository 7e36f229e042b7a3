"""Two CPU processes under torchrun (gloo) end with the weights of one process with the same global batch."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from mmgan.training import latest_checkpoint

ARGS = ["train", "--data", "digits", "--set", "data.resolution=16", "--set", "model.family=dcgan",
        "--set", "model.condition=[label]", "--set", "model.g_width=8", "--set", "model.d_width=8",
        "--set", "model.z_dim=16", "--set", "train.batch_size=16", "--set", "train.progress=false",
        "--set", "train.tensorboard=false", "--set", "train.ckpt_every=3", "--set", "train.sample_every=1000",
        "--set", "train.seed=3", "--set", "train.bf16=false"]
# fp32: the check is that DDP computes the same update; bf16 rounds half-batches differently per rank


def _run(cmd, env=None):
    env = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-4000:]
    return r


def _torchrun(n, out, steps, resume=False):
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or "torchrun"
    cmd = [torchrun, "--standalone", f"--nproc-per-node={n}", "-m", "mmgan", *ARGS, "--steps", str(steps),
           "--out", str(out)] + (["--resume"] if resume else [])
    return _run(cmd)


@pytest.mark.slow
def test_two_gloo_processes_match_one(tmp_path):
    _run([sys.executable, "-m", "mmgan", *ARGS, "--steps", "6", "--out", str(tmp_path / "one")])
    _torchrun(2, tmp_path / "two", 6)
    a = load_file(str(latest_checkpoint(tmp_path / "one") / "G.safetensors"))
    b = load_file(str(latest_checkpoint(tmp_path / "two") / "G.safetensors"))
    assert a.keys() == b.keys()
    for k in a:
        assert torch.allclose(a[k], b[k], atol=2e-4, rtol=1e-3), f"{k}: max diff {(a[k] - b[k]).abs().max()}"


@pytest.mark.slow
def test_resume_under_another_world_size(tmp_path):
    """Checkpoints are world-size independent: 2 ranks to step 3, then 1 rank to step 6."""
    _run([sys.executable, "-m", "mmgan", *ARGS, "--steps", "6", "--out", str(tmp_path / "one")])
    _torchrun(2, tmp_path / "mixed", 3)
    _run([sys.executable, "-m", "mmgan", *ARGS, "--steps", "6", "--out", str(tmp_path / "mixed"), "--resume"])
    a = load_file(str(latest_checkpoint(tmp_path / "one") / "D.safetensors"))
    b = load_file(str(latest_checkpoint(tmp_path / "mixed") / "D.safetensors"))
    for k in a:
        assert torch.allclose(a[k], b[k], atol=2e-4, rtol=1e-3), f"{k}: max diff {(a[k] - b[k]).abs().max()}"


@pytest.mark.slow
def test_a_time_budget_stops_every_rank_together(tmp_path):
    """With --minutes each rank could reach the deadline at another step; they agree, so none waits forever."""
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or "torchrun"
    r = _run([torchrun, "--standalone", "--nproc-per-node=2", "-m", "mmgan", *ARGS, "--steps", "1000000",
              "--minutes", "0.3", "--out", str(tmp_path / "timed")])
    assert "stopped by minutes" in r.stdout and "of a 0.3 min budget" in r.stderr
