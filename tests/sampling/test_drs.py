"""Discriminator rejection sampling: the critic, the Pipeline's rejection loop, the trainer hook and
`mmgan calibrate` / `mmgan generate --no-drs`."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from mmgan.cli import main
from mmgan.conditioning import Conditioner
from mmgan.pipeline import Pipeline
from mmgan.sampling import load_critic, save_critic
from mmgan.training.critic import fit_critic
from mmgan.training import latest_checkpoint

CENTRES = torch.tensor([[-0.5, 0.0], [0.5, 0.0]])
MODEL = {"family": "mlp", "z_dim": 3, "data_dim": 2, "d_hidden": [64, 64], "g_hidden": [8], "extra": {}}


class SpreadG(torch.nn.Module):
    """A 'generator' with the right two modes, each ten times too wide: most samples miss the data."""

    def forward(self, z, c=None, **_):
        return CENTRES.to(z.device)[(z[:, 2] > 0).long()] + 0.2 * z[:, :2]


def real_batch(n, g):
    return CENTRES[torch.randint(0, 2, (n,), generator=g)] + 0.02 * torch.randn(n, 2, generator=g)


@pytest.fixture(scope="module")
def critic():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    draw = lambda: (real_batch(256, g), None, {}, torch.randn(256, 3))   # noqa: E731
    return fit_critic(SpreadG(), draw, MODEL, steps=300, lr=2e-3, calib=4000)


def pipeline(critic=None):
    cfg = {"model": dict(MODEL), "data": {"kind": "vector", "name": "two-points"}, "conditioner": {}}
    return Pipeline(SpreadG(), Conditioner(), cfg, device="cpu", critic=critic)


def near_share(x, radius=0.06):
    d = torch.cdist(torch.as_tensor(x), CENTRES)
    return float((d.min(1).values < radius).float().mean()), d.argmin(1)


def test_rejection_moves_samples_onto_the_data(critic):
    plain = pipeline(critic)(num_images=1000, seed=0, drs=False)
    out = pipeline(critic)(num_images=1000, seed=0)                       # a critic is used by default
    share_plain, _ = near_share(plain.samples)
    share, which = near_share(out.samples)
    assert share_plain < 0.1 and share > 0.6, (share_plain, share)
    assert 0.3 < float((which == 0).float().mean()) < 0.7                    # both modes kept
    assert out.drs["accepted"] == 1000 and out.drs["forced"] == 0
    assert out.drs["proposals"] > 1000 and math.isclose(out.drs["accept_rate"], 1000 / out.drs["proposals"])
    assert not plain.drs


def test_rejection_is_deterministic_per_seed_and_drs_false_is_plain(critic):
    p = pipeline(critic)
    a = p(num_images=50, seed=3).tensor
    assert torch.equal(a, p(num_images=50, seed=3).tensor)
    assert not torch.equal(a, p(num_images=50, seed=4).tensor)
    z = torch.randn(50, 3, generator=torch.Generator().manual_seed(3))
    assert torch.allclose(p(num_images=50, seed=3, drs=False).tensor, SpreadG()(z))


def test_gamma_keeps_more(critic):
    p = pipeline(critic)
    tight, loose = p(num_images=400, seed=1), p(num_images=400, seed=1, drs_gamma=3.0)
    assert loose.drs["accept_rate"] > tight.drs["accept_rate"]


def test_open_slots_keep_their_best_proposal(critic, monkeypatch):
    import copy

    hard = copy.copy(critic)
    hard.bound = 1e6                                            # nothing is ever accepted
    monkeypatch.setattr(Pipeline, "MAX_ROUNDS", 20)
    out = pipeline(hard)(num_images=200, seed=0)
    assert out.drs["forced"] == 200 and out.drs["accepted"] == 0
    share, _ = near_share(out.samples, radius=0.15)             # the best of 21 proposals lean to the data
    assert share > near_share(pipeline()(num_images=200, seed=0).samples, radius=0.15)[0] + 0.2


def test_errors_name_the_fix(critic):
    with pytest.raises(ValueError, match="mmgan calibrate"):
        pipeline()(num_images=4, drs=True)
    with pytest.raises(ValueError, match="seed="):
        pipeline(critic)(num_images=4, z=torch.zeros(4, 3), drs=True)
    z = torch.randn(4, 3)                                         # given latents: exactly G(z)
    assert torch.allclose(pipeline(critic)(num_images=4, z=z).tensor, SpreadG()(z))


def test_critic_round_trip(critic, tmp_path):
    save_critic(critic, tmp_path)
    back = load_critic(tmp_path)
    x = torch.rand(64, 2) * 2 - 1
    assert torch.allclose(critic.logits(x), back.logits(x)) and back.bound == critic.bound
    assert back.info["fake_acc"] > 0.8 and 0 < back.info["accept_rate"] < 1
    assert load_critic(tmp_path / "none") is None
    (tmp_path / "critic.json").write_text('{"format": "other"}')
    with pytest.raises(ValueError, match="not an mmgan critic"):
        load_critic(tmp_path)


FAST = ["--set", "train.progress=false", "--set", "train.tensorboard=false", "--set", "train.batch_size=64",
        "--set", "model.g_hidden=[32,32]", "--set", "model.d_hidden=[32,32]", "--set", "data.n=1000",
        "--set", "family=mlp"]


def test_train_hook_calibrate_generate_and_export(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--data", "ring8", *FAST, "--set", "train.drs_steps=30", "--steps", "3",
                 "--out", str(run)]) == 0
    ckpt = latest_checkpoint(run)
    assert (ckpt / "critic.json").exists() and (ckpt / "critic.safetensors").exists()
    assert "DRS critic (30 of 30 steps)" in capsys.readouterr().err
    before = (ckpt / "critic.safetensors").read_bytes()
    assert main(["info", str(run)]) == 0
    assert "rejection sampling: on: critic of 30 steps" in capsys.readouterr().out
    assert main(["calibrate", str(run), "--steps", "20"]) == 0
    assert (ckpt / "critic.safetensors").read_bytes() != before
    assert main(["generate", str(run), "-n", "20", "--out", str(tmp_path / "a")]) == 0
    assert main(["generate", str(run), "-n", "20", "--no-drs", "--out", str(tmp_path / "b")]) == 0
    a, b = np.load(tmp_path / "a" / "samples.npy"), np.load(tmp_path / "b" / "samples.npy")
    assert a.shape == b.shape == (20, 2) and not np.allclose(a, b)
    assert main(["eval", str(run), "--metrics", "modes", "--samples", "500", "--drs", "--no-report", "--quiet"]) == 0
    assert main(["eval", str(run), "--metrics", "modes", "--samples", "500", "--no-report", "--quiet"]) == 0
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["sampler"] for r in rows] == ["rejection (drs)", "G(z)"]
    assert main(["eval", str(run), "--metrics", "modes", "--weights", "G", "--drs", "--no-report", "--quiet"]) == 1
    assert "mmgan calibrate" in capsys.readouterr().err
    pipe = Pipeline.from_pretrained(run, device="cpu")
    pipe.save_pretrained(tmp_path / "export")
    again = Pipeline.from_pretrained(tmp_path / "export", device="cpu")
    assert again.critic is not None
    assert np.allclose(pipe(num_images=30, seed=2).samples, again(num_images=30, seed=2).samples)
    assert Pipeline.from_pretrained(run, device="cpu", weights="G").critic is None   # fitted to G_ema only


def test_calibrate_errors(tmp_path, capsys):
    assert main(["calibrate", str(tmp_path / "missing")]) == 1
    assert "no checkpoint to calibrate" in capsys.readouterr().err
    assert main(["train", "--data", "ring8", *FAST, "--set", "train.drs_steps=5", "--set", "loss.phases=cycle",
                 "--steps", "1", "--out", str(tmp_path / "r")]) == 1
    assert "rejection sampling needs a discriminator that scores one sample" in capsys.readouterr().err
