"""Reading users' image files (manifest cells, image folders) with validation, and stacking them into one tensor.

Channel policy (one rule for folders and manifests):
  - every image counts as grayscale (1 channel: L, 1, I;16, LA) or colour (3: RGB, RGBA, P, CMYK);
    alpha is dropped by compositing onto white, so RGBA is fine in an RGB dataset and LA in a gray one;
  - the dataset's channels are `channels` when given (1 or 3), else the majority (a tie goes to colour);
  - an image of the other kind is a bad row: we never silently turn colour into gray or gray into colour.
Sizes: with resolution > 0 every image is centre-cropped to a square and resized (bilinear, antialiased);
with resolution 0 all images must already share one size.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .base import CellError, ColumnError
from .pixels import flatten_alpha, native_channels, resize_pil

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif")
CHANNEL_NAMES = {1: "grayscale", 3: "RGB"}
CHANNEL_COUNTS = {1: "1 channel", 3: "3 channels"}


@dataclass
class LoadedImage:
    row: int
    pixels: np.ndarray     # uint8 (H, W) or (H, W, 3)
    channels: int          # 1 or 3


def read_image(path: Path, resolution: int = 0) -> tuple[np.ndarray, int]:
    """Validate and decode one image file: (uint8 pixels, channels). Raises CellError."""
    if not path.exists():
        raise CellError(f"file not found: {path}")
    if not path.is_file():
        raise CellError(f"not a file: {path}")
    try:
        with Image.open(path) as im:
            im.verify()                      # structure and checksums (PNG CRCs)
        with Image.open(path) as im:
            im.load()                        # full decode: catches truncated data verify() misses
            channels = native_channels(im)
            im = flatten_alpha(im)
    except Exception as e:  # PIL raises many types for bad files
        raise CellError(f"unreadable or corrupt image {path} ({type(e).__name__}: {e})") from None
    if resolution > 0:
        im = resize_pil(im, resolution)
    return np.asarray(im, dtype=np.uint8), channels


def stack_images(loaded: list[LoadedImage], channels: int, resolution: int,
                 ) -> tuple[list[tuple[int, str]], dict[int, int], torch.Tensor | None, int]:
    """Flag channel mismatches as bad rows, check sizes (ColumnError), stack the rest.

    Returns ([(row, problem)], {row: index into the tensor}, tensor (N, C, H, W) in [-1, 1] or None, channels).
    """
    if not loaded:
        return [], {}, None, channels or 3
    counts = Counter(item.channels for item in loaded)
    if channels:
        target, why = channels, f"channels={channels} was asked for"
    else:
        target = 3 if counts[3] >= counts[1] else 1
        why = f"the majority: {counts[target]} of {len(loaded)} images"
    bad = [(it.row, f"{CHANNEL_NAMES[it.channels]} image ({CHANNEL_COUNTS[it.channels]}) but the "
                  f"dataset is {CHANNEL_NAMES[target]} ({CHANNEL_COUNTS[target]}; {why}); convert the file, "
                  "or pass channels to choose")
           for it in loaded if it.channels != target]
    good = [it for it in loaded if it.channels == target]
    if not good:
        return bad, {}, None, target
    if resolution <= 0:
        sizes = Counter(it.pixels.shape[:2] for it in good)
        if len(sizes) > 1:
            first = {}
            for it in good:
                first.setdefault(it.pixels.shape[:2], it.row)
            listing = ", ".join(f"{w}x{h} ({k} image{'s' if k > 1 else ''}, e.g. row {first[(h, w)]})"
                                for (h, w), k in sizes.most_common(5))
            more = f" and {len(sizes) - 5} more sizes" if len(sizes) > 5 else ""
            raise ColumnError(f"images differ in size: {listing}{more}. Pass a resolution to resize "
                            "them all to one square size, e.g. --set data.resolution=64 (resolution=64 in Python)")
    arr = np.stack([it.pixels if it.pixels.ndim == 3 else it.pixels[:, :, None] for it in good])
    x = torch.from_numpy(arr).permute(0, 3, 1, 2).float().div_(127.5).sub_(1).contiguous()
    return bad, {it.row: i for i, it in enumerate(good)}, x, target
