"""Pipeline: the one inference path — loading from run / checkpoint / export, conditions, errors."""
from __future__ import annotations

import json

import pytest
import torch

from _tiny import image_dataset, ring_dataset, tiny_config
from mmgan.pipeline import Pipeline
from mmgan.training import Trainer, latest_checkpoint
from mmgan.training.setup import resolve


@pytest.fixture(scope="module")
def cond_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "cond"
    cfg = tiny_config("model.family=dcgan", "condition=[label]", "train.steps=3")
    ds = image_dataset()
    resolve(cfg, ds)
    Trainer(cfg, run, ds, log=lambda m: None).fit()
    return run


def test_run_checkpoint_and_export_agree(cond_run, tmp_path):
    a = Pipeline.from_pretrained(cond_run, device="cpu")
    b = Pipeline.from_pretrained(latest_checkpoint(cond_run), device="cpu")
    a.save_pretrained(tmp_path / "export")
    c = Pipeline.from_pretrained(tmp_path / "export", device="cpu")
    outs = [p(labels=[1, 2, 3], num_images=3, seed=4).tensor for p in (a, b, c)]
    assert torch.equal(outs[0], outs[1]) and torch.equal(outs[0], outs[2])
    files = sorted(p.name for p in (tmp_path / "export").iterdir())
    assert files == ["config.json", "generator.safetensors"]          # slim: no D, no optimizer state
    assert json.loads((tmp_path / "export" / "config.json").read_text())["format"] == "mmgan-pipeline"


def test_labels_by_name_and_broadcast(cond_run):
    pipe = Pipeline.from_pretrained(cond_run, device="cpu")
    by_name = pipe(labels="c2", num_images=2, seed=0).tensor
    by_index = pipe(labels=[2, 2], num_images=2, seed=0).tensor
    assert torch.equal(by_name, by_index)
    out = pipe(labels=1, num_images=5, seed=0)
    assert len(out.images) == 5 and out.images[0].size == (16, 16)


def test_seed_determinism_and_batching(cond_run):
    pipe = Pipeline.from_pretrained(cond_run, device="cpu")
    a = pipe(labels=0, num_images=7, seed=9).tensor
    b = pipe(labels=0, num_images=7, seed=9, batch_size=3).tensor
    assert torch.allclose(a, b, atol=1e-6)
    assert not torch.equal(a, pipe(labels=0, num_images=7, seed=10).tensor)


@pytest.mark.parametrize("kwargs,match", [
    (dict(labels="nope"), "unknown label"),
    (dict(labels=[1, 2], num_images=3), "2 labels for 3 images"),
    (dict(labels=99), "labels must be in"),
    (dict(text="a cat"), "takes"),
    (dict(labels=1, num_images=0), "at least 1"),
])
def test_clear_errors(cond_run, kwargs, match):
    pipe = Pipeline.from_pretrained(cond_run, device="cpu")
    with pytest.raises(ValueError, match=match):
        pipe(**{"num_images": 1, **kwargs})


def test_missing_path_is_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such run"):
        Pipeline.from_pretrained(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="holds no checkpoint"):
        Pipeline.from_pretrained(tmp_path / "empty")


def test_vector_pipeline_returns_data_units(tmp_path):
    cfg = tiny_config("model.family=mlp", "train.steps=2")
    ds = ring_dataset()
    resolve(cfg, ds)
    Trainer(cfg, tmp_path / "r", ds, log=lambda m: None).fit()
    pipe = Pipeline.from_pretrained(tmp_path / "r", device="cpu")
    out = pipe(num_images=50, seed=0)
    scale = cfg.model.extra["data_scale"]
    assert out.samples.shape == (50, 2)
    assert abs(out.samples).max() <= 1 / scale + 1e-5            # tanh range mapped back to data units


def test_vector_pipeline_with_linear_output_keeps_data_units(tmp_path):
    cfg = tiny_config("model.family=mlp", "train.steps=2", "model.extra.g_out=linear")
    ds = ring_dataset()
    resolve(cfg, ds)
    assert cfg.model.extra["data_scale"] == 1.0                 # no tanh range to squeeze the data into
    Trainer(cfg, tmp_path / "r", ds, log=lambda m: None).fit()
    pipe = Pipeline.from_pretrained(tmp_path / "r", device="cpu")
    assert pipe.generator.out_act == "linear"
    with torch.no_grad():
        pipe.generator.out.bias.fill_(5.0)                     # beyond tanh's range: a linear output reaches it
    assert pipe(num_images=20, seed=0).samples.mean() > 3


def test_unknown_generator_output_is_refused():
    from mmgan.models.mlp import MLPGenerator

    with pytest.raises(ValueError, match="g_out must be tanh or linear"):
        MLPGenerator(2, [2], [8], out="relu")


def test_bf16_generation_matches_fp32_within_bf16_rounding(cond_run):
    fp32 = Pipeline.from_pretrained(cond_run, device="cpu", bf16=False)
    bf16 = Pipeline.from_pretrained(cond_run, device="cpu", bf16=True)
    assert not fp32.bf16 and bf16.bf16
    a = fp32(labels=[0, 1, 2, 3], num_images=4, seed=1).tensor
    b = bf16(labels=[0, 1, 2, 3], num_images=4, seed=1).tensor
    assert b.dtype == torch.float32 and not torch.equal(a, b)
    assert (a - b).abs().max() < 0.05                     # bf16 keeps 8 bits of mantissa: ~1/256 relative


def test_compiled_generation_matches_eager(cond_run):
    eager = Pipeline.from_pretrained(cond_run, device="cpu", bf16=False)          # compile auto: eager on CPU
    fast = Pipeline.from_pretrained(cond_run, device="cpu", bf16=False, compile=True)
    assert eager.compile is None and fast.compile == "default"
    a = eager(labels=[0, 1, 2, 3], num_images=4, seed=1).tensor
    b = fast(labels=[0, 1, 2, 3], num_images=4, seed=1).tensor
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)


def test_auto_precision(monkeypatch):
    from mmgan import utils

    monkeypatch.setattr(utils, "_cpu_flags", lambda: {"avx2", "avx512_bf16"})
    assert utils.use_bf16("auto", "cpu", "dcgan", True)
    assert not utils.use_bf16("auto", "cpu", "mlp", False)           # the 2-D MLP stays fp32
    assert utils.use_bf16(True, "cpu", "mlp", False) and not utils.use_bf16(False, "cpu", "dcgan", True)
    monkeypatch.setattr(utils, "_cpu_flags", lambda: {"avx2", "avx512f"})   # emulated bf16 is slower: fp32
    assert not utils.use_bf16("auto", "cpu", "dcgan", True)
    with pytest.raises(ValueError, match="true, false or auto"):
        utils.use_bf16("yes", "cpu", "dcgan", True)
