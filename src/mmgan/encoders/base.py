"""The encoder interface shared by every modality.

    enc = build("encoder", "image-cnn", dim=256)
    batch = enc.prepare(items)          # raw items -> tensors (tokenize, read audio, load images)
    out = enc(batch)                    # EncoderOutput: tokens (b, n, d), pooled (b, d), mask (b, n)

`prepare` is the fixed, cacheable part (a frozen pretrained model runs there too), `forward` the
trainable part, so the training loop can cache prepared inputs per dataset item and never re-run
a tokenizer, MiniLM or librosa in its inner step. Shape legend: b batch, n tokens, d features.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import torch

from ..models.base import ConfigModule


@dataclass
class EncoderOutput:
    tokens: torch.Tensor                 # (b, n, d)
    pooled: torch.Tensor                 # (b, d)
    mask: torch.Tensor | None = None     # (b, n) True = real token; None = all real


class Encoder(ConfigModule):
    """Base class: subclasses set `modality`, `dim` and implement prepare() and forward()."""

    modality: str = ""
    dim: int = 0
    trainable: bool = True               # False: frozen pretrained weights, never saved with a model

    @property
    def prepare_config(self) -> dict:
        """What prepare() depends on (the key of cached prepared inputs); all of config unless narrowed."""
        return dict(self.config)

    def prepare(self, items: Sequence[Any]) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def forward(self, batch: dict[str, torch.Tensor]) -> EncoderOutput:
        raise NotImplementedError

    def encode(self, items: Sequence[Any]) -> EncoderOutput:
        """prepare + forward on the encoder's device."""
        dev = next(iter(self.parameters()), torch.empty(0)).device
        batch = {k: v.to(dev) for k, v in self.prepare(items).items()}
        return self(batch)


def masked_mean(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Mean over tokens (dim 1) counting only real ones: (b, n, d), (b, n) -> (b, d)."""
    if mask is None:
        return x.mean(1)
    w = mask.to(x.dtype).unsqueeze(-1)
    return (x * w).sum(1) / w.sum(1).clamp_min(1.0)


def masked_max(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    if mask is None:
        return x.amax(1)
    return x.masked_fill(~mask.unsqueeze(-1), torch.finfo(x.dtype).min).amax(1)


def collate(batches: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Concatenate prepared batches along b. Variable lengths always sit on dim 1 (tokens, frames);
    shorter parts are right-padded with zeros (False for masks)."""
    out: dict[str, torch.Tensor] = {}
    for k in batches[0]:
        parts = [b[k] for b in batches]
        if parts[0].dim() >= 2 and len({p.shape[1] for p in parts}) > 1:
            n = max(p.shape[1] for p in parts)
            parts = [pad_to(p, n) for p in parts]
        out[k] = torch.cat(parts)
    return out


def pad_to(x: torch.Tensor, n: int) -> torch.Tensor:
    """Right-pad (or cut) dim 1 to length n with zeros / False."""
    if x.shape[1] >= n:
        return x[:, :n]
    fill = x.new_zeros((x.shape[0], n - x.shape[1], *x.shape[2:]))
    return torch.cat([x, fill], 1)
