"""The Embedder protocol: anything that maps items of some modality into one joint space.

Implemented by the joint space (mmgan.conditioning.joint; load one with mmgan.conditioning.load_embedder) and used by the store (mmgan.store),
the metrics that need a joint space (R-precision) and the server. Vectors are float32, L2-normalised,
shape (n, dim); cosine similarity is their dot product.

Inputs by modality:
  text   list[str]
  image  torch.Tensor (b, c, h, w) in [-1, 1], or a list of PIL images / file paths
  audio  list of file paths, or of 1-D float numpy arrays at `sample_rate`
  label  list[int] (class indices)
"""
from __future__ import annotations

from typing import Any, Protocol, Sequence, runtime_checkable

import numpy as np


@runtime_checkable
class Embedder(Protocol):
    dim: int
    id: str                      # stable identifier of the embedding model (name + weights hash)
    modalities: tuple            # which of text, image, audio, label it embeds

    def embed(self, modality: str, items: Sequence[Any]) -> np.ndarray: ...


def normalize(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float32)
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.maximum(n, 1e-12)
