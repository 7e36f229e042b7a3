"""Conversions between image tensors in [-1, 1] and PIL images, resizing, and sample grids.

Alpha is never modelled: transparent pixels are composited onto white (how most icons and
drawings are meant to be seen), so RGBA becomes RGB and LA becomes L.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ..utils import atomic_write


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] floats to 0..255 bytes, rounded (so a PNG round trip is off by at most 1/255)."""
    return ((images.detach().float().cpu() + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)


def to_pil(tensor: torch.Tensor) -> Image.Image:
    """(C, H, W) or (H, W) in [-1, 1] with C = 1 or 3 to a PIL image (mode L or RGB)."""
    t = tensor.detach()
    if t.dim() == 4 and t.shape[0] == 1:
        t = t[0]
    if t.dim() == 2:
        t = t[None]
    if t.dim() != 3 or t.shape[0] not in (1, 3):
        raise ValueError(f"to_pil expects (C, H, W) with C = 1 or 3 (or (H, W)), got shape {tuple(tensor.shape)}")
    a = to_uint8(t).permute(1, 2, 0).numpy()
    return Image.fromarray(a[:, :, 0], "L") if a.shape[2] == 1 else Image.fromarray(np.ascontiguousarray(a), "RGB")


def flatten_alpha(img: Image.Image) -> Image.Image:
    """Any PIL image to L or RGB; alpha composited onto white."""
    mode = img.mode
    if mode in ("L", "RGB"):
        return img
    if mode in ("1",):
        return img.convert("L")
    if mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        # 16-bit and float grayscale: scale to 0..255 instead of clipping (convert("L") would clip)
        a = np.asarray(img, dtype=np.float64)
        if a.max(initial=0) > 255:
            a = a / 65535.0 * 255.0
        return Image.fromarray(np.clip(a, 0, 255).round().astype(np.uint8), "L")
    if mode in ("LA", "La", "PA", "P", "RGBA", "RGBa"):
        gray = mode in ("LA", "La")
        rgba = img.convert("RGBA")
        bg = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        out = Image.alpha_composite(bg, rgba).convert("RGB")
        return out.convert("L") if gray else out
    return img.convert("RGB")  # CMYK, YCbCr, LAB, HSV, RGBX


def native_channels(img: Image.Image) -> int:
    """1 for grayscale modes (with or without alpha), 3 for colour ones (RGBA counts as RGB)."""
    return 1 if img.mode in ("1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F") else 3


def center_square(img: Image.Image) -> Image.Image:
    """Crop the centred square so resizing to a square does not distort shapes."""
    w, h = img.size
    if w == h:
        return img
    s = min(w, h)
    left, top = (w - s) // 2, (h - s) // 2
    return img.crop((left, top, left + s, top + s))


def resize_pil(img: Image.Image, resolution: int) -> Image.Image:
    """Centre-crop to a square and resize with PIL's bilinear filter (antialiased when shrinking)."""
    img = center_square(img)
    if img.size != (resolution, resolution):
        img = img.resize((resolution, resolution), Image.BILINEAR)
    return img


def from_pil(img: Image.Image, resolution: int = 0, channels: int = 0) -> torch.Tensor:
    """PIL image to float32 (C, H, W) in [-1, 1]; resolution 0 keeps the size, channels 0 keeps L/RGB."""
    img = flatten_alpha(img)
    if channels == 1 and img.mode != "L":
        img = img.convert("L")
    elif channels == 3 and img.mode != "RGB":
        img = img.convert("RGB")
    elif channels not in (0, 1, 3):
        raise ValueError(f"from_pil: channels must be 0, 1 or 3, got {channels}")
    if resolution > 0:
        img = resize_pil(img, resolution)
    a = np.array(img, dtype=np.uint8)      # a writable copy: torch warns on read-only arrays
    a = a[:, :, None] if a.ndim == 2 else a
    return torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1))).float() / 127.5 - 1


def resize_images(images: torch.Tensor, resolution: int) -> torch.Tensor:
    """(N, C, H, W) tensors to (N, C, r, r): bilinear with antialiasing, values kept in [-1, 1]."""
    if resolution <= 0 or images.shape[-2:] == (resolution, resolution):
        return images
    out = []
    for chunk in torch.split(images, 4096):  # bounded memory for big built-ins
        out.append(F.interpolate(chunk.float(), size=(resolution, resolution), mode="bilinear",
                                 antialias=True, align_corners=False))
    return torch.cat(out).clamp_(-1, 1)


def resize_clips(clips: torch.Tensor, resolution: int) -> torch.Tensor:
    """(N, T, C, H, W) clips to (N, T, C, r, r), every frame as resize_images does it."""
    if resolution <= 0 or clips.shape[-2:] == (resolution, resolution):
        return clips
    n, t, c = clips.shape[:3]
    return resize_images(clips.reshape(n * t, c, *clips.shape[-2:]), resolution).reshape(n, t, c, resolution, resolution)


def make_grid(images: torch.Tensor, nrow: int = 8, padding: int = 2, pad_value: float = -1.0) -> torch.Tensor:
    """(N, C, H, W) to one (C, H', W') image with nrow images per row, like torchvision's make_grid."""
    if images.dim() != 4:
        raise ValueError(f"make_grid expects (N, C, H, W), got shape {tuple(images.shape)}")
    n, c, h, w = images.shape
    nrow = max(1, min(nrow, n))
    rows = math.ceil(n / nrow)
    grid = torch.full((c, rows * (h + padding) + padding, nrow * (w + padding) + padding), pad_value,
                      dtype=torch.float32)
    for i in range(n):
        y, x = divmod(i, nrow)
        top, left = padding + y * (h + padding), padding + x * (w + padding)
        grid[:, top:top + h, left:left + w] = images[i].detach().float().cpu()
    return grid


def save_grid(images: torch.Tensor, path: str | Path, nrow: int = 8, padding: int = 2) -> Path:
    """Write (N, C, H, W) images in [-1, 1] as one PNG grid; atomic, so a viewer never sees half a file."""
    path = Path(path)
    img = to_pil(make_grid(images, nrow=nrow, padding=padding))
    atomic_write(path, lambda tmp: img.save(tmp, format="PNG"))
    return path
