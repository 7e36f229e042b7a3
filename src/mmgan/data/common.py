"""Helpers shared by the built-in datasets: stable seeding, splits, subsets, channel conversion."""
from __future__ import annotations

import hashlib

import numpy as np
import torch

from .errors import DataError


def stable_int(*keys) -> int:
    """A 64-bit integer from the keys that is the same on every machine and Python run (unlike hash())."""
    h = hashlib.blake2b("\x1f".join(str(k) for k in keys).encode(), digest_size=8)
    return int.from_bytes(h.digest(), "little")


def rng_for(seed: int, *keys) -> np.random.Generator:
    """An independent random stream per (seed, dataset, split, ...), so splits never share draws."""
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, stable_int(*keys) & 0xFFFFFFFF, stable_int(*keys) >> 32])


def hash_split(name: str, count: int, split: str, test_frac: float = 0.15) -> np.ndarray:
    """Indices of a fixed train/test split by hashing each index: independent of the user's seed, so
    the test items are the same for every run and never leak into training."""
    if split == "all":
        return np.arange(count)
    is_test = np.array([stable_int(name, "split", i) % 10_000 < test_frac * 10_000 for i in range(count)])
    if split == "train":
        return np.flatnonzero(~is_test)
    if split == "test":
        return np.flatnonzero(is_test)
    raise DataError(f"dataset {name!r} has no split {split!r}; valid splits: train, test, all")


def check_split(name: str, split: str, valid: tuple) -> None:
    if split not in valid:
        raise DataError(f"dataset {name!r} has no split {split!r}; valid splits: {', '.join(valid)}")


def choose(name: str, available: int, n: int, seed: int, split: str) -> np.ndarray:
    """n of the available indices (all when n is 0), a seeded random subset kept in index order."""
    if n <= 0 or n == available:
        return np.arange(available)
    if n > available:
        raise DataError(f"dataset {name!r} split {split!r} has {available} items; n={n} asks for more (use n=0 for all)")
    return np.sort(rng_for(seed, name, split, "subset").permutation(available)[:n])


def convert_channels(images: torch.Tensor, channels: int, name: str) -> torch.Tensor:
    """Built-ins only: grayscale to RGB by repeating, RGB to grayscale by luma (ITU-R 601)."""
    c = images.shape[1]
    if channels <= 0 or channels == c:
        return images
    if c == 1 and channels == 3:
        return images.repeat(1, 3, 1, 1)
    if c == 3 and channels == 1:
        w = torch.tensor([0.299, 0.587, 0.114], dtype=images.dtype).view(1, 3, 1, 1)
        return (images * w).sum(1, keepdim=True)
    raise DataError(f"dataset {name!r} has {c} channels; cannot convert to channels={channels} (use 1 or 3)")
