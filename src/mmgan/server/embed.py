"""PixelEmbedder: the fallback Embedder when no joint space is served. It embeds images only, by their pixels
(16x16 grey plus a small floor, so a blank image is not a zero vector; L2-normalised), so a store of generated
images can still be searched by image and by id ("more like this"). Text search then matches captions (BM25);
searching by the meaning of text or audio needs a joint space: `mmgan serve RUN --embedder RUN/joint`.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..embedding import normalize


class PixelEmbedder:
    side = 16
    dim = side * side
    id = "pixels-16x16"
    modalities = ("image",)

    def embed(self, modality: str, items: Sequence[Any]) -> np.ndarray:
        if modality != "image":
            raise ValueError(f"this service has no joint space, so it cannot embed {modality}; serve it with "
                             f"--embedder RUN/joint to search by text or audio")
        from PIL import Image

        rows = []
        for it in items:
            img = it if isinstance(it, Image.Image) else Image.open(it)
            x = np.asarray(img.convert("L").resize((self.side, self.side), Image.BILINEAR), dtype=np.float32) / 255.0
            rows.append(x.reshape(-1) + 0.01)
        return normalize(np.stack(rows) if rows else np.zeros((0, self.dim), np.float32))
