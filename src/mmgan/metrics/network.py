"""The interface every feature network gives the metrics (FeatureNetwork), and the file hash that names
a user's network. Kept apart from features.py so that the in-project nets (features.py) and the
Inception port (inception.py) both build on it without importing each other."""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn


class FeatureNetwork(nn.Module):
    """features(x) -> (b, d); class_probs(x) -> (b, K) or None; predict(x) -> (b,) labels or None."""

    num_features: int = 0
    num_classes: int = 0               # 0: no class head (then IS / cond_acc / CAS do not apply)
    id: str = ""
    info: dict = {}

    def forward(self, x: torch.Tensor) -> torch.Tensor:       # what torchmetrics calls
        return self.features(x)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def class_logits(self, x: torch.Tensor) -> torch.Tensor | None:
        return None

    def class_probs(self, x: torch.Tensor) -> torch.Tensor | None:
        logits = self.class_logits(x)
        return None if logits is None else logits.float().softmax(-1)

    def predict(self, x: torch.Tensor) -> torch.Tensor | None:
        logits = self.class_logits(x)
        return None if logits is None else logits.argmax(-1)

    def describe(self) -> str:
        acc = self.info.get("test_accuracy")
        acc_s = f", test accuracy {acc:.4f}" if isinstance(acc, float) else ""
        return f"{self.id} ({self.num_features}-D{acc_s})"

    def outputs(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(features (b, d), class probabilities (b, K) or None) in one pass where the network allows."""
        return self.features(x), self.class_probs(x)

    @torch.no_grad()
    def extract(self, x: torch.Tensor, batch_size: int = 500, bar: Any = None,
                want: tuple = ("features", "probs", "labels")) -> dict[str, np.ndarray | None]:
        """Run over x in batches: {"features": (n, d), "probs": (n, K) | None, "labels": (n,) | None}.
        want=("features",) skips the classifier head."""
        self.eval()
        feats, probs = [], []
        for s in range(0, len(x), batch_size):
            xb = x[s:s + batch_size]
            f, p = (self.features(xb), None) if tuple(want) == ("features",) else self.outputs(xb)
            feats.append(f.float().cpu())
            probs.append(None if p is None else p.float().cpu())
            if bar is not None:
                bar.update(len(xb))
        out = {"features": torch.cat(feats).numpy() if feats else np.zeros((0, self.num_features), np.float32),
               "probs": None, "labels": None}
        if probs and probs[0] is not None:
            out["probs"] = torch.cat(probs).numpy()
            out["labels"] = out["probs"].argmax(1)
        return out


def _file_hash(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:12]
