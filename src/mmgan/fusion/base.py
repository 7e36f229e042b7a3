"""The fusion interface: per-modality features in, one condition out.

    fuse = build("fusion", "attention", modalities=["text", "audio"], in_dim=256, dim=256)
    cond = fuse({"text": ModalityFeatures(pooled, present, tokens, mask), "audio": ...})
    cond.vec (b, dim); cond.tokens (b, n, dim) and cond.mask (b, n) for token-level fusion

Missing modalities: `present` (b,) says which samples have a modality. A missing modality's pooled
features are replaced by a learned null token, and its tokens are masked out, so every method works
on any subset (modality dropout in training teaches it to). A modality absent from the dict is
missing for the whole batch. Shape legend: b batch, n tokens, d features.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import torch
import torch.nn as nn

from ..models.base import ConfigModule


@dataclass
class Cond:
    vec: torch.Tensor | None = None          # (b, d)
    tokens: torch.Tensor | None = None       # (b, n, d)
    mask: torch.Tensor | None = None         # (b, n) True = present
    labels: torch.Tensor | None = None       # (b,) for AC-GAN
    source: torch.Tensor | None = None       # (b, ...) the source a family reads raw (conditioning.source)

    def kwargs(self) -> dict[str, Any]:
        kw = {} if self.tokens is None else {"tokens": self.tokens, "token_mask": self.mask}
        if self.source is not None:
            kw["source"] = self.source
        return kw


@dataclass
class ModalityFeatures:
    pooled: torch.Tensor                     # (b, d)
    present: torch.Tensor | None = None      # (b,) bool; None = all present
    tokens: torch.Tensor | None = None       # (b, n, d)
    mask: torch.Tensor | None = None         # (b, n) True = real token

    def is_present(self) -> torch.Tensor:
        if self.present is None:
            return torch.ones(self.pooled.shape[0], dtype=torch.bool, device=self.pooled.device)
        return self.present


def mlp(d_in: int, hidden: int, d_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(d_in, hidden), nn.GELU(), nn.Linear(hidden, d_out))


class Fusion(ConfigModule):
    """Base: holds the modality list and one learned null token per modality."""

    def __init__(self, modalities: Sequence[str], in_dim: int, dim: int, **config):
        if not modalities:
            raise ValueError("fusion needs at least one modality")
        super().__init__(modalities=list(modalities), in_dim=in_dim, dim=dim, **config)
        self.modalities, self.in_dim, self.dim = list(modalities), in_dim, dim
        self.null = nn.ParameterDict({m: nn.Parameter(torch.randn(in_dim) * 0.02) for m in self.modalities})

    def check(self, feats: dict[str, ModalityFeatures]) -> int:
        unknown = set(feats) - set(self.modalities)
        if unknown:
            raise ValueError(f"fusion over {self.modalities} got features for {sorted(unknown)}")
        if not feats:
            raise ValueError("fusion got no features: give at least one modality (or its batch size via "
                             "ModalityFeatures with present all False)")
        return next(iter(feats.values())).pooled.shape[0]

    def pooled(self, m: str, feats: dict[str, ModalityFeatures], b: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(pooled with nulls where missing (b, in_dim), present (b,))."""
        null = self.null[m].expand(b, -1)
        if m not in feats:
            return null, torch.zeros(b, dtype=torch.bool, device=null.device)
        f = feats[m]
        present = f.is_present()
        return torch.where(present[:, None], f.pooled, null.to(f.pooled.dtype)), present

    def forward(self, feats: dict[str, ModalityFeatures]) -> Cond:
        raise NotImplementedError


def mean_over_present(x: torch.Tensor, present: list[torch.Tensor]) -> torch.Tensor:
    """(b, d) mean of x (b, M, d) over the modalities present in each sample (over all where none is)."""
    w = torch.stack(present, 1).to(x.dtype)                      # (b, M)
    w = torch.where(w.sum(1, keepdim=True) > 0, w, torch.ones_like(w))
    return (x * w.unsqueeze(-1)).sum(1) / w.sum(1, keepdim=True)


def modality_dropout(present: dict[str, torch.Tensor], p: float, generator: torch.Generator | None = None
                     ) -> dict[str, torch.Tensor]:
    """Drop each available modality of each sample with probability p, keeping at least one.

    present: {modality: (b,) bool}. A sample left with nothing gets one of its available modalities back,
    chosen uniformly, so a model trained on text and speech learns to work from either alone.
    """
    if p <= 0 or not present:
        return present
    mods = list(present)
    avail = torch.stack([present[m] for m in mods], 1)                          # (b, M)
    dev = avail.device
    keep = avail & (torch.rand(avail.shape, generator=generator).to(dev) >= p)
    empty = ~keep.any(1) & avail.any(1)
    if empty.any():
        score = torch.rand(avail.shape, generator=generator).to(dev).masked_fill(~avail, -1.0)
        pick = torch.nn.functional.one_hot(score.argmax(1), len(mods)).bool()
        keep = torch.where(empty[:, None], pick, keep)
    return {m: keep[:, i] for i, m in enumerate(mods)}
