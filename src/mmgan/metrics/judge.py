"""An attribute classifier trained on real images: the judge of generated ones.

One small CNN with a head per attribute (shape, color, size, position on `shapes`). A generated image
is right when every predicted attribute equals the one its caption asked for.
"""
from __future__ import annotations

import time
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..models.base import ConfigModule
from ..utils import cosine_lr


class AttributeClassifier(ConfigModule):
    def __init__(self, attributes: dict[str, list[str]], channels: int = 3, resolution: int = 32, width: int = 16):
        super().__init__(attributes={k: list(v) for k, v in attributes.items()}, channels=channels,
                         resolution=resolution, width=width)
        self.names = list(attributes)
        self.resolution = resolution
        w = width
        self.body = nn.Sequential(
            nn.Conv2d(channels, w, 3, padding=1), nn.GELU(), nn.Conv2d(w, 2 * w, 4, 2, 1), nn.GELU(),
            nn.Conv2d(2 * w, 4 * w, 4, 2, 1), nn.GELU(), nn.Conv2d(4 * w, 4 * w, 4, 2, 1), nn.GELU(),
            nn.Flatten(), nn.Linear(4 * w * (resolution // 8) ** 2, 256), nn.GELU())
        self.heads = nn.ModuleDict({k: nn.Linear(256, len(v)) for k, v in attributes.items()})

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        if x.shape[-1] != self.resolution:
            x = F.interpolate(x, size=(self.resolution, self.resolution), mode="bilinear", antialias=True,
                              align_corners=False)
        h = self.body(x)
        return {k: head(h) for k, head in self.heads.items()}

    @torch.no_grad()
    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(b, 256) the judge's penultimate features: a space where distances follow the attributes' looks."""
        self.eval()
        if x.shape[-1] != self.resolution:
            x = F.interpolate(x.float(), size=(self.resolution, self.resolution), mode="bilinear", antialias=True,
                              align_corners=False)
        return self.body(x.float())

    @torch.no_grad()
    def predict(self, x: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
        """(b, A) predicted attribute indices."""
        self.eval()
        outs = []
        for i in range(0, len(x), batch_size):
            logits = self(x[i : i + batch_size].float())
            outs.append(torch.stack([logits[k].argmax(1) for k in self.names], 1))
        return torch.cat(outs)


def attribute_accuracy(pred: torch.Tensor, want: torch.Tensor, names: list[str]) -> dict[str, float]:
    """Share of images with all attributes right, and per attribute."""
    ok = pred == want
    return {"all": float(ok.all(1).float().mean()), **{k: float(ok[:, i].float().mean()) for i, k in enumerate(names)}}


def train_judge(images: torch.Tensor, attributes: torch.Tensor, names: dict[str, list[str]], steps: int = 600,
                batch_size: int = 64, lr: float = 2e-3, seed: int = 0, minutes: float = 2.0,
                log: Callable[[str], None] | None = None) -> AttributeClassifier:
    """Train on real images with light augmentation (small shifts keep position classes intact)."""
    torch.manual_seed(seed)
    clf = AttributeClassifier(names, images.shape[1], images.shape[-1])
    opt = torch.optim.AdamW(clf.parameters(), lr=lr, weight_decay=1e-4)
    g = torch.Generator().manual_seed(seed)
    deadline = time.time() + minutes * 60
    clf.train()
    for step in range(steps):
        if time.time() > deadline:
            break
        for gr in opt.param_groups:
            gr["lr"] = cosine_lr(step, steps, lr, warmup=0)
        idx = torch.randint(0, len(images), (batch_size,), generator=g)
        x = images[idx]
        x = x + 0.05 * torch.randn(x.shape, generator=g)                 # robust to GAN noise
        logits = clf(x)
        loss = sum(F.cross_entropy(logits[k], attributes[idx, i]) for i, k in enumerate(clf.names))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if log and step % 100 == 0:
            log(f"  judge step {step}: loss {float(loss.detach()):.3f}")
    clf.eval()
    return clf
