"""Image encoder: a small trainable CNN.

image-cnn  stride-2 convolutions down to a 4x4 map: tokens (b, 16, d) are its cells, pooled (b, d)
           their mean. Inputs are resized to `resolution` and converted to `channels`.

Items: a (b, c, h, w) tensor in [-1, 1], or a list of PIL images, file paths, or (c, h, w) tensors.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..registry import register
from .base import Encoder, EncoderOutput
from ..modalities.pixels import from_pil


def load_images(items: Any, channels: int, resolution: int) -> torch.Tensor:
    """Anything image-like to (b, channels, resolution, resolution) in [-1, 1]."""

    if torch.is_tensor(items):
        x = items.detach().float()
        if x.dim() == 3:
            x = x[None]
        if x.dim() != 4:
            raise ValueError(f"image tensors must be (b, c, h, w) in [-1, 1], got shape {tuple(x.shape)}")
    else:
        if isinstance(items, (str, Path)) or hasattr(items, "convert"):
            items = [items]
        parts = []
        for i, it in enumerate(items):
            if torch.is_tensor(it):
                parts.append(load_images(it, channels, resolution))
                continue
            if isinstance(it, (str, Path)):
                from PIL import Image, UnidentifiedImageError

                p = Path(it)
                if not p.is_file():
                    raise FileNotFoundError(f"image file not found: {p}")
                try:
                    with Image.open(p) as im:
                        it = im.copy()
                except (UnidentifiedImageError, OSError) as e:
                    raise ValueError(f"cannot read image {p} ({e})") from None
            if not hasattr(it, "convert"):
                raise ValueError(f"image item {i}: expected a tensor, a PIL image or a path, got {type(it).__name__}")
            parts.append(from_pil(it, resolution=resolution, channels=channels)[None])
        if not parts:
            raise ValueError("no images given")
        x = torch.cat(parts)
    if x.shape[1] != channels:
        if x.shape[1] == 1 and channels == 3:
            x = x.repeat(1, 3, 1, 1)
        elif x.shape[1] == 3 and channels == 1:
            x = (x * torch.tensor([0.299, 0.587, 0.114], device=x.device).view(1, 3, 1, 1)).sum(1, keepdim=True)
        else:
            raise ValueError(f"images have {x.shape[1]} channels; this encoder takes {channels}")
    if x.shape[-2:] != (resolution, resolution):
        x = F.interpolate(x, size=(resolution, resolution), mode="bilinear", antialias=True, align_corners=False)
    return x.clamp(-1, 1)


@register("encoder", "image-cnn")
class ImageCNN(Encoder):
    modality = "image"

    def __init__(self, dim: int = 256, channels: int = 3, resolution: int = 32, width: int = 32):
        super().__init__(dim=dim, channels=channels, resolution=resolution, width=width)
        self.dim, self.channels, self.resolution = dim, channels, resolution
        k = max(1, (resolution // 4).bit_length() - 1)                  # stride-2 stages down to 4x4
        chans = [width * min(2 ** i, 8) for i in range(k + 1)]
        layers: list[nn.Module] = [nn.Conv2d(channels, chans[0], 3, padding=1), nn.GroupNorm(8, chans[0]), nn.GELU()]
        for a, b in zip(chans[:-1], chans[1:]):
            layers += [nn.Conv2d(a, b, 4, stride=2, padding=1), nn.GroupNorm(8, b), nn.GELU(),
                       nn.Conv2d(b, b, 3, padding=1), nn.GroupNorm(8, b), nn.GELU()]
        self.body = nn.Sequential(*layers)
        self.pos = nn.Parameter(torch.zeros(1, chans[-1], resolution >> k, resolution >> k))
        self.to_tokens = nn.Linear(chans[-1], dim)
        self.pool = nn.Linear(chans[-1] * (resolution >> k) ** 2, dim)

    def prepare(self, items: Sequence[Any]) -> dict[str, torch.Tensor]:
        return {"image": load_images(items, self.channels, self.resolution)}

    def forward(self, batch: dict[str, torch.Tensor]) -> EncoderOutput:
        x = batch["image"]
        if x.shape[-1] != self.resolution or x.shape[1] != self.channels:
            x = load_images(x, self.channels, self.resolution)
        h = self.body(x) + self.pos                                     # (b, c, 4, 4)
        tokens = self.to_tokens(h.flatten(2).transpose(1, 2))           # (b, 16, d)
        return EncoderOutput(tokens, self.pool(h.flatten(1)), None)
