"""Mode coverage on constructed samples, and metric names with sample counts."""
from __future__ import annotations

import math

import numpy as np
import pytest
from helpers_metrics import one_thread  # noqa: F401  (autouse)

from mmgan.data.mixtures import grid_means, ring_means
from mmgan.metrics import parse_metric_name, resolve_metric
from mmgan.metrics.modes import kl, kl_to_uniform, label_modes, mixture_modes
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
