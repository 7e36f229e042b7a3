"""A small deterministic Embedder for store tests (no training, no model files)."""
from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

class HashEmbedder:
    """image: a fixed random projection of 8x8-pooled pixels; text: hashed bag of words;
    audio: a random vector seeded by the file's bytes (a clip's samples); label: a random vector per class."""

    modalities = ("image", "text", "audio", "label")

    def __init__(self, dim: int = 32, seed: int = 0):
        self.dim = dim
        self.id = f"test-hash-{dim}-{seed}"
        self.seed = seed
        self._proj: dict[int, np.ndarray] = {}

    def _rand(self, key: str) -> np.ndarray:
        rng = np.random.default_rng([self.seed, zlib.crc32(key.encode())])
        return rng.standard_normal(self.dim).astype(np.float32)

    def _image(self, items) -> np.ndarray:
        if isinstance(items, torch.Tensor):
            x = items.float()
        else:
            from PIL import Image

            arrs = []
            for it in items:
                img = it if hasattr(it, "convert") else Image.open(it)
                a = np.asarray(img.convert("RGB"), dtype=np.float32) / 127.5 - 1
                arrs.append(torch.from_numpy(a).permute(2, 0, 1))
            x = torch.stack(arrs)
        if x.shape[1] == 1:
            x = x.repeat(1, 3, 1, 1)
        f = F.adaptive_avg_pool2d(x, 8).flatten(1).numpy()      # (b, 192)
        if f.shape[1] not in self._proj:
            self._proj[f.shape[1]] = np.random.default_rng(self.seed).standard_normal((f.shape[1], self.dim)).astype(np.float32)
        return f @ self._proj[f.shape[1]] + 1e-3

    @staticmethod
    def _audio_bytes(item) -> bytes:
        """A file's bytes, or a generated clip's (Sound) or an array's samples."""
        if isinstance(item, (str, Path)):
            return Path(item).read_bytes()
        return np.asarray(getattr(item, "waveform", item), dtype=np.float32).tobytes()

    def embed(self, modality, items):
        if modality == "image":
            v = self._image(items)
        elif modality == "text":
            v = np.stack([sum((self._rand("w:" + w) for w in str(t).lower().split()), np.zeros(self.dim, np.float32))
                          + 1e-3 for t in items])
        elif modality == "audio":
            v = np.stack([self._rand("a:" + str(zlib.crc32(self._audio_bytes(p)))) for p in items])
        elif modality == "label":
            v = np.stack([self._rand(f"l:{int(l)}") for l in items])
        else:
            raise ValueError(modality)
        v = np.asarray(v, dtype=np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)
