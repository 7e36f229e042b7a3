"""Retrieval for generation: find the K real items nearest a query and hand their captions and
embeddings to the generator's conditioner.

    rc = retrieve_conditions(store, embedder, "a small green triangle at the top", k=4)
    rc.texts, rc.vectors, rc.fused(alpha=0.5)
    out, rc = rag_generate(pipe, store, embedder, text="a small green triangle at the top", k=4, num_images=8)

How fused conditions reach the generator belongs to the multimodal conditioner: rag_generate calls
pipe(text=..., retrieved=rc, ...), which hands `retrieved` (whole, not split by batch) to the
conditioner's expand() and forward(). A conditioner that can use it sets `accepts_retrieved = True`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..embedding import normalize
from .store import Hit, Store
from .index import embed_query


@dataclass
class RetrievedConditions:
    query: Any                                # the text (or dict of text/image/audio) asked for
    query_vector: np.ndarray                  # (d,)
    hits: list = field(default_factory=list)  # Hit of each retrieved real item, best first
    texts: list = field(default_factory=list)           # their captions
    vectors: np.ndarray | None = None         # (k, d) their embeddings (of `modality`)
    text_vectors: np.ndarray | None = None    # (k, d) their caption embeddings where stored (zeros otherwise)
    scores: np.ndarray | None = None          # (k,) similarity to the query (cosine, or RRF for hybrid)
    modality: str = "image"

    def __len__(self) -> int:
        return len(self.hits)

    def fused(self, alpha: float = 0.5, temperature: float = 0.05) -> np.ndarray:
        """(d,) the query moved toward its neighbours: normalize((1 - alpha) q + alpha sum_i w_i v_i),
        w = softmax(cosine / temperature). alpha = 0 is the query alone."""
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {alpha}")
        if self.vectors is None or len(self.vectors) == 0:
            return self.query_vector
        cos = self.vectors @ self.query_vector
        w = np.exp((cos - cos.max()) / temperature)
        w = w / w.sum()
        return normalize((1 - alpha) * self.query_vector + alpha * (w[:, None] * self.vectors).sum(0))

    def to_dict(self) -> dict:
        return {"query": self.query if isinstance(self.query, (str, dict)) else None,
                "items": [h.to_dict() for h in self.hits], "texts": self.texts, "modality": self.modality,
                "scores": None if self.scores is None else self.scores.tolist()}


def retrieve_conditions(store: Store, embedder, query: Any, k: int = 4, modality: str = "image",
                        hybrid: bool = True, filter: str | None = None) -> RetrievedConditions:
    """The k real items nearest the query (a text, a dict of text/image/audio, or a vector).

    A text query uses hybrid search (BM25 over captions + dense, fused with RRF) unless hybrid=False.
    Only real items are retrieved: generated samples never feed back into generation."""

    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    text = query if isinstance(query, str) else (query.get("text") if isinstance(query, dict) else None)
    if isinstance(query, str):
        qv = embed_query(embedder, text=query)
    elif isinstance(query, dict):
        unknown = set(query) - {"text", "image", "audio"}
        if unknown:
            raise ValueError(f"query keys must be text, image, audio; got {sorted(unknown)}")
        qv = embed_query(embedder, **query)
    else:
        qv = normalize(np.asarray(query, dtype=np.float32).reshape(-1))
    if hybrid and text:
        hits: list[Hit] = store.hybrid_search(qv, text, k=k, modality=modality, kind="real", filter=filter)
    else:
        hits = store.search(qv, k=k, modality=modality, kind="real", filter=filter)
    items = store.get([h.item.id for h in hits], vectors=True)
    by_id = {it.id: it for it in items}
    d = qv.shape[0]
    vecs = np.zeros((len(hits), d), np.float32)
    tvecs = np.zeros((len(hits), d), np.float32)
    for i, h in enumerate(hits):
        it = by_id.get(h.item.id)
        if it is None:
            continue
        v = it.vectors.get(modality)
        vecs[i] = v if v is not None else next(x for x in it.vectors.values() if x is not None)
        if it.vectors.get("text") is not None:
            tvecs[i] = it.vectors["text"]
    return RetrievedConditions(query=query, query_vector=qv, hits=hits, texts=[h.item.caption for h in hits],
                               vectors=vecs, text_vectors=tvecs, scores=np.array([h.score for h in hits], np.float32),
                               modality=modality)


def accepts_retrieved(pipe) -> bool:
    return bool(getattr(getattr(pipe, "conditioner", None), "accepts_retrieved", False))


def rag_generate(pipe, store: Store, embedder, text: str | None = None, k: int = 4, num_images: int = 1,
                 seed: int | None = None, query: Any = None, filter: str | None = None, **pipe_kwargs):
    """Generate conditioned on the query fused with its k nearest real items.
    Returns (PipelineOutput, RetrievedConditions)."""
    if not accepts_retrieved(pipe):
        raise ValueError(
            "this pipeline's conditioner does not take retrieved conditions (accepts_retrieved is not set); "
            "retrieval-augmented generation needs a text-conditioned model with the multimodal conditioner "
            "(mmgan.multimodal)")
    rc = retrieve_conditions(store, embedder, query if query is not None else text, k=k, filter=filter)
    if text is not None:
        pipe_kwargs["text"] = text
    out = pipe(num_images=num_images, seed=seed, retrieved=rc, **pipe_kwargs)
    return out, rc
