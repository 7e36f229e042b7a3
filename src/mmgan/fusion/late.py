"""late fusion: one head per modality, their outputs averaged over the modalities present.

A sample with no modality present gets the heads' outputs on the null tokens, averaged.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from ..registry import register
from .base import Cond, Fusion, ModalityFeatures, mean_over_present, mlp


@register("fusion", "late")
class LateFusion(Fusion):
    def __init__(self, modalities, in_dim: int, dim: int, hidden: int = 512):
        super().__init__(modalities, in_dim, dim, hidden=hidden)
        self.heads = nn.ModuleDict({m: mlp(in_dim, hidden, dim) for m in self.modalities})

    def forward(self, feats: dict[str, ModalityFeatures]) -> Cond:
        return Cond(vec=late_combine(self, feats))


def late_combine(f: Fusion, feats: dict[str, ModalityFeatures]) -> torch.Tensor:
    """Mean of per-modality head outputs over present modalities (all of them where none is present)."""
    b = f.check(feats)
    outs, present = [], []
    for m in f.modalities:
        x, p = f.pooled(m, feats, b)
        outs.append(f.heads[m](x))
        present.append(p)
    return mean_over_present(torch.stack(outs, 1), present)     # (b, M, dim) -> (b, dim)
