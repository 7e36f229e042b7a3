"""Helpers shared by the store tests and their subprocesses."""
from __future__ import annotations

import numpy as np

from mmgan.store import Item, content_id


def make_items(n: int, dim: int = 32, kind: str = "real", seed: int = 0, embedder: str = "test-hash-32-0",
               captions=None) -> list[Item]:
    rng = np.random.default_rng(seed)
    words = ["red", "green", "blue", "circle", "square", "star", "small", "large", "top", "bottom"]
    out = []
    for i in range(n):
        v = rng.standard_normal(dim).astype(np.float32)
        t = rng.standard_normal(dim).astype(np.float32)
        cap = captions[i] if captions else " ".join(rng.choice(words, 4))
        out.append(Item(id=content_id(kind, v, cap), kind=kind, vectors={"image": v, "text": t}, caption=cap,
                        label=i % 4, dataset="unit", embedder=embedder, seed=i))
    return out


def tiny_pipeline():
    """A label-conditioned DCGAN with random weights (no training), for index_run."""
    from dataclasses import asdict

    from mmgan.conditioning import Conditioner
    from mmgan.config import ModelConfig
    from mmgan.models import build_gan
    from mmgan.pipeline import Pipeline
    import torch

    torch.manual_seed(0)
    cfg = ModelConfig(family="dcgan", z_dim=8, resolution=16, channels=3, g_width=8, d_width=8,
                      condition=["label"], num_classes=4)
    cond = Conditioner(["label"], 4)
    cfg.cond_dim = cond.cond_dim
    G, _ = build_gan(cfg, with_discriminator=False)
    config = {"format": "mmgan-pipeline", "model": asdict(cfg), "conditioner": cond.config,
              "data": {"name": "shapes", "kind": "image", "class_names": ["circle", "square", "triangle", "star"],
                       "version": "v-test"}, "step": 7}
    return Pipeline(G, cond, config, device="cpu")
