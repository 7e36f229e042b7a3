"""Conditioner: turns raw conditions (labels, and with the multimodal encoders text, audio, images)
into what the generator and discriminator take: a condition vector c (b, d) and, for attention,
tokens (b, n, d) with a mask.

Labels become one-hot vectors (G's and D's own linear layers on a one-hot are class embeddings).
Other modalities are encoded by the multimodal encoders registered under kind "encoder" and fused
by kind "fusion" (see mmgan.multimodal); this class is the one place both paths meet, so training,
the Pipeline, the CLI and the server all condition the same way.
"""
from __future__ import annotations

from typing import Any, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..fusion.base import Cond

KNOWN_MODALITIES = ("label", "text", "audio", "image", "voice")


class Conditioner(nn.Module):
    """Label-only conditioner. Multimodal conditioners subclass it and register under kind "conditioner"."""

    kind = "label"

    def __init__(self, modalities: Sequence[str] = (), num_classes: int = 0):
        super().__init__()
        bad = [m for m in modalities if m not in KNOWN_MODALITIES]
        if bad:
            raise ValueError(f"unknown condition modality {bad}; valid: {', '.join(KNOWN_MODALITIES)}")
        extra = [m for m in modalities if m != "label"]
        if extra and type(self) is Conditioner:
            which = ("the voice conditioner (conditioning.VoiceConditioner)" if "voice" in extra
                     else "the multimodal conditioner; use mmgan.multimodal")
            raise ValueError(f"condition {list(modalities)} needs {which}")
        if "label" in modalities and num_classes < 2:
            raise ValueError("condition 'label' needs a dataset with labels (at least 2 classes)")
        self.modalities = list(modalities)
        self.num_classes = num_classes

    @property
    def cond_dim(self) -> int:
        return self.num_classes if "label" in self.modalities else 0

    @property
    def config(self) -> dict:
        return {"kind": self.kind, "modalities": self.modalities, "num_classes": self.num_classes}

    def forward(self, labels: torch.Tensor | None = None, **_: Any) -> Cond:
        if not self.modalities:
            return Cond()
        if labels is None:
            raise ValueError("this model is conditioned on labels: pass labels")
        labels = torch.as_tensor(labels, dtype=torch.long)
        if labels.numel() and (labels.min() < 0 or labels.max() >= self.num_classes):
            raise ValueError(f"labels must be in 0..{self.num_classes - 1}, got {labels.tolist()[:10]}")
        return Cond(vec=F.one_hot(labels, self.num_classes).float(), labels=labels)

    def from_batch(self, batch: dict, device: torch.device) -> Cond:
        """Condition for a training batch (columns from MemoryDataset.batch)."""
        if not self.modalities:
            return Cond()
        cond = self(labels=batch["label"].to(device))
        return cond

    def samples(self, n: int, inputs: dict) -> int:
        """How many samples a call for num_images=n makes once `inputs` are expanded (n; a source
        conditioner makes n per source item)."""
        return n

    def expand(self, n: int, **inputs: Any) -> dict[str, Any]:
        """Broadcast single inputs to n samples (labels only here)."""
        labels = inputs.get("labels")
        if labels is None:
            return inputs
        labels = torch.as_tensor(labels, dtype=torch.long).reshape(-1)
        if labels.numel() == 1:
            labels = labels.repeat(n)
        if labels.numel() != n:
            raise ValueError(f"got {labels.numel()} labels for {n} images; give one label or one per image")
        return {**inputs, "labels": labels}


_CONDITIONERS: dict[str, type] = {"label": Conditioner}


def register_conditioner(cls: type) -> type:
    _CONDITIONERS[cls.kind] = cls
    return cls


def build_conditioner(config: dict) -> Conditioner:
    kind = config.get("kind", "label")
    if kind not in _CONDITIONERS:
        raise ValueError(f"unknown conditioner kind {kind!r}; valid: {', '.join(_CONDITIONERS)}")
    cls = _CONDITIONERS[kind]
    args = {k: v for k, v in config.items() if k != "kind"}
    return cls(**args)
