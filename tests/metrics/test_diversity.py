"""diversity_ratio: the per-condition spread of generated samples against real items of the condition."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from helpers_metrics import one_thread  # noqa: F401  (autouse)
from mmgan.data.base import DataInfo, MemoryDataset
from mmgan.metrics import EvalContext
from mmgan.metrics.base import parse_metric_name, resolve_metric
from mmgan.metrics.diversity import diversity_per_condition, mean_pairwise_distance


def _groups(rng, k: int, n: int, spread: float, d: int = 16):
    """k conditions with their own centre, n feature rows each with the given spread around it."""
    centres = rng.normal(0, 5, (k, d))
    return [c + spread * rng.normal(0, 1, (n, d)) for c in centres], centres


def test_mean_pairwise_distance():
    assert mean_pairwise_distance(np.array([[0.0, 0.0], [3.0, 4.0]])) == pytest.approx(5.0)
    assert mean_pairwise_distance(np.zeros((7, 3))) == 0.0
    assert np.isnan(mean_pairwise_distance(np.zeros((1, 3))))


def test_identical_samples_give_ratio_zero():
    rng = np.random.default_rng(0)
    real, centres = _groups(rng, 6, 20, 1.0)
    collapsed = [np.repeat(c[None], 8, 0) for c in centres]          # one image per condition
    v = diversity_per_condition(collapsed, real)
    assert v["diversity_ratio"] == 0.0 and v["diversity"] == 0.0 and v["min_ratio"] == 0.0
    assert v["diversity_real"] > 1.0 and v["conditions"] == 6


def test_real_against_real_gives_about_one():
    rng = np.random.default_rng(1)
    a, _ = _groups(rng, 10, 64, 1.0)
    halves = [(x[:32], x[32:]) for x in a]                             # two draws of each condition
    v = diversity_per_condition([h[0] for h in halves], [h[1] for h in halves])
    assert v["diversity_ratio"] == pytest.approx(1.0, abs=0.05)
    # the spread between conditions does not count: only within one
    wide, _ = _groups(rng, 10, 8, 2.0)
    assert diversity_per_condition(wide, [h[1] for h in halves])["diversity_ratio"] == pytest.approx(2.0, rel=0.1)


def test_conditions_without_a_real_spread_are_left_out_and_named():
    rng = np.random.default_rng(2)
    gen = [rng.normal(0, 1, (8, 4)), rng.normal(0, 0.1, (8, 4)), rng.normal(0, 1, (8, 4))]
    real = [rng.normal(0, 1, (16, 4)), rng.normal(0, 1, (16, 4)), rng.normal(0, 1, (1, 4))]
    v = diversity_per_condition(gen, real, ["a", "b", "c"])
    assert v["conditions"] == 2 and v["most_collapsed"] == "b" and v["min_ratio"] < 0.2
    with pytest.raises(ValueError, match="2 generated groups but 3 real"):
        diversity_per_condition(gen[:2], real)
    with pytest.raises(ValueError, match="no conditions"):
        diversity_per_condition([], [])


def test_the_metric_is_named_after_its_value_and_the_old_name_still_resolves():
    assert parse_metric_name("diversity_ratio") == ("diversity_ratio", None)
    assert parse_metric_name("diversity_ratio400") == ("diversity_ratio", 400)
    assert parse_metric_name("diversity") == ("diversity_ratio", None)
    assert resolve_metric("diversity200")[3] == "diversity_ratio200"


def _captioned(n: int = 40) -> MemoryDataset:
    g = torch.Generator().manual_seed(0)
    attrs = torch.stack([torch.arange(n) % 2, (torch.arange(n) // 2) % 3], 1)
    attrs[-1] = torch.tensor([1, 2])
    attrs[-2] = torch.tensor([1, 2])
    text = [f"caption {i}" for i in range(n)]
    info = DataInfo("cap", "image", (3, 8, 8), num_classes=2, attributes={"shape": ["o", "x"], "color": list("rgb")})
    return MemoryDataset(info, {"image": torch.rand(n, 3, 8, 8, generator=g) * 2 - 1, "label": attrs[:, 0].clone(),
                                "attributes": attrs, "text": text})


def _ctx(ds, modalities):
    pipe = SimpleNamespace(modalities=modalities, config={"data": {"name": "cap"}})
    return EvalContext(pipe, {"name": "cap"}, train_ds=ds, progress=False, log=lambda m: None)


def test_conditions_are_grouped_by_attribute_combination_then_caption_then_label():
    ds = _captioned()
    keys, by = _ctx(ds, ["text"]).condition_keys()
    assert by == "attribute combination" and len(np.unique(keys)) == 6
    a = ds.columns["attributes"].numpy()
    assert all((keys == keys[i]).sum() == (a == a[i]).all(1).sum() for i in range(len(ds)))
    ctx = _ctx(ds, ["text"])
    assert ctx.describe_key(0) == "shape=o color=r"
    no_attr = MemoryDataset(ds.info, {k: v for k, v in ds.columns.items() if k != "attributes"})
    assert _ctx(no_attr, ["audio"]).condition_keys()[1] == "caption"
    assert _ctx(ds, ["label"]).condition_keys()[1] == "class"


def test_grouped_conditions_use_distinct_groups_with_a_real_spread():
    ds = _captioned()
    ctx = _ctx(ds, ["text"])
    keys, _ = ctx.condition_keys()
    rows = ctx._group_rows(6, np.random.default_rng(0))
    assert len(set(keys[rows].tolist())) == 6                         # every group once
    rows = ctx._group_rows(14, np.random.default_rng(0))
    counts = np.bincount(keys[rows])
    assert counts.max() - counts[counts > 0].min() <= 1               # cycled evenly when asked for more
