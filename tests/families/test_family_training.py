"""Every family trains through the shared Trainer, checkpoints, resumes exactly, and generates
through the Pipeline and the CLI; every preset in configs/ parses and names a registered family."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from _tiny import image_dataset, tiny_config
from mmgan import registry
from mmgan.cli import main as cli
from mmgan.config import Config
from mmgan.data import load_dataset
from mmgan.pipeline import Pipeline
from mmgan.training import Trainer, latest_checkpoint
from mmgan.training.setup import resolve

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def _domains():
    return load_dataset("shapes-palette", n=24, resolution=16)


FAMILIES = {   # family -> (dataset factory, overrides, phases the trainer picks)
    "stylegan2": (lambda: image_dataset(channels=3), ["condition=[label]", "r1_gamma=1", "extra.w_dim=16",
                                                      "extra.pl_weight=2", "extra.pl_every=2"], "stylegan2"),
    "gansformer": (lambda: image_dataset(channels=3), ["extra.w_dim=16", "extra.latents=2", "extra.attn_dim=8"],
                   "stylegan2"),
    "progressive": (image_dataset, ["extra.stage_steps=2", "extra.fade_steps=1"], "progressive"),
    "stackgan": (lambda: image_dataset(channels=3), ["condition=[label]", "r1_gamma=0.1", "extra.ca_dim=4"],
                 "multistage"),
    "cyclegan": (_domains, ["condition=[label]", "loss.name=lsgan", "extra.res_blocks=1", "extra.pool_size=4",
                            "model.g_width=4", "model.d_width=4"], "cycle"),
}


def _fit(cfg, ds, run, resume=False):
    resolve(cfg, ds)
    return Trainer(cfg, run, ds, log=lambda m: None).fit(resume=resume)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_two_step_smoke_and_pipeline(tmp_path, family):
    ds_fn, extra, phases = FAMILIES[family]
    cfg = tiny_config(f"model.family={family}", *extra)
    res = _fit(cfg, ds_fn(), tmp_path / "run")
    assert res.step == 2 and cfg.loss.phases == phases
    ck = latest_checkpoint(tmp_path / "run")
    for f in ("G.safetensors", "G_ema.safetensors", "D.safetensors", "meta.json", "resume.safetensors"):
        assert (ck / f).exists()
    assert (tmp_path / "run" / "samples" / "final.png").exists()
    pipe = Pipeline.from_pretrained(tmp_path / "run")
    kw = {"labels": [0, 1, 2, 3]} if "condition=[label]" in extra and family != "cyclegan" else {}
    out = pipe(num_images=4, seed=0, **kw)
    assert len(out.images) == 4 and out.tensor.abs().max() <= 1
    assert torch.equal(out.tensor, pipe(num_images=4, seed=0, **kw).tensor)      # a seed fixes the images


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_resume_equivalence(tmp_path, family):
    """3 steps + resume to 6 ends with the same G, G_ema and D (pools, examples, stage) as 6 straight."""
    ds_fn, extra, _ = FAMILIES[family]
    over = [f"model.family={family}", "train.ckpt_every=3", "train.seed=5", *extra]
    if family == "progressive":
        over += ["extra.stage_steps=2", "extra.fade_steps=2"]   # the resume point falls inside a fade
    ds = ds_fn()
    _fit(tiny_config(*over, "train.steps=6"), ds, tmp_path / "straight")
    _fit(tiny_config(*over, "train.steps=3"), ds, tmp_path / "split")
    assert _fit(tiny_config(*over, "train.steps=6"), ds, tmp_path / "split", resume=True).step == 6
    for f in ("G.safetensors", "G_ema.safetensors", "D.safetensors"):
        a = load_file(str(latest_checkpoint(tmp_path / "straight") / f))
        b = load_file(str(latest_checkpoint(tmp_path / "split") / f))
        for k in a:
            assert torch.equal(a[k], b[k]), f"{family} {f}:{k} differs after resume"


def test_cyclegan_translates_from_the_cli(tmp_path):
    ds_fn, extra, _ = FAMILIES["cyclegan"]
    ds = ds_fn()
    _fit(tiny_config("model.family=cyclegan", *extra), ds, tmp_path / "run")
    pipe = Pipeline.from_pretrained(tmp_path / "run")
    x = ds.columns["image"][:3]
    out = pipe(image=x, labels="cool", output_type="pt")           # label = target domain
    assert out.tensor.shape == (3, 3, 16, 16) and out.conditions["target"] == [1, 1, 1]
    assert torch.allclose(out.tensor, pipe.generator.g_ab(x), atol=1e-5)
    back = pipe.translate(x, target=["warm", "cool", "warm"], output_type="pt").tensor
    assert torch.allclose(back[0], pipe.generator.g_ba(x[:1])[0], atol=1e-5)
    with pytest.raises(ValueError, match="target domain"):
        pipe.translate(x, target=[0, 1])
    src = tmp_path / "in.png"
    pipe(image=x[:1]).images[0].save(src)
    assert cli(["generate", str(tmp_path / "run"), "--image", str(src), "--label", "warm", "--out",
                str(tmp_path / "gen")]) == 0
    assert (tmp_path / "gen" / "00000.png").exists() and not (tmp_path / "gen" / "00001.png").exists()
    preview = pipe(num_images=8, output_type="pt").tensor                  # no images: the stored examples
    assert preview.shape == (8, 3, 16, 16) and torch.equal(preview[0], pipe.generator.examples_a[0])


def test_stylegan2_truncation_goes_to_w_space(tmp_path):
    ds_fn, extra, _ = FAMILIES["stylegan2"]
    _fit(tiny_config("model.family=stylegan2", *extra, "train.steps=3"), ds_fn(), tmp_path / "run")
    pipe = Pipeline.from_pretrained(tmp_path / "run")
    a = pipe(labels=1, num_images=4, seed=0, truncation=0.0, output_type="pt").tensor
    assert torch.allclose(a[0], a[1:], atol=1e-5)                           # psi 0: every z gives the mean w's image
    b = pipe(labels=1, num_images=4, seed=0, truncation=0.5, output_type="pt").tensor
    assert not torch.allclose(b[0], b[1], atol=1e-4)


@pytest.mark.parametrize("preset", sorted(p.name for p in CONFIGS.glob("*.yaml")
                                          if p.name.startswith(("cyclegan", "stylegan2", "progressive", "stackgan",
                                                                "gansformer"))))
def test_presets_parse(preset):
    cfg = Config.load(CONFIGS / preset)
    assert cfg.model.family in registry.names("model")
    assert cfg.data.name in registry.names("dataset")


TINY_TEXT = ["model.extra.joint_dim=16", "model.extra.joint_steps=3",
             "model.extra.joint_batch=8", "model.extra.fusion_steps=3", "model.extra.joint_minutes=1",
             "train.channels_last=false"]


@pytest.mark.parametrize("fusion", ["cross_attention", "attention"])
def test_stackgan_from_text(tmp_path, monkeypatch, fusion):
    """Text conditions through the multimodal conditioner: word tokens (cross_attention fusion) or the
    fused vector as the one word; the multistage phases add the joint-space contrastive loss."""
    monkeypatch.setenv("MMGAN_CACHE", str(tmp_path / "cache"))
    ds = image_dataset(n=16, channels=3)
    cfg = tiny_config("model.family=stackgan", "model.condition=[text]", f"model.fusion={fusion}", "extra.ca_dim=4",
                      "loss.contrastive=0.5", "loss.recon=1", *TINY_TEXT)
    res = _fit(cfg, ds, tmp_path / "run")
    assert res.step == 2 and {"loss/G_kl", "loss/G_contrastive", "loss/G_recon", "D/mismatch"} <= set(res.last)
    pipe = Pipeline.from_pretrained(tmp_path / "run", device="cpu")
    a = pipe(text="class 1", num_images=2, seed=0, output_type="pt").tensor
    b = pipe(text="class 3", num_images=2, seed=0, output_type="pt").tensor
    assert a.shape == (2, 3, 16, 16) and not torch.equal(a, b)
