"""A conditional generator must not ignore z: samples of ONE condition differ as real items of it do.

Tiny models of the conditional presets (dfgan and stackgan from captions with their presets' loss
settings, dcgan from labels) train a few dozen steps on jittered blocks; then the spread among 8
samples of one condition, against real items of that condition (mmgan.metrics.diversity), must be
well above zero. Samples drawn with one z for the whole condition give exactly 0: the check can fail.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from _mm_tiny import TINY_EXTRA
from _tiny import tiny_config
from mmgan.data.base import DataInfo, MemoryDataset
from mmgan.metrics.diversity import diversity_on_items, diversity_per_condition
from mmgan.metrics.features import Recipe, feature_network_for
from mmgan.pipeline import Pipeline
from mmgan.training import Trainer
from mmgan.training.setup import resolve

PRESETS = Path(__file__).resolve().parents[2] / "src" / "mmgan" / "configs"
COLORS, SHAPES = ["red", "blue"], ["block", "bar"]


def jittered_blocks(n: int = 64, res: int = 16) -> MemoryDataset:
    """Red or blue, block or bar, each drawn at a random offset (+-2 px) and height: real items of one
    caption differ, as the shapes of `shapes` differ in rotation, place and size."""
    g = torch.Generator().manual_seed(0)
    attrs = torch.stack([torch.arange(n) % 2, (torch.arange(n) // 2) % 2], 1)       # (shape, colour)
    img = torch.full((n, 3, res, res), 0.8)
    for i, (s, c) in enumerate(attrs.tolist()):
        dy, dx = (int(v) for v in torch.randint(-2, 3, (2,), generator=g))
        h = 6 + int(torch.randint(0, 3, (1,), generator=g))
        w = 8 if s == 0 else 4
        y0, x0 = 4 + dy, 4 + dx
        img[i, :, y0:y0 + h, x0:x0 + w] = -1.0
        img[i, 0 if c == 0 else 2, y0:y0 + h, x0:x0 + w] = 1.0
    text = [f"a {COLORS[c]} {SHAPES[s]}" for s, c in attrs.tolist()]
    info = DataInfo("jittered-blocks", "image", (3, res, res), num_classes=2, class_names=SHAPES,
                    attributes={"shape": SHAPES, "color": COLORS})
    return MemoryDataset(info, {"image": img, "label": attrs[:, 0].clone(), "attributes": attrs, "text": text})


def preset_loss(name: str) -> list[str]:
    """The loss section of a preset, as overrides (what a user of the preset trains with)."""
    loss = yaml.safe_load((PRESETS / name).read_text())["loss"]
    return [f"loss.{k}={v}" for k, v in loss.items()]


CASES = {   # name -> (overrides, condition kwargs of the Pipeline per condition group)
    "dfgan-text": (["model.family=dfgan", "model.condition=[text]", "model.fusion=attention",
                    *preset_loss("shapes-text-speech.yaml"), *TINY_EXTRA], "text"),
    "stackgan-text": (["model.family=stackgan", "model.condition=[text]", "model.fusion=cross_attention",
                       "extra.ca_dim=4", *preset_loss("stackgan-shapes-text.yaml"), *TINY_EXTRA], "text"),
    "dcgan-label": (["model.family=dcgan", "model.condition=[label]", "model.g_cond=concat",
                     *preset_loss("mnist-cond.yaml")], "label"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_samples_of_one_condition_differ(tmp_path, monkeypatch, case):
    monkeypatch.setenv("MMGAN_CACHE", str(tmp_path / "cache"))
    over, by = CASES[case]
    ds = jittered_blocks()
    cfg = tiny_config(*over, "train.steps=30", "train.batch_size=16", "train.channels_last=false", "train.bf16=false")
    resolve(cfg, ds)
    Trainer(cfg, tmp_path / "run", ds, log=lambda m: None).fit()
    pipe = Pipeline.from_pretrained(tmp_path / "run", device="cpu")

    attrs = ds.columns["attributes"]
    gen, fixed, real = [], [], []
    for k, (s, c) in enumerate([(0, 0), (0, 1), (1, 0), (1, 1)]):
        rows = torch.nonzero((attrs[:, 0] == s) & (attrs[:, 1] == c)).flatten()
        kw = {"text": ds.columns["text"][int(rows[0])]} if by == "text" else {"labels": [s] * 8}
        gen.append(pipe(num_images=8, seed=k, output_type="pt", **kw).tensor.flatten(1).numpy())
        z = torch.randn(1, cfg.model.z_dim).repeat(8, 1)                   # one z for the whole condition
        fixed.append(pipe(z=z, num_images=8, output_type="pt", **kw).tensor.flatten(1).numpy())
        real.append(ds.columns["image"][rows].flatten(1).numpy())
    if by == "label":                                                      # a label covers both colours
        real = [np.concatenate(real[:2]), np.concatenate(real[:2]), np.concatenate(real[2:]), np.concatenate(real[2:])]
    ratio = diversity_per_condition(gen, real)["diversity_ratio"]
    assert diversity_per_condition(fixed, real)["diversity_ratio"] < 1e-6   # a z-blind sampler reads as 0
    assert ratio > 0.1, f"{case}: samples of one condition barely differ (diversity ratio {ratio:.3f}): z is ignored"


def test_diversity_on_items_groups_a_benchmark_split_by_attribute_combination(tmp_path, monkeypatch):
    """The benchmarks' protocol (bench/multimodal.py on held-out combinations) on the tiny dfgan."""
    monkeypatch.setenv("MMGAN_CACHE", str(tmp_path / "cache"))
    ds = jittered_blocks()
    cfg = tiny_config(*CASES["dfgan-text"][0], "train.steps=4", "train.batch_size=16", "train.channels_last=false",
                      "train.bf16=false")
    resolve(cfg, ds)
    Trainer(cfg, tmp_path / "run", ds, log=lambda m: None).fit()
    pipe = Pipeline.from_pretrained(tmp_path / "run", device="cpu")
    net = feature_network_for(ds, None, Recipe(steps=4, batch_size=16, width=4, feat_dim=8, bf16=False),
                              log=lambda m: None, cache=False)
    v = diversity_on_items(pipe, ds, net, "text", captions=2, per=4, real=8)
    assert v["conditions"] == 8 and v["diversity_ratio"] > 0 and v["min_ratio"] <= v["diversity_ratio"]
    assert v["real_pixel_std_within_combination"] > 0.1 and "4 attribute combinations x 2 text" in v["protocol"]
    with pytest.raises(ValueError, match="'attributes' columns"):
        diversity_on_items(pipe, MemoryDataset(ds.info, {"image": ds.columns["image"], "text": ds.columns["text"]}),
                           net)
