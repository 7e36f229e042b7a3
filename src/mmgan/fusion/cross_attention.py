"""cross_attention fusion: keeps token-level features for a generator that attends to them
(word-level attention as in AttnGAN, here over text words, audio frames, image cells, labels).

tokens: every modality's tokens projected to `dim` plus a modality-type embedding, concatenated
along n; a learned always-present global token comes first, so no row is ever fully masked.
mask: token masks AND the modality being present. vec: a learned query attends over those tokens
(attention pooling), then an MLP, so the sentence-level vector sees the same evidence.
A modality given without tokens contributes its pooled features as one token.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from ..registry import register
from .base import Cond, Fusion, ModalityFeatures, mlp


@register("fusion", "cross_attention")
class CrossAttentionFusion(Fusion):
    def __init__(self, modalities, in_dim: int, dim: int, heads: int = 4, hidden: int = 512, max_tokens: int = 64):
        super().__init__(modalities, in_dim, dim, heads=heads, hidden=hidden, max_tokens=max_tokens)
        self.max_tokens = max_tokens
        self.proj = nn.ModuleDict({m: nn.Linear(in_dim, dim) for m in self.modalities})
        self.type_embed = nn.Parameter(torch.randn(len(self.modalities), dim) * 0.02)
        self.global_token = nn.Parameter(torch.randn(dim) * 0.02)
        self.norm = nn.LayerNorm(dim)
        self.query = nn.Parameter(torch.randn(1, 1, dim) * 0.02)
        self.pool = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.out = mlp(dim, hidden, dim)

    def forward(self, feats: dict[str, ModalityFeatures]) -> Cond:
        b = self.check(feats)
        g = self.global_token.expand(b, 1, -1)
        toks, masks = [g], [torch.ones(b, 1, dtype=torch.bool, device=g.device)]
        for i, m in enumerate(self.modalities):
            x, p = self.pooled(m, feats, b)
            f = feats.get(m)
            if f is not None and f.tokens is not None:
                t = f.tokens[:, : self.max_tokens]
                tm = f.mask[:, : self.max_tokens] if f.mask is not None else torch.ones(t.shape[:2], dtype=torch.bool,
                                                                                        device=t.device)
            else:
                t, tm = x[:, None], torch.ones(b, 1, dtype=torch.bool, device=x.device)
            toks.append(self.proj[m](t) + self.type_embed[i])
            masks.append(tm & p[:, None])
        tokens = self.norm(torch.cat(toks, 1))                                  # (b, n, dim)
        mask = torch.cat(masks, 1)                                              # (b, n)
        pooled, _ = self.pool(self.query.expand(b, -1, -1), tokens, tokens, key_padding_mask=~mask,
                              need_weights=False)
        return Cond(vec=self.out(pooled[:, 0]), tokens=tokens, mask=mask)
