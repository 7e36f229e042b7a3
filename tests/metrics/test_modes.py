"""Mode coverage on constructed samples, and metric names with sample counts."""
from __future__ import annotations

import math

import numpy as np
import pytest
from helpers_metrics import one_thread  # noqa: F401  (autouse)

from mmgan.data.mixtures import grid_means, ring_means
from mmgan.metrics import parse_metric_name, resolve_metric
from mmgan.metrics.modes import channel_stats, kl, kl_to_uniform, label_modes, mixture_modes
from mmgan.registry import UnknownNameError


def test_samples_exactly_on_modes_capture_all_with_full_quality():
    means = ring_means(8)
    x = np.repeat(means, 50, axis=0)
    res = mixture_modes(x, means, 0.01)
    assert res == {"modes": 8.0, "hq_percent": 100.0, "kl": pytest.approx(0.0, abs=1e-12)}


def test_all_samples_at_one_mode():
    means = grid_means()
    x = np.tile(means[7], (2500, 1)) + 0.01 * np.random.default_rng(0).standard_normal((2500, 2))
    res = mixture_modes(x, means, 0.05)
    assert res["modes"] == 1.0 and res["hq_percent"] == 100.0
    assert res["kl"] == pytest.approx(math.log(25))


def test_far_samples_are_not_high_quality():
    means = ring_means(8)
    x = np.concatenate([means[:4], means[:4] * 1.5])           # half within 3 sigma, half far off
    res = mixture_modes(x, means, 0.01)
    assert res["modes"] == 4.0 and res["hq_percent"] == 50.0
    assert res["kl"] == pytest.approx(math.log(2))             # uniform over 4 of 8 modes


def test_stacked_label_modes_and_kl():
    labels = np.arange(26_000) % 1000
    assert label_modes(labels, 1000) == {"modes": 1000.0, "kl": pytest.approx(0.0, abs=1e-12)}
    res = label_modes(np.full(100, 123), 1000)
    assert res["modes"] == 1.0 and res["kl"] == pytest.approx(math.log(1000))
    assert kl_to_uniform([0, 0]) != kl_to_uniform([0, 0])      # nan for an empty histogram
    assert kl([1, 1], [1, 3]) == pytest.approx(0.5 * math.log(0.5 / 0.25) + 0.5 * math.log(0.5 / 0.75))


def _joint(channel_probs):                                      # (n, 3, 10) -> (n, 1000), as the classifier gives it
    import torch

    from mmgan.metrics.features import PerChannelFeatures

    return PerChannelFeatures._joint(torch.as_tensor(np.asarray(channel_probs))).numpy()


def test_channel_stats_split_the_kl_and_count_uncertain_digits():
    sure = np.eye(10)[np.arange(1000) % 10]                        # every digit equally often, read with certainty
    res = channel_stats(_joint(np.stack([sure, sure[::-1], sure], 1)))
    assert res == {"channel_kl": pytest.approx(0.0, abs=1e-12), "uncertain_pct": 0.0}
    half = np.full((1000, 10), 0.5 / 9)                            # red is always a 7 read at 0.5: uncertain
    half[:, 7] = 0.5
    res = channel_stats(_joint(np.stack([half, sure, sure], 1)))
    assert res["uncertain_pct"] == pytest.approx(100 / 3)
    assert res["channel_kl"] == pytest.approx(math.log(10))      # red's histogram is one digit; G and B uniform


@pytest.mark.parametrize("name,base,num", [("fid10k", "fid", 10_000), ("kid1.5k", "kid", 1_500), ("pr500", "pr", 500),
                                           ("intra_fid2k", "intra_fid", 2_000), ("cas", "cas", None),
                                           ("DC50K", "dc", 50_000), ("is10k", "is", 10_000)])
def test_metric_names_carry_sample_counts(name, base, num):
    assert parse_metric_name(name) == (base, num)


def test_canonical_names_and_unknown_names():
    assert resolve_metric("fid")[3] == "fid10k"
    assert resolve_metric("fid10k", samples=2000)[3] == "fid2k"
    assert resolve_metric("cond_acc")[3] == "cond_acc"
    with pytest.raises(UnknownNameError, match="valid metrics"):
        parse_metric_name("fidd10k")
    with pytest.raises(ValueError):
        parse_metric_name("fid0.0001k")


class _ReplayPipe:
    """A stand-in generator that replays the reference images: its samples are the real data."""
    config = {"data": {"name": "stacked-mnist", "kind": "image"}}
    modalities: list = []
    model_config = {"z_dim": 4}

    def __init__(self, images):
        import torch

        self.images, self.at, self.conditioner = images, 0, torch.nn.Identity()

    def __call__(self, z=None, num_images=1, output_type="pt", **_):
        from types import SimpleNamespace

        idx = [(self.at + i) % len(self.images) for i in range(num_images)]
        self.at += num_images
        return SimpleNamespace(tensor=self.images[idx])


def test_stacked_modes_metric_reports_channel_diagnostics_against_the_real_split():
    import torch

    from mmgan.data import load_dataset
    from mmgan.metrics import compute_metrics
    from mmgan.metrics.context import EvalContext
    from mmgan.metrics.features import ConvFeatures, ConvNet, PerChannelFeatures

    torch.manual_seed(0)
    ds = load_dataset("stacked-mnist", n=60, seed=1)
    net = PerChannelFeatures(ConvFeatures(ConvNet(1, 28, {"label": 10}, 4, 8), {"id": "tiny"}).eval())
    ctx = EvalContext(_ReplayPipe(ds.columns["image"]), {"name": "stacked-mnist"}, train_ds=ds, features=net,
                      progress=False, log=lambda m: None)
    res = compute_metrics(ctx, ["modes"], 60, strict=True, verbose=False).results[0]
    real = channel_stats(net.extract(ds.columns["image"])["probs"])
    assert res.values["uncertain_pct"] == pytest.approx(real["uncertain_pct"])
    assert res.values["uncertain_pct_real"] == pytest.approx(real["uncertain_pct"])
    assert res.values["channel_kl"] == pytest.approx(real["channel_kl"])
    assert 0 <= res.values["channel_kl"] <= res.values["kl"] + 1e-9      # the channels' part never exceeds the whole
    assert "uncertain_pct" in res.protocol and "channel_kl" in res.protocol
