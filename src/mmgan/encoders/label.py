"""Label encoder: an embedding table. tokens (b, 1, d), pooled (b, d)."""
from __future__ import annotations

from typing import Any, Sequence

import torch
import torch.nn as nn

from ..registry import register
from .base import Encoder, EncoderOutput


@register("encoder", "label")
class LabelEmbedding(Encoder):
    modality = "label"

    def __init__(self, num_classes: int, dim: int = 256):
        if num_classes < 1:
            raise ValueError("the label encoder needs num_classes >= 1")
        super().__init__(num_classes=num_classes, dim=dim)
        self.num_classes, self.dim = num_classes, dim
        self.table = nn.Embedding(num_classes, dim)

    def prepare(self, items: Sequence[Any]) -> dict[str, torch.Tensor]:
        labels = torch.as_tensor(items if torch.is_tensor(items) else [int(i) for i in items], dtype=torch.long)
        labels = labels.reshape(-1)
        if labels.numel() and (labels.min() < 0 or labels.max() >= self.num_classes):
            raise ValueError(f"labels must be in 0..{self.num_classes - 1}, got {labels.tolist()[:10]}")
        return {"labels": labels}

    def forward(self, batch: dict[str, torch.Tensor]) -> EncoderOutput:
        e = self.table(batch["labels"])                                 # (b, d)
        return EncoderOutput(e[:, None], e, None)
