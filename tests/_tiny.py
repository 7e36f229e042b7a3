"""Tiny in-memory datasets and configs shared by the core tests (imported as `_tiny`)."""
from __future__ import annotations

import math

import torch

from mmgan.config import Config
from mmgan.data.base import DataInfo, MemoryDataset


def ring_dataset(n: int = 2000, seed: int = 0) -> MemoryDataset:
    g = torch.Generator().manual_seed(seed)
    lab = torch.randint(0, 8, (n,), generator=g)
    ang = 2 * math.pi * lab / 8
    x = torch.stack([torch.cos(ang), torch.sin(ang)], 1) + 0.01 * torch.randn(n, 2, generator=g)
    means = [[math.cos(2 * math.pi * i / 8), math.sin(2 * math.pi * i / 8)] for i in range(8)]
    info = DataInfo("tiny-ring", "vector", (2,), num_classes=8, extra={"means": means, "sigma": 0.01})
    return MemoryDataset(info, {"vector": x, "label": lab})


def image_dataset(n: int = 64, channels: int = 1, res: int = 16, classes: int = 4, seed: int = 0) -> MemoryDataset:
    g = torch.Generator().manual_seed(seed)
    lab = torch.randint(0, classes, (n,), generator=g)
    img = torch.rand(n, channels, res, res, generator=g) * 2 - 1
    info = DataInfo("tiny-images", "image", (channels, res, res), num_classes=classes,
                    class_names=[f"c{i}" for i in range(classes)])
    return MemoryDataset(info, {"image": img, "label": lab, "text": [f"class {int(l)}" for l in lab]})


def tiny_config(*overrides: str) -> Config:
    base = ["train.steps=2", "train.batch_size=8", "train.progress=false", "train.tensorboard=false",
            "train.sample_every=1000", "train.ckpt_every=1000", "train.log_every=1", "model.z_dim=8",
            "model.g_width=8", "model.d_width=8", "model.g_hidden=[16,16]", "model.d_hidden=[16,16]"]
    return Config().override(base + list(overrides))
