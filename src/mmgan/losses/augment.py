"""DiffAugment (Zhao et al. 2020): differentiable augmentations applied to real and fake alike.

Registered under kind "augment": translation, color, cutout. Each takes (b, c, h, w) in [-1, 1].
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..registry import get, register


@register("augment", "color")
def color(x: torch.Tensor) -> torch.Tensor:
    b = x.shape[0]
    x = x + (torch.rand(b, 1, 1, 1, device=x.device, dtype=x.dtype) - 0.5)                 # brightness
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (torch.rand(b, 1, 1, 1, device=x.device, dtype=x.dtype) * 2) + mean   # saturation
    mean = x.mean(dim=[1, 2, 3], keepdim=True)
    x = (x - mean) * (torch.rand(b, 1, 1, 1, device=x.device, dtype=x.dtype) + 0.5) + mean  # contrast
    return x


@register("augment", "translation")
def translation(x: torch.Tensor, ratio: float = 0.125) -> torch.Tensor:
    b, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    tx = torch.randint(-sh, sh + 1, (b, 1, 1), device=x.device)
    ty = torch.randint(-sw, sw + 1, (b, 1, 1), device=x.device)
    gi, gj = torch.meshgrid(torch.arange(h, device=x.device), torch.arange(w, device=x.device), indexing="ij")
    gi = torch.clamp(gi[None] + tx + 1, 0, h + 1)
    gj = torch.clamp(gj[None] + ty + 1, 0, w + 1)
    padded = F.pad(x, [1, 1, 1, 1])                    # zero border: shifted-in pixels are 0
    idx = (gi * (w + 2) + gj).view(b, 1, -1).expand(-1, x.shape[1], -1)
    return padded.flatten(2).gather(2, idx).view_as(x)


@register("augment", "cutout")
def cutout(x: torch.Tensor, ratio: float = 0.5) -> torch.Tensor:
    b, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    oy = torch.randint(0, h + (1 - ch % 2), (b, 1, 1), device=x.device)
    ox = torch.randint(0, w + (1 - cw % 2), (b, 1, 1), device=x.device)
    gi, gj = torch.meshgrid(torch.arange(h, device=x.device), torch.arange(w, device=x.device), indexing="ij")
    inside = ((gi[None] - oy + ch // 2).clamp(min=0) < ch) & ((gi[None] - oy + ch // 2) >= 0) \
        & ((gj[None] - ox + cw // 2) >= 0) & ((gj[None] - ox + cw // 2) < cw)
    return x * (~inside).unsqueeze(1).to(x.dtype)


class DiffAugment:
    def __init__(self, policy: str):
        self.names = [p.strip() for p in policy.split(",") if p.strip()]
        self.fns = [get("augment", n) for n in self.names]   # unknown names fail here, listing valid ones

    def __bool__(self) -> bool:
        return bool(self.fns)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4:
            if self.fns:
                raise ValueError("DiffAugment works on images (b, c, h, w); set loss.diffaug='' for vector data")
            return x
        for fn in self.fns:
            x = fn(x)
        return x
