"""Built-in datasets: columns, shapes, label ranges, determinism, splits."""
import math

import numpy as np
import pytest
import torch

from mmgan.data import DataError, list_datasets, load_dataset, shapes_heldout_combinations
from mmgan.data.shapes import TEMPLATES


def test_registered_names():
    assert {"ring8", "grid25", "digits", "mnist", "stacked-mnist", "shapes"} <= set(list_datasets())


def test_ring8_means_and_columns():
    ds = load_dataset("ring8", n=4000, seed=3)
    v, y = ds.columns["vector"], ds.columns["label"]
    assert v.shape == (4000, 2) and v.dtype == torch.float32 and y.dtype == torch.int64
    assert ds.info.kind == "vector" and ds.info.shape == (2,) and ds.info.extra["sigma"] == 0.01
    means = np.array(ds.info.extra["means"])
    assert means.shape == (8, 2)
    assert np.allclose(np.linalg.norm(means, axis=1), 1.0)
    for i in range(8):  # exactly (cos 2*pi*i/8, sin 2*pi*i/8): 8 distinct centres, none repeated
        assert np.allclose(means[i], [math.cos(2 * math.pi * i / 8), math.sin(2 * math.pi * i / 8)])
    assert len({tuple(np.round(m, 6)) for m in means}) == 8
    assert set(y.tolist()) == set(range(8))
    # every point sits near its own mode
    d = (v - torch.tensor(means, dtype=torch.float32)[y]).norm(dim=1)
    assert d.max() < 0.06


def test_grid25_centres():
    ds = load_dataset("grid25", n=3000)
    means = {tuple(m) for m in ds.info.extra["means"]}
    assert means == {(float(x), float(y)) for x in (-4, -2, 0, 2, 4) for y in (-4, -2, 0, 2, 4)}
    assert ds.info.extra["sigma"] == 0.05 and ds.info.num_classes == 25
    assert ds.columns["label"].max() < 25


def test_mixture_determinism_and_splits():
    a, b = load_dataset("ring8", n=500, seed=1), load_dataset("ring8", n=500, seed=1)
    assert torch.equal(a.columns["vector"], b.columns["vector"]) and a.info.version == b.info.version
    assert not torch.equal(a.columns["vector"], load_dataset("ring8", n=500, seed=2).columns["vector"])
    assert not torch.equal(a.columns["vector"], load_dataset("ring8", n=500, seed=1, split="test").columns["vector"])
    assert len(load_dataset("ring8")) == 100_000
    with pytest.raises(DataError, match="valid splits"):
        load_dataset("ring8", split="heldout")


def test_digits_splits_and_captions():
    tr, te, al = (load_dataset("digits", split=s) for s in ("train", "test", "all"))
    assert len(al) == 1797 and len(tr) + len(te) == 1797 and 0.1 < len(te) / 1797 < 0.2
    assert tr.info.shape == (1, 8, 8) and tr.columns["image"].min() >= -1 and tr.columns["image"].max() <= 1
    assert tr.columns["label"].min() == 0 and tr.columns["label"].max() == 9
    assert tr.info.class_names[7] == "seven" and tr.info.num_classes == 10
    assert len(tr.columns["text"]) == len(tr)
    sevens = {t for t, y in zip(tr.columns["text"], tr.columns["label"].tolist()) if y == 7}
    assert len(sevens) >= 6 and all("7" in t or "seven" in t for t in sevens)
    # the split does not depend on the seed; captions do
    tr2 = load_dataset("digits", seed=5)
    assert torch.equal(tr.columns["image"], tr2.columns["image"]) and tr.columns["text"] != tr2.columns["text"]
    small = load_dataset("digits", n=40, seed=2, resolution=16)
    assert small.columns["image"].shape == (40, 1, 16, 16)
    assert small.columns["text"] == load_dataset("digits", n=40, seed=2, resolution=16).columns["text"]


def test_mnist_and_channels():
    ds = load_dataset("mnist", n=30, seed=0)
    assert ds.columns["image"].shape == (30, 1, 28, 28) and ds.info.num_classes == 10
    rgb = load_dataset("mnist", n=30, seed=0, channels=3)
    assert rgb.info.shape == (3, 28, 28) and torch.equal(rgb.columns["image"][:, 1], ds.columns["image"][:, 0])
    assert len(load_dataset("mnist", split="test")) + len(load_dataset("mnist", split="train")) == 5000
    with pytest.raises(DataError, match="n=9000"):
        load_dataset("mnist", n=9000)


def test_stacked_mnist():
    ds = load_dataset("stacked-mnist", n=40, seed=4)
    a, y = ds.columns["attributes"], ds.columns["label"]
    assert ds.columns["image"].shape == (40, 3, 28, 28) and ds.info.num_classes == 1000
    assert torch.equal(y, a[:, 0] * 100 + a[:, 1] * 10 + a[:, 2]) and a.min() >= 0 and a.max() <= 9
    assert list(ds.info.attributes) == ["red", "green", "blue"]
    assert torch.equal(ds.columns["image"], load_dataset("stacked-mnist", n=40, seed=4).columns["image"])


def test_shapes_columns_captions_determinism():
    ds = load_dataset("shapes", n=240, seed=7)
    x, a = ds.columns["image"], ds.columns["attributes"]
    assert x.shape == (240, 3, 32, 32) and x.min() >= -1 and x.max() <= 1
    assert list(ds.info.attributes) == ["shape", "color", "size", "position"]
    assert len(ds.info.attributes["shape"]) >= 4 and len(ds.info.attributes["color"]) == 6
    assert torch.equal(ds.columns["label"], a[:, 0]) and ds.info.num_classes == len(ds.info.attributes["shape"])
    for j, vals in enumerate(ds.info.attributes.values()):
        assert 0 <= a[:, j].min() and a[:, j].max() < len(vals)
    texts = ds.columns["text"]
    assert len(set(texts)) > 200 and len(TEMPLATES) >= 8
    assert len({t.split()[0] for t in texts}) >= 8          # varied openings: varied word orders
    same = load_dataset("shapes", n=240, seed=7)
    assert torch.equal(x, same.columns["image"]) and texts == same.columns["text"]
    assert not torch.equal(x, load_dataset("shapes", n=240, seed=8).columns["image"])
    # jitter: two items with the same attributes are not identical images
    key = [tuple(r) for r in a.tolist()]
    dup = next(i for i in range(1, len(key)) if key[i] in key[:i])
    assert not torch.equal(x[dup], x[key.index(key[dup])])
    assert load_dataset("shapes", n=4, resolution=64).columns["image"].shape == (4, 3, 64, 64)


def test_shapes_heldout_split():
    held = shapes_heldout_combinations()
    assert ("triangle", "green", "small", "top") in held and 0.05 < len(held) / 192 < 0.15
    names = load_dataset("shapes", n=1).info.attributes

    def combos(ds):
        return {tuple(names[k][v] for k, v in zip(names, row)) for row in ds.columns["attributes"].tolist()}

    train, held_ds, test = (load_dataset("shapes", split=s, n=600) for s in ("train", "heldout", "test"))
    assert not combos(train) & set(held) and not combos(test) & set(held)
    assert combos(held_ds) <= set(held) and len(combos(held_ds)) > 10
    assert train.info.extra["heldout_combinations"] == [list(c) for c in held]


def test_unknown_spec_lists_names(tmp_path):
    with pytest.raises(DataError) as e:
        load_dataset(str(tmp_path / "nope"))
    msg = str(e.value)
    assert "ring8" in msg and "shapes" in msg and "no file or folder" in msg
