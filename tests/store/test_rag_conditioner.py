"""Retrieval-augmented generation through the multimodal conditioner: retrieved neighbours blend into the
text condition (and fill a missing image condition); without them nothing changes."""
from __future__ import annotations

from dataclasses import asdict

import numpy as np
import pytest
import torch

from mmgan.config import ModelConfig
from mmgan.models import build_gan
from mmgan.conditioning import MultimodalConditioner
from mmgan.pipeline import Pipeline
from mmgan.store import Item, index_dataset, rag_generate
from mmgan.store.rag import RetrievedConditions, accepts_retrieved
from mmgan.store.store import Hit

from _mm_tiny import TINY_JOINT, tiny_paired

QUERY = "a red block"


def tiny_pipe(mods=("text",), fusion: str = "attention") -> Pipeline:
    """Random-weight tiny text-conditioned DCGAN with the multimodal conditioner (no training needed)."""
    torch.manual_seed(0)
    cond = MultimodalConditioner(list(mods), {"encoders": TINY_JOINT, "dim": 16}, num_classes=2, fusion=fusion)
    cfg = ModelConfig(family="dcgan", z_dim=8, resolution=16, channels=3, g_width=8, d_width=8,
                      condition=list(mods), cond_dim=cond.cond_dim)
    G, _ = build_gan(cfg, with_discriminator=False)
    for name, w in G.named_parameters():        # conditional norms start as identity: make them use the condition
        if ".gamma." in name or ".beta." in name:
            torch.nn.init.normal_(w, std=0.5)
    config = {"format": "mmgan-pipeline", "model": asdict(cfg), "conditioner": cond.config,
              "data": {"name": "tiny-paired", "kind": "image"}, "step": 0}
    return Pipeline(G, cond, config, device="cpu")


def neighbours(captions, images=None, embedder: str = "other", query=QUERY) -> RetrievedConditions:
    """RetrievedConditions as retrieve_conditions returns them (store-space vectors are irrelevant to text)."""
    k = len(captions)
    vecs = np.zeros((k, 16), np.float32) if images is None else np.asarray(images, np.float32)
    hits = [Hit(Item(kind="real", caption=c, embedder=embedder), 1.0, "image", i) for i, c in enumerate(captions)]
    return RetrievedConditions(query=query, query_vector=np.ones(16, np.float32) / 4, hits=hits, texts=list(captions),
                               vectors=vecs, text_vectors=np.zeros((k, 16), np.float32), scores=np.ones(k, np.float32))


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MMGAN_CACHE", str(tmp_path / "cache"))


def gen(pipe, **kw) -> torch.Tensor:
    return pipe(num_images=3, seed=0, output_type="pt", **kw).tensor


@pytest.mark.parametrize("fusion", ["attention", "cross_attention"])
def test_accepts_retrieved_and_neutral_cases(fusion):
    pipe = tiny_pipe(fusion=fusion)
    assert accepts_retrieved(pipe) and pipe.conditioner.config["retrieval_alpha"] == 0.5
    plain = gen(pipe, text=QUERY)
    torch.testing.assert_close(gen(pipe, text=QUERY), plain, rtol=0, atol=0)          # deterministic baseline
    other = neighbours(["a blue bar", "a blue block"])
    torch.testing.assert_close(gen(pipe, text=QUERY, retrieved=other, retrieval_alpha=0.0), plain, rtol=0, atol=0)
    same = neighbours([QUERY, QUERY])                                  # neighbours equal to the query
    torch.testing.assert_close(gen(pipe, text=QUERY, retrieved=same), plain, rtol=1e-4, atol=1e-4)
    moved = gen(pipe, text=QUERY, retrieved=other)
    assert (moved - plain).abs().max() > 1e-3                           # different neighbours change the images


def test_condition_moves_to_the_neighbours():
    cond = tiny_pipe().conditioner
    q, nb = cond(text=[QUERY]).vec, cond(text=["a blue bar"]).vec
    rc = neighbours(["a blue bar"] * 3)
    torch.testing.assert_close(cond(text=[QUERY], retrieved=rc, retrieval_alpha=1.0).vec, nb)   # all the way
    half = cond(text=[QUERY], retrieved=rc).vec                                                  # default 0.5
    assert not torch.allclose(half, q, atol=1e-4) and not torch.allclose(half, nb, atol=1e-4)
    cond.retrieval_alpha = 1.0                                          # the attribute is the default per call
    torch.testing.assert_close(cond(text=[QUERY], retrieved=rc).vec, nb)
    with pytest.raises(ValueError, match="retrieval_alpha"):
        cond(text=[QUERY], retrieved=rc, retrieval_alpha=1.5)


def test_text_from_the_query_and_image_filled_from_own_joint_space(tmp_path):
    cond = tiny_pipe(mods=("text", "image")).conditioner
    imgs = tiny_paired(tmp_path / "clips", n=2).columns["image"][:1]
    v = cond.joint.embed("image", imgs)
    assert cond.expand(2, retrieved=neighbours(["a blue bar"]))["text"] == [QUERY] * 2    # the query's text
    own = neighbours(["a blue bar"], images=v, embedder=cond.joint.id)
    torch.testing.assert_close(cond(text=[QUERY], retrieved=own, retrieval_alpha=1.0).vec,
                               cond(text=["a blue bar"], image=imgs).vec)
    foreign = neighbours(["a blue bar"], images=v, embedder="test-hash-32-0")          # another space: text only
    torch.testing.assert_close(cond(text=[QUERY], retrieved=foreign, retrieval_alpha=1.0).vec,
                               cond(text=["a blue bar"]).vec)
    no_text = neighbours(["a blue bar"], query=None)                   # an image query: neighbours stand in for text
    torch.testing.assert_close(cond(image=imgs, retrieved=no_text).vec, cond(text=["a blue bar"], image=imgs).vec)
    with pytest.raises(ValueError, match="retrieved items blend into a given condition"):
        cond(retrieved=no_text)


def test_rag_generate_end_to_end_on_milvus_lite(store, tmp_path):
    pipe = tiny_pipe(mods=("text", "image"))
    space = pipe.conditioner.joint
    ds = tiny_paired(tmp_path / "clips")
    rep = index_dataset(store, space, ds, progress=False)
    assert len(rep.added) == len(ds)
    out, rc = rag_generate(pipe, store, space, text=QUERY, k=3, num_images=2, seed=1)
    assert len(out.images) == 2 and out.images[0].size == (16, 16)
    assert len(rc) == 3 and all(t in ds.columns["text"] for t in rc.texts) and rc.vectors.shape == (3, 16)
    assert {h.item.embedder for h in rc.hits} == {space.id} and out.conditions["text"] == [QUERY] * 2
    again, _ = rag_generate(pipe, store, space, text=QUERY, k=3, num_images=2, seed=1)
    torch.testing.assert_close(again.tensor, out.tensor)
    plain = pipe(text=QUERY, num_images=2, seed=1, output_type="pt").tensor
    assert (out.tensor - plain).abs().max() > 1e-4                     # neighbours (and their images) were used
