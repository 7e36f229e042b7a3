"""Train a tiny text+speech model end to end, generate from a fresh process with no dataset, export, resume."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from mmgan.config import Config
from mmgan.pipeline import Pipeline
from mmgan.training import Trainer
from mmgan.training.setup import resolve

from _mm_tiny import TINY_EXTRA

BASE = ["model.family=dfgan", "model.condition=[text,audio]", "model.z_dim=8", "model.g_width=4", "model.d_width=4",
        "loss.phases=matching", "loss.contrastive=0.5", "loss.recon=1", "loss.mode_seeking=0.1",
        "train.steps=2", "train.batch_size=8", "train.progress=false", "train.tensorboard=false",
        "train.sample_every=2", "train.ckpt_every=1000", "train.log_every=1", "train.channels_last=false"]


def train_tiny(ds, run, *extra):
    cfg = Config().override(BASE + TINY_EXTRA + list(extra))
    resolve(cfg, ds)
    return Trainer(cfg, run, ds, log=lambda m: None).fit()


def test_train_generate_in_a_fresh_process_export_resume(paired, tmp_path):
    run = tmp_path / "run"
    res = train_tiny(paired, run, "model.fusion=cross_attention")           # word-level attention in G
    assert res.step == 2 and (run / "joint" / "model.safetensors").exists() and (run / "samples").exists()
    assert {"loss/G_contrastive", "loss/G_recon", "loss/G_ms"} <= set(res.last)
    clip = paired.columns["audio"][0]
    code = f"""
import json, torch
from mmgan.pipeline import Pipeline
p = Pipeline.from_pretrained({str(run)!r}, device="cpu")
a = p(text="a red block", num_images=3, seed=0, output_type="pt").tensor
b = p(audio={clip!r}, num_images=3, seed=0, output_type="pt").tensor
c = p(text="a red block", audio={clip!r}, num_images=3, seed=0, output_type="pt").tensor
p.save_pretrained({str(tmp_path / "export")!r})
print(json.dumps([list(a.shape), bool(torch.isfinite(b).all()), float((a - c).abs().max())]))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    shape, finite, diff = json.loads(out.stdout.strip().splitlines()[-1])
    assert shape == [3, 3, 16, 16] and finite and diff > 0
    exported = Pipeline.from_pretrained(tmp_path / "export", device="cpu")
    again = Pipeline.from_pretrained(run, device="cpu")
    x = exported(text=["a blue bar"] * 2, num_images=2, seed=3, output_type="pt").tensor
    torch.testing.assert_close(x, again(text=["a blue bar"] * 2, num_images=2, seed=3, output_type="pt").tensor)
    ref = again(image=paired.columns["image"][0], num_images=2, seed=0, output_type="pt").tensor   # reference image
    assert ref.shape == (2, 3, 16, 16)
    with pytest.raises(ValueError, match="takes"):
        again(labels=[1], num_images=1)

    before = {k: v.clone() for k, v in again.conditioner.fusion.state_dict().items()}
    cfg = Config().override(BASE + TINY_EXTRA + ["model.fusion=cross_attention", "train.steps=3",
                                                 "train.sample_every=1000"])
    resolve(cfg, paired)
    assert Trainer(cfg, run, paired, log=lambda m: None).fit(resume=True).step == 3   # the fusion is not refitted
    after = Pipeline.from_pretrained(run, device="cpu").conditioner.fusion.state_dict()
    for k in before:
        torch.testing.assert_close(before[k], after[k])
