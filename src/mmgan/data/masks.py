"""Hole masks for inpainting: made on the fly (seeded) for training, or read from a user's file.

A mask is a (b, 1, h, w) float tensor, 1 = hole (the pixels to fill), 0 = known. Every random draw
comes from the torch.Generator passed in, so `random_masks(4, 64, 64, seeded(0))` is the same every
time.

  strokes   DeepFill v2's free-form masks (Yu et al. 2019): a few brush strokes, each a random walk of
            straight segments (random angle, length and brush width) drawn with round joints; they
            look like scratches and scribbles, the hard case a box-trained model never sees
  boxes     one to three axis-aligned rectangles (the classic "centre/box hole" benchmark case)

`random_masks` draws strokes or boxes per image (MASK_KINDS); `load_mask` reads a user's mask file
(white = hole; any mode; threshold at half grey) and checks it against the image size.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, UnidentifiedImageError

MASK_KINDS = ("strokes", "boxes")
HOLE_AREA = (0.05, 0.45)       # the share of the image a random mask covers is clipped to this (redrawn above it)


def _rand(gen: torch.Generator, lo: float, hi: float) -> float:
    return float(lo + (hi - lo) * torch.rand((), generator=gen))


def _randint(gen: torch.Generator, lo: int, hi: int) -> int:
    """An integer in [lo, hi]."""
    return int(torch.randint(lo, hi + 1, (), generator=gen))


def stroke_mask(h: int, w: int, gen: torch.Generator) -> np.ndarray:
    """DeepFill v2's free-form mask, scaled to the image: 1-4 strokes of 2-8 segments; (h, w) uint8 0/1."""
    side = min(h, w)
    im = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(im)
    for _ in range(_randint(gen, 1, 4)):
        x, y = _rand(gen, 0, w), _rand(gen, 0, h)
        width = max(1, round(_rand(gen, 0.04, 0.12) * side))
        for _ in range(_randint(gen, 2, 8)):
            angle = _rand(gen, 0, 2 * math.pi)
            length = _rand(gen, 0.1, 0.35) * side
            nx = min(max(x + length * math.cos(angle), 0), w - 1)
            ny = min(max(y + length * math.sin(angle), 0), h - 1)
            draw.line([(x, y), (nx, ny)], fill=1, width=width)
            r = width / 2
            draw.ellipse([nx - r, ny - r, nx + r, ny + r], fill=1)        # round joints, as a brush leaves
            x, y = nx, ny
    return np.asarray(im, dtype=np.uint8)


def box_mask(h: int, w: int, gen: torch.Generator) -> np.ndarray:
    """1-3 rectangles, each side 15-50 % of the image's; (h, w) uint8 0/1."""
    m = np.zeros((h, w), np.uint8)
    for _ in range(_randint(gen, 1, 3)):
        bh, bw = max(1, round(_rand(gen, 0.15, 0.5) * h)), max(1, round(_rand(gen, 0.15, 0.5) * w))
        top, left = _randint(gen, 0, h - bh), _randint(gen, 0, w - bw)
        m[top:top + bh, left:left + bw] = 1
    return m


def random_masks(b: int, h: int, w: int, gen: torch.Generator, kinds: tuple[str, ...] = MASK_KINDS,
                 tries: int = 8) -> torch.Tensor:
    """b masks (b, 1, h, w) in {0, 1}, each of a kind drawn from `kinds`, covering at most HOLE_AREA[1] of
    the image (redrawn up to `tries` times, then cut back to the first half of its rows)."""
    bad = [k for k in kinds if k not in MASK_KINDS]
    if bad or not kinds:
        raise ValueError(f"unknown mask kind {bad[0] if bad else None!r}; valid: {', '.join(MASK_KINDS)}")
    out = np.zeros((b, 1, h, w), np.float32)
    for i in range(b):
        kind = kinds[_randint(gen, 0, len(kinds) - 1)]
        for _ in range(tries):
            m = (stroke_mask if kind == "strokes" else box_mask)(h, w, gen)
            if HOLE_AREA[0] <= m.mean() <= HOLE_AREA[1]:
                break
        if m.mean() > HOLE_AREA[1]:
            m[h // 2:] = 0
        out[i, 0] = m
    return torch.from_numpy(out)


def load_mask(path: str | Path, size: tuple[int, int] | None = None) -> torch.Tensor:
    """A user's mask file -> (1, 1, h, w) in {0, 1}: white (above half grey, after converting to grey;
    transparent pixels count as known) = hole. size (h, w): the image it belongs to; a mask of another
    size is an error naming both (masks are never resized: a stretched hole misses its scratch)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"mask not found: {path}")
    try:
        with Image.open(path) as im:
            im.load()
            if im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info:
                im = im.convert("RGBA")
                a = np.asarray(im, dtype=np.float32)
                grey = (a[..., :3] @ np.array([0.299, 0.587, 0.114], np.float32)) * (a[..., 3] / 255.0)
            else:
                grey = np.asarray(im.convert("L"), dtype=np.float32)
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise ValueError(f"mask {path} is not a readable image ({e}); give a PNG with white where the holes are") from e
    h, w = grey.shape
    if size is not None and (h, w) != tuple(size):
        raise ValueError(f"mask {path} is {w}x{h} pixels but its image is {size[1]}x{size[0]}; "
                         f"a mask must have its image's size (white = hole)")
    return torch.from_numpy((grey > 127.5).astype(np.float32))[None, None]
