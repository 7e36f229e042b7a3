"""The joint space: training, the Embedder protocol, save/load, retrieval and arithmetic helpers."""
from __future__ import annotations

import numpy as np
import torch

from mmgan.conditioning import load_embedder
from mmgan.embedding import Embedder
from mmgan.conditioning import JointSpace
from mmgan.training.joint import JointOptions, train_joint
from mmgan.metrics.retrieval import arithmetic_trials, r_precision, recall_at_k
from mmgan.training.joint import info_nce, positive_groups

from _mm_tiny import TINY_JOINT


def test_train_embed_save_load(paired, tmp_path):
    opts = JointOptions(dim=16, steps=4, audio_steps=3, batch_size=8, encoders=TINY_JOINT, log_every=0)
    space, report = train_joint(paired, ["text", "audio", "label"], opts)
    assert report["modalities"] == ["image", "text", "audio", "label"] and report["phase_b"]["steps"] == 3
    assert isinstance(space, Embedder) and space.dim == 16 and set(space.modalities) == set(TINY_JOINT)
    vecs = {"text": space.embed("text", paired.columns["text"][:3]),
            "image": space.embed("image", paired.columns["image"][:3]),
            "audio": space.embed("audio", paired.columns["audio"][:3]),
            "label": space.embed("label", [0, 1, 1])}
    for v in vecs.values():
        assert v.shape == (3, 16) and v.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1, atol=1e-5)
    space.save_pretrained(tmp_path / "joint")
    again = load_embedder(tmp_path / "joint")
    assert again.id == space.id
    np.testing.assert_allclose(again.embed("audio", paired.columns["audio"][:3]), vecs["audio"], atol=1e-5)
    run = tmp_path / "run"
    space.save_pretrained(run / "joint")                   # a run folder works too
    assert JointSpace.from_pretrained(run).id == space.id


def test_info_nce_groups_and_temperature():
    a = torch.nn.functional.normalize(torch.randn(6, 8), dim=-1)
    assert float(info_nce(a, a, torch.tensor(50.0))) < 0.1
    g = torch.tensor([0, 0, 1, 1, 2, 2])
    b = a[[1, 0, 3, 2, 5, 4]]                              # swapped within groups: still right with groups
    assert float(info_nce(a, b, torch.tensor(50.0), g)) < float(info_nce(a, b, torch.tensor(50.0)))


def test_positive_groups(paired):
    g = positive_groups(paired)
    same = (paired.columns["attributes"][:, None] == paired.columns["attributes"][None]).all(-1)
    assert torch.equal(g[:, None] == g[None], same)



def test_positive_groups_chosen(paired):
    """model.extra.joint_positives: the same caption, label or nothing but the item itself; a column the data
    lacks, or an unknown rule, is refused by name."""
    import pytest
    from mmgan.data.base import MemoryDataset

    text = paired.columns["text"]
    g = positive_groups(paired, "audio", "text")
    assert torch.equal(g[:, None] == g[None], torch.tensor([[a == b for b in text] for a in text]))
    assert torch.equal(positive_groups(paired, "audio", "label"), paired.columns["label"].long())
    assert positive_groups(paired, "audio", "item").tolist() == list(range(len(paired)))
    with pytest.raises(ValueError, match="one of auto, label"):
        positive_groups(paired, "audio", "words")
    bare = MemoryDataset(paired.info, {"image": paired.columns["image"], "label": paired.columns["label"]})
    with pytest.raises(ValueError, match="no 'text' column"):
        positive_groups(bare, "image", "text")


def test_recall_and_r_precision_on_exact_embeddings():
    e = np.eye(8, dtype=np.float32)
    assert recall_at_k(e, e, range(8), range(8))["R@1"] == 1.0
    assert recall_at_k(e, e[::-1], range(8), range(8))["R@1"] == 0.0
    rp = r_precision(e, e, list(range(8)), candidates=5, folds=2)
    assert rp["mean"] == 1.0 and rp["std"] == 0.0


class AdditiveSpace:
    """An ideal joint space: an image embeds as color + shape, a word as its own direction."""

    dim, id, modalities = 4, "additive", ("image", "text")

    def embed(self, modality, items):
        if modality == "text":
            return np.stack([np.eye(4, dtype=np.float32)[["red", "blue"].index(w)] for w in items])
        x = np.asarray(items, dtype=np.float32)
        return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_arithmetic_trials_on_an_additive_space():
    attrs = torch.tensor([[s, c] for s in range(2) for c in range(2)] * 3)
    imgs = torch.stack([torch.eye(4)[c] + torch.eye(4)[2 + s] for s, c in attrs.tolist()])
    res = arithmetic_trials(AdditiveSpace(), imgs, attrs, {"shape": ["a", "b"], "color": ["red", "blue"]}, trials=20)
    assert res["accuracy"] == 1.0 and res["strict"] == 1.0
