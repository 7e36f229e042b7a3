"""2-D Gaussian mixtures for mode-collapse studies: ring8 (8 modes on the unit circle) and grid25.

Column `vector` (N, 2) float32 and `label` = the mode each point was drawn from. The means and
sigma are kept in info.extra so mode metrics (modes covered, high-quality fraction) can use them.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from ..registry import register
from .base import DataInfo, MemoryDataset
from .common import check_split, rng_for

DEFAULT_N = 100_000
SPLITS = ("train", "test", "all")   # generated: each split is its own random stream


def ring_means(k: int = 8, radius: float = 1.0) -> np.ndarray:
    # angles 2*pi*i/k for i < k: linspace(0, 2*pi, k) would put the last mode on top of the first
    return np.array([[radius * math.cos(2 * math.pi * i / k), radius * math.sin(2 * math.pi * i / k)]
                     for i in range(k)])


def grid_means(side: int = 5, spacing: float = 2.0) -> np.ndarray:
    c = (np.arange(side) - (side - 1) / 2) * spacing          # -4, -2, 0, 2, 4
    return np.array([[x, y] for x in c for y in c])


def mixture(name: str, means: np.ndarray, sigma: float, split: str, n: int, seed: int) -> MemoryDataset:
    check_split(name, split, SPLITS)
    n = n or DEFAULT_N
    rng = rng_for(seed, name, split)
    labels = rng.integers(0, len(means), size=n)
    x = means[labels] + sigma * rng.standard_normal((n, 2))
    info = DataInfo(name=name, kind="vector", shape=(2,), num_classes=len(means),
                    class_names=[f"mode{i}" for i in range(len(means))],
                    extra={"means": means.tolist(), "sigma": sigma, "split": split, "seed": seed})
    return MemoryDataset(info, {"vector": torch.from_numpy(x.astype(np.float32)),
                                "label": torch.from_numpy(labels.astype(np.int64))})


@register("dataset", "ring8")
def ring8(split: str = "train", n: int = 0, seed: int = 0, resolution: int = 0) -> MemoryDataset:
    """8 Gaussians at (cos 2*pi*i/8, sin 2*pi*i/8), sigma 0.01; resolution is ignored (vector data)."""
    return mixture("ring8", ring_means(8, 1.0), 0.01, split, n, seed)


@register("dataset", "grid25")
def grid25(split: str = "train", n: int = 0, seed: int = 0, resolution: int = 0) -> MemoryDataset:
    """25 Gaussians at {-4, -2, 0, 2, 4}^2, sigma 0.05; resolution is ignored (vector data)."""
    return mixture("grid25", grid_means(5, 2.0), 0.05, split, n, seed)
