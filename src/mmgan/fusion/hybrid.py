"""hybrid fusion: an early path (concat + MLP) and a late path (per-modality heads, averaged),
joined by a linear layer, so it can model both interactions between modalities and each alone."""
from __future__ import annotations

import torch
import torch.nn as nn

from ..registry import register
from .base import Cond, Fusion, ModalityFeatures, mlp
from .late import late_combine


@register("fusion", "hybrid")
class HybridFusion(Fusion):
    def __init__(self, modalities, in_dim: int, dim: int, hidden: int = 512):
        super().__init__(modalities, in_dim, dim, hidden=hidden)
        self.early = mlp(len(self.modalities) * in_dim, hidden, dim)
        self.heads = nn.ModuleDict({m: mlp(in_dim, hidden, dim) for m in self.modalities})
        self.out = nn.Linear(2 * dim, dim)

    def forward(self, feats: dict[str, ModalityFeatures]) -> Cond:
        b = self.check(feats)
        early = self.early(torch.cat([self.pooled(m, feats, b)[0] for m in self.modalities], -1))
        return Cond(vec=self.out(torch.cat([early, late_combine(self, feats)], -1)))
