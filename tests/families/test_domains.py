"""Built-in two-domain datasets for unpaired translation (mmgan.data.domains)."""
from __future__ import annotations

import torch

from mmgan.data import list_datasets, load_dataset
from mmgan.data.domains import PALETTES
from mmgan.data.shapes import COLORS


def test_registered():
    assert {"shapes-palette", "mnist-rotated"} <= set(list_datasets())


def test_shapes_palette_domains_are_palettes():
    ds = load_dataset("shapes-palette", n=60, seed=1, resolution=16)
    dom, attrs = ds.columns["label"], ds.columns["attributes"]
    assert ds.info.class_names == ["warm", "cool"] and ds.info.num_classes == 2
    assert ds.columns["image"].shape == (60, 3, 16, 16) and set(dom.tolist()) == {0, 1}
    for d, name in enumerate(PALETTES):
        colours = {COLORS[i] for i in attrs[dom == d, 1].tolist()}
        assert colours <= set(PALETTES[name])
    again = load_dataset("shapes-palette", n=60, seed=1, resolution=16)
    assert torch.equal(again.columns["image"], ds.columns["image"])             # deterministic
    test = load_dataset("shapes-palette", split="test", n=60, seed=1, resolution=16)
    assert not torch.equal(test.columns["image"], ds.columns["image"])          # splits draw apart


def test_mnist_rotated_domains():
    ds = load_dataset("mnist-rotated", split="test")
    dom, n = ds.columns["label"], len(ds)
    assert ds.info.class_names == ["upright", "rotated"] and ds.columns["image"].shape == (n, 1, 28, 28)
    assert ds.columns["attributes"].shape == (n, 1) and ds.columns["attributes"].max() < 10
    assert 0.4 < dom.float().mean() < 0.6
    plain = load_dataset("mnist", split="test")                                  # the same digits, same order
    x, y = ds.columns["image"], plain.columns["image"]
    assert torch.equal(x[dom == 0], y[dom == 0])
    assert torch.equal(torch.rot90(y[dom == 1], 1, dims=(2, 3)), x[dom == 1])
