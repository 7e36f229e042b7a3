"""attention fusion: one token per modality, projected to a shared width with a modality-type
embedding; multi-head self-attention across them; mean over the modalities present; an MLP.

Missing modalities become their learned null tokens: they take part in attention (so a sample with
nothing present still has tokens to attend) but are left out of the mean.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from ..registry import register
from .base import Cond, Fusion, ModalityFeatures, mean_over_present, mlp


@register("fusion", "attention")
class AttentionFusion(Fusion):
    def __init__(self, modalities, in_dim: int, dim: int, width: int = 256, heads: int = 4, layers: int = 1,
                 hidden: int = 512):
        super().__init__(modalities, in_dim, dim, width=width, heads=heads, layers=layers, hidden=hidden)
        self.proj = nn.ModuleDict({m: nn.Linear(in_dim, width) for m in self.modalities})
        self.type_embed = nn.Parameter(torch.randn(len(self.modalities), width) * 0.02)
        layer = nn.TransformerEncoderLayer(width, heads, 2 * width, dropout=0.0, batch_first=True, norm_first=True)
        self.attn = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.out = mlp(width, hidden, dim)

    def forward(self, feats: dict[str, ModalityFeatures]) -> Cond:
        b = self.check(feats)
        toks, present = [], []
        for m in self.modalities:
            x, p = self.pooled(m, feats, b)
            toks.append(self.proj[m](x))
            present.append(p)
        h = self.attn(torch.stack(toks, 1) + self.type_embed)                          # (b, M, width)
        return Cond(vec=self.out(mean_over_present(h, present)))
