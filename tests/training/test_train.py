"""Training smoke tests per family, resume equivalence, roll-back on non-finite losses, checkpoints."""
from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from _tiny import image_dataset, ring_dataset, tiny_config
from mmgan.training import Trainer, TrainingDiverged, latest_checkpoint
from mmgan.training.setup import resolve


def _fit(cfg, ds, run, resume=False):
    resolve(cfg, ds)
    return Trainer(cfg, run, ds, log=lambda m: None).fit(resume=resume)


@pytest.mark.parametrize("family,ds_fn,extra", [
    ("mlp", ring_dataset, []),
    ("mlp", ring_dataset, ["condition=[label]", "loss.name=wgan-gp", "pack=2"]),
    ("dcgan", image_dataset, []),
    ("dcgan", image_dataset, ["condition=[label]", "acgan=true", "acgan_twin=true", "diffaug=translation,color,cutout",
                              "r1_gamma=1", "mode_seeking=1", "mbstd=true", "spectral_norm=true"]),
    ("dcgan", image_dataset, ["loss.name=lsgan", "train.bf16=true", "n_critic=2"]),
    ("mlp", image_dataset, ["loss.name=ns", "condition=[label]", "g_cond=concat", "d_cond=concat"]),
])
def test_two_step_smoke(tmp_path, family, ds_fn, extra):
    cfg = tiny_config(f"model.family={family}", *extra)
    res = _fit(cfg, ds_fn(), tmp_path / "run")
    assert res.step == 2
    ck = latest_checkpoint(tmp_path / "run")
    assert ck is not None and ck.name == "step-00000002"
    for f in ("G.safetensors", "G_ema.safetensors", "D.safetensors", "meta.json", "resume.safetensors"):
        assert (ck / f).exists()
    assert (tmp_path / "run" / "samples" / "final.png").exists()
    assert (tmp_path / "run" / "loss.png").exists()


def _weights(run):
    ck = latest_checkpoint(run)
    return {f: load_file(str(ck / f)) for f in ("G.safetensors", "G_ema.safetensors", "D.safetensors")}


@pytest.mark.parametrize("family,ds_fn,extra", [
    ("mlp", ring_dataset, ["condition=[label]"]),
    ("dcgan", image_dataset, ["diffaug=translation,cutout", "r1_gamma=0.5", "r1_every=2"]),
])
def test_resume_equivalence(tmp_path, family, ds_fn, extra):
    """On CPU with a fixed seed, 6 steps + resume to 12 ends with the same weights as 12 straight."""
    over = [f"model.family={family}", "train.ckpt_every=3", "train.seed=7", *extra]
    ds = ds_fn()
    _fit(tiny_config(*over, "train.steps=12"), ds, tmp_path / "straight")
    _fit(tiny_config(*over, "train.steps=6"), ds, tmp_path / "split")
    res = _fit(tiny_config(*over, "train.steps=12"), ds, tmp_path / "split", resume=True)
    assert res.step == 12
    a, b = _weights(tmp_path / "straight"), _weights(tmp_path / "split")
    for f in a:
        for k in a[f]:
            assert torch.equal(a[f][k], b[f][k]), f"{f}:{k} differs after resume"


def test_checkpoints_pruned_and_latest(tmp_path):
    cfg = tiny_config("model.family=mlp", "train.steps=10", "train.ckpt_every=2", "train.keep_checkpoints=2")
    _fit(cfg, ring_dataset(), tmp_path / "r")
    steps = sorted(p.name for p in (tmp_path / "r" / "checkpoints").glob("step-*"))
    assert steps == ["step-00000008", "step-00000010"]
    assert (tmp_path / "r" / "checkpoints" / "latest").read_text().strip() == "step-00000010"


def test_zero_intervals_turn_grids_checkpoints_and_logs_off(tmp_path):
    cfg = tiny_config("model.family=mlp", "train.steps=5", "train.sample_every=0", "train.ckpt_every=0",
                      "train.log_every=0")
    res = _fit(cfg, ring_dataset(), tmp_path / "r")
    assert res.step == 5
    steps = sorted(p.name for p in (tmp_path / "r" / "checkpoints").glob("step-*"))
    assert steps == ["step-00000000", "step-00000005"]           # the start state and the end, nothing between
    assert not list((tmp_path / "r" / "samples").glob("step-*"))
    logged = [json.loads(line)["step"] for line in (tmp_path / "r" / "log.jsonl").read_text().splitlines()]
    assert [s for s in logged if isinstance(s, int)] == [1]


def test_leftover_partial_checkpoint_is_ignored(tmp_path):
    cfg = tiny_config("model.family=mlp", "train.steps=4", "train.ckpt_every=2")
    _fit(cfg, ring_dataset(), tmp_path / "r")
    root = tmp_path / "r" / "checkpoints"
    # a write killed half-way: temp folder and a step folder without meta.json
    (root / ".tmp-step-00000006-1").mkdir()
    (root / "step-00000006").mkdir()
    (root / "step-00000006" / "G.safetensors").write_bytes(b"partial")
    (root / "latest").write_text("step-00000006\n")
    assert latest_checkpoint(tmp_path / "r").name == "step-00000004"
    res = _fit(tiny_config("model.family=mlp", "train.steps=6", "train.ckpt_every=2"), ring_dataset(),
               tmp_path / "r", resume=True)
    assert res.step == 6 and not (root / ".tmp-step-00000006-1").exists()


class _NaNOnce:
    """Make train_step report a non-finite loss on chosen calls."""

    def __init__(self, trainer, bad_calls):
        self.trainer, self.bad, self.calls = trainer, set(bad_calls), 0
        self.orig = trainer.train_step

    def __call__(self):
        self.calls += 1
        stats = self.orig()
        if self.calls in self.bad:
            stats["loss/G"] = torch.tensor(float("nan"))
        return stats


def test_nonfinite_rolls_back_with_lower_lr(tmp_path):
    cfg = tiny_config("model.family=mlp", "train.steps=8", "train.ckpt_every=2", "train.lr_g=0.001")
    ds = ring_dataset()
    resolve(cfg, ds)
    tr = Trainer(cfg, tmp_path / "r", ds, log=lambda m: None)
    tr.train_step = _NaNOnce(tr, {5})
    res = tr.fit()
    assert res.step == 8 and res.rollbacks == 1
    assert tr.opt_G.param_groups[0]["lr"] == pytest.approx(0.0005)
    meta = json.loads((latest_checkpoint(tmp_path / "r") / "meta.json").read_text())
    assert meta["lr_scale"] == 0.5 and meta["rollbacks"] == 1


def test_second_nonfinite_stops_and_keeps_checkpoint(tmp_path):
    cfg = tiny_config("model.family=mlp", "train.steps=20", "train.ckpt_every=2")
    ds = ring_dataset()
    resolve(cfg, ds)
    tr = Trainer(cfg, tmp_path / "r", ds, log=lambda m: None)
    tr.train_step = _NaNOnce(tr, {5, 8})
    with pytest.raises(TrainingDiverged, match="last good checkpoint"):
        tr.fit()
    ck = latest_checkpoint(tmp_path / "r")
    assert ck is not None
    w = load_file(str(ck / "G.safetensors"))
    assert all(torch.isfinite(v).all() for v in w.values())


def test_optimizers_use_the_fused_adam_kernel(tmp_path):
    cfg = tiny_config("model.family=mlp")
    ds = ring_dataset()
    resolve(cfg, ds)
    tr = Trainer(cfg, tmp_path / "r", ds, log=lambda m: None)
    assert tr.opt_G.defaults["fused"] and tr.opt_D.defaults["fused"]


def test_one_generator_forward_per_step_when_fakes_are_reused(tmp_path):
    counts = {}
    for reuse in (True, False):
        cfg = tiny_config("model.family=dcgan", f"loss.reuse_fakes={str(reuse).lower()}")
        ds = image_dataset()
        resolve(cfg, ds)
        tr = Trainer(cfg, tmp_path / f"r{reuse}", ds, log=lambda m: None)
        calls = []
        tr.G.register_forward_hook(lambda *a, calls=calls: calls.append(1))
        tr.train_step()
        counts[reuse] = len(calls)
    assert counts == {True: 1, False: 2}


def test_thread_setting(tmp_path):
    before = torch.get_num_threads()
    try:
        cfg = tiny_config("model.family=mlp", "train.threads=1")
        ds = ring_dataset()
        resolve(cfg, ds)
        Trainer(cfg, tmp_path / "r", ds, log=lambda m: None)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_bf16_auto_follows_the_hardware(tmp_path, monkeypatch):
    from mmgan import utils

    ds = image_dataset()
    for flags, want in (({"avx512_bf16"}, True), ({"avx2"}, False)):
        monkeypatch.setattr(utils, "_cpu_flags", lambda flags=flags: flags)
        cfg = tiny_config("model.family=dcgan")              # train.bf16 defaults to auto
        resolve(cfg, ds)
        assert Trainer(cfg, tmp_path / f"r{want}", ds, log=lambda m: None).bf16 is want
    monkeypatch.setattr(utils, "_cpu_flags", lambda: {"avx512_bf16"})
    cfg = tiny_config("model.family=mlp")
    resolve(cfg, ring_dataset())
    assert Trainer(cfg, tmp_path / "mlp", ring_dataset(), log=lambda m: None).bf16 is False   # 2-D MLP: fp32


def test_compiled_training_matches_eager(tmp_path):
    """train.compile=true: G and D run through torch.compile (R1's double backward calls D eagerly);
    the same seed gives the same weights as eager training, to float rounding."""
    weights = {}
    for comp in ("false", "true"):
        cfg = tiny_config("model.family=dcgan", "train.bf16=false", "loss.r1_gamma=1", "loss.r1_every=2",
                          "condition=[label]", "acgan=true", "train.steps=3", f"train.compile={comp}")
        ds = image_dataset()
        resolve(cfg, ds)
        tr = Trainer(cfg, tmp_path / comp, ds, log=lambda m: None)
        assert tr.compile == (None if comp == "false" else "default")
        tr.fit()
        weights[comp] = tr.G.state_dict()
    assert isinstance(tr.loss.D_run, torch._dynamo.eval_frame.OptimizedModule)
    for k, v in weights["false"].items():
        torch.testing.assert_close(weights["true"][k], v, atol=1e-5, rtol=1e-4)


def test_compile_setting(tmp_path, monkeypatch):
    from mmgan import utils

    assert utils.compile_mode("auto", "cpu") is None                 # measured slower than eager on CPU
    assert utils.compile_mode("auto", "cuda") == "default"
    assert utils.compile_mode(True, "cpu") == "default" and utils.compile_mode(False, "cuda") is None
    with pytest.raises(ValueError, match="captures CUDA graphs and needs a CUDA device"):
        utils.compile_mode("reduce-overhead", "cpu")
    with pytest.raises(ValueError, match="compile must be true, false, auto or a torch.compile mode"):
        utils.compile_mode("fast", "cpu")
    monkeypatch.setattr(utils.shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="needs a C\\+\\+ compiler"):
        utils.compile_mode(True, "cpu")
    monkeypatch.undo()
    cfg = tiny_config("model.family=dcgan", "loss.phases=multistage", "train.compile=true")
    resolve(cfg, image_dataset())
    with pytest.raises(ValueError, match="compiled training supports the phases standard, stylegan2"):
        Trainer(cfg, tmp_path / "r", image_dataset(), log=lambda m: None)


def test_acgan_needs_labelled_data_a_condition_and_phases_that_train_it():
    """AC-GAN's classifier learns the data's labels, whatever the condition; without labels, or without any
    condition to name a class, it could not, and says so."""
    from mmgan.config import ConfigError
    from mmgan.data.base import DataInfo, MemoryDataset

    with pytest.raises(ConfigError, match="model.acgan needs a condition that names the class"):
        resolve(tiny_config("model.family=dcgan", "acgan=true"), image_dataset())
    ds = image_dataset()
    unlabelled = MemoryDataset(DataInfo("no-labels", "image", ds.info.shape), {"image": ds.columns["image"],
                                                                              "text": ds.columns["text"]})
    with pytest.raises(ConfigError, match="model.acgan needs labels: dataset 'no-labels' has none"):
        resolve(tiny_config("model.family=dcgan", "condition=[text]", "acgan=true"), unlabelled)
    with pytest.raises(ConfigError, match="the matching phases train no classifier head"):     # not ignored
        resolve(tiny_config("model.family=dcgan", "condition=[label]", "acgan=true", "loss.phases=matching"),
                image_dataset())


def test_a_loss_option_the_phases_do_not_read_is_refused():
    """loss.recon and loss.contrastive belong to the matching and multistage phases; set with others they would
    be ignored without a word."""
    from mmgan.config import ConfigError

    with pytest.raises(ConfigError, match="loss.recon=1.0 does nothing with loss.phases='standard'; it is read by "
                                          ".*matching"):
        resolve(tiny_config("model.family=dcgan", "condition=[label]", "loss.recon=1"), image_dataset())
    resolve(tiny_config("model.family=dcgan", "condition=[label]", "loss.phases=matching", "loss.recon=1"),
            image_dataset())


def test_twin_classifier_needs_the_acgan_head():
    from mmgan.config import ConfigError

    cfg = tiny_config("model.family=dcgan", "condition=[label]", "acgan_twin=true")
    with pytest.raises(ConfigError, match="model.acgan_twin .TAC-GAN. is a second classifier head"):
        resolve(cfg, image_dataset())
