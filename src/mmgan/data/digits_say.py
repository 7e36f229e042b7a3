"""digits-say: an MNIST digit and a spoken clip of its name, paired by label (issue 21, "image -> sound":
the image of a digit says its name; or, with the image as the target, a spoken digit draws itself).

Each item is one spoken-digits clip (its audio, label, caption and attributes) with an image of the same
digit drawn, seeded, from mnist's images of the same split: the test split pairs spoken-digits' unheard
test voices with mnist's held-out test images, so neither half of a test pair was seen in training.
Sizes follow spoken-digits (6,000 train / 1,000 test); mnist's split holds fewer images of a digit than
there are clips of it, so an image is paired with more than one clip (each clip appears once).
The image is the default target (images rank first); `--set data.target=audio` makes the clips the target,
`--set "model.condition=[image]"` conditions on the image.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from ..registry import register
from .base import MemoryDataset
from .common import check_split, rng_for
from .digits import mnist
from .spoken_digits import SPLITS, spoken_digits

NAME = "digits-say"


@register("dataset", NAME)
def digits_say(split: str = "train", n: int = 0, seed: int = 0, resolution: int = 0) -> MemoryDataset:
    """spoken-digits' clips (n of them; 0: all) each with a same-digit mnist image of the same split (28x28,
    or `resolution`)."""
    check_split(NAME, split, SPLITS)
    said = spoken_digits(split, n, seed)
    drawn = mnist(split, 0, 0, resolution)
    labels = said.columns["label"].numpy()
    pool = drawn.columns["label"].numpy()
    rng = rng_for(seed, NAME, split, "pairs")
    rows = np.empty(len(labels), dtype=np.int64)
    for k in np.unique(labels):                          # a shuffled pass over each digit's images, repeated
        mine, theirs = np.flatnonzero(labels == k), rng.permutation(np.flatnonzero(pool == k))
        rows[mine] = np.resize(theirs, len(mine))
    info = replace(said.info, name=NAME, kind="image", shape=tuple(drawn.info.shape), version="",
                   extra={**said.info.extra, "images": f"mnist {split} split ({len(drawn)} images)"})
    return MemoryDataset(info, {**said.columns, "image": drawn.columns["image"][torch.from_numpy(rows)]})
