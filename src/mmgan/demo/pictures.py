"""The demo's pictures: rows of images, each row labelled on its left, under a title that carries the
figures measured on the same run."""
from __future__ import annotations

import textwrap
from pathlib import Path

import torch
from PIL import Image, ImageDraw

from ..modalities.pixels import to_pil
from ..utils import atomic_write


def labelled_grid(rows: list[torch.Tensor], labels: list[str], path: Path, title: str, scale: int = 2,
                  label_chars: int = 48) -> Path:
    """Rows of images in [-1, 1], each with a text label on its left (wrapped at label_chars, as many lines as
    the row's height holds), and a title on top (lines split at newlines)."""
    size = rows[0].shape[-1] * scale
    lines = title.split("\n")
    pad, top = 4, 10 + 14 * len(lines)
    fit = max(1, size // 13)                                 # label lines that fit beside one row
    wrapped = [textwrap.wrap(lb, label_chars)[:fit] or [""] for lb in labels]
    left = 7 * max(len(line) for ls in wrapped for line in ls) + 16
    cols = max(len(r) for r in rows)
    img = Image.new("RGB", (left + cols * (size + pad) + pad, top + len(rows) * (size + pad) + pad), "white")
    draw = ImageDraw.Draw(img)
    for k, line in enumerate(lines):
        draw.text((pad, 6 + 14 * k), line, fill=(0, 0, 0))
    for r, (row, label) in enumerate(zip(rows, wrapped)):
        y = top + r * (size + pad)
        for k, line in enumerate(label):
            draw.text((pad, y + size // 2 - 6 * len(label) + 12 * k), line, fill=(30, 30, 30))
        for c, x in enumerate(row):
            img.paste(to_pil(x).resize((size, size), Image.NEAREST), (left + c * (size + pad), y))
    atomic_write(path, lambda tmp: img.save(tmp, format="PNG"))
    return path
