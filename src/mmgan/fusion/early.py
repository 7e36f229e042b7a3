"""early fusion: concatenate every modality's pooled features (nulls where missing), then an MLP."""
from __future__ import annotations

import torch

from ..registry import register
from .base import Cond, Fusion, ModalityFeatures, mlp


@register("fusion", "early")
class EarlyFusion(Fusion):
    def __init__(self, modalities, in_dim: int, dim: int, hidden: int = 512):
        super().__init__(modalities, in_dim, dim, hidden=hidden)
        self.net = mlp(len(self.modalities) * in_dim, hidden, dim)

    def forward(self, feats: dict[str, ModalityFeatures]) -> Cond:
        b = self.check(feats)
        x = torch.cat([self.pooled(m, feats, b)[0] for m in self.modalities], -1)    # (b, M * in_dim)
        return Cond(vec=self.net(x))
