"""ItemStore: what the server needs from a store, and MemoryItemStore, a dict-backed one with the same
behaviour as the Milvus-backed adapter (store_adapter.py), for tests and `--store memory`.

The service talks to the store only through this protocol, reached by the `StoreDep` dependency, so tests
swap in MemoryItemStore and `mmgan serve --store DIR` uses mmgan.store.Store.

An item as the API sees it:
    {"id", "kind": "real"|"synthetic", "modalities": [...], "metadata": {flat, filterable: FILTER_KEYS},
     "provenance": {...}, "assets": ["image.png" or "audio.wav"], "created": float}
A generated item is embedded as what it is (an image, a sound) and by its prompt, each where the store's embedder
reads that modality; an item with no embedding cannot be stored (ServedModel.store_refusal says so first).
Searches: "text", "image", "audio" (embedded by the store's embedder, matched against each item's content
embedding: a generated image's, a generated clip's; text also matches captions by keywords), or "id" (items like a stored one, itself left out).
"""
from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Protocol, Sequence, runtime_checkable

import numpy as np

from ..data.audio import resample
from .embed import PixelEmbedder

ITEM_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,39}")
ASSET_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}\.[A-Za-z0-9]{1,8}")
# Metadata fields filters may name: the scalar fields of mmgan.store's schema (not its internals).
FILTER_KEYS = ("kind", "caption", "label", "class_name", "dataset", "dataset_version", "model", "model_version",
               "step", "seed", "user", "embedder")
MEDIA_TYPES = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "wav": "audio/wav", "flac": "audio/flac",
               "ogg": "audio/ogg", "mp3": "audio/mpeg", "txt": "text/plain; charset=utf-8",
               "srt": "application/x-subrip; charset=utf-8", "vtt": "text/vtt; charset=utf-8", "mp4": "video/mp4",
               "gif": "image/gif"}


def media_type(name: str) -> str:
    return MEDIA_TYPES.get(name.rsplit(".", 1)[-1].lower(), "application/octet-stream")


@dataclass
class NewItem:
    """A generated item to store: what to filter on, where it came from, its files, and what to embed."""

    id: str
    metadata: dict                     # FILTER_KEYS fields: kind, caption, label, class_name, model, seed, ...
    provenance: dict                   # everything needed to regenerate it
    conditions: dict = field(default_factory=dict)
    assets: dict = field(default_factory=dict)   # name -> bytes, e.g. {"image.png": b"..."}, {"audio.wav": b"..."}
    embed: dict = field(default_factory=dict)    # modality -> the generated object: {"image": PIL}, {"audio": Sound}
    text: str | None = None            # prompt, embedded as its text vector when the embedder reads text


@dataclass
class Hit:
    id: str
    score: float
    item: dict


@runtime_checkable
class ItemStore(Protocol):
    embedder: Any

    def add(self, items: Sequence[NewItem]) -> list[str]: ...
    def get(self, item_id: str) -> dict | None: ...
    def asset(self, item_id: str, name: str) -> bytes | None: ...
    def search(self, modality: str, query: Any, filters: dict, k: int) -> list[Hit]: ...
    def delete(self, item_id: str) -> bool: ...
    def stats(self) -> dict: ...
    def close(self) -> None: ...


def matches(metadata: dict, filters: dict) -> bool:
    """Equality filters; a list value means any of."""
    for k, want in filters.items():
        have = metadata.get(k)
        if isinstance(want, list):
            if have not in want:
                return False
        elif have != want:
            return False
    return True


def audio_sample_rate(joint=None, default=None) -> int:
    """The rate the joint space's audio encoder reads (clips are resampled to it on upload)."""
    encoders = getattr(joint, "encoders", None)
    enc = encoders["audio"] if encoders is not None and "audio" in encoders else None
    return int(getattr(enc, "sample_rate", None) or getattr(joint, "sample_rate", None) or default or 16000)


def embed_input(embedder, obj: Any) -> Any:
    """A generated object as the embedder reads it: sounds (a waveform and its sample_rate) as waveforms at the
    rate of the embedder's audio encoder; images as they are."""
    if hasattr(obj, "waveform") and hasattr(obj, "sample_rate"):
        return resample(np.asarray(obj.waveform, np.float32), int(obj.sample_rate), audio_sample_rate(embedder))
    return obj


def embed_items(embedder, items: Sequence[NewItem]) -> list[dict]:
    """{modality: vector} per item: the generated object and the prompt, each where the embedder reads its
    modality. One embed call per modality."""
    out: list[dict] = [{} for _ in items]
    for m in getattr(embedder, "modalities", ()):
        if m == "text":
            have = [(i, it.text) for i, it in enumerate(items) if it.text]
        else:
            have = [(i, embed_input(embedder, it.embed[m])) for i, it in enumerate(items) if it.embed.get(m) is not None]
        if have:
            for (i, _), v in zip(have, embedder.embed(m, [x for _, x in have])):
                out[i][m] = np.asarray(v, dtype=np.float32)
    return out


class MemoryItemStore:
    """ItemStore in a dict: brute-force cosine over content embeddings (what each item is: its image, its
    clip), keyword match over captions."""

    def __init__(self, embedder=None):
        if embedder is None:
            embedder = PixelEmbedder()
        self.embedder = embedder
        self._items: dict[str, dict] = {}
        self._assets: dict[str, dict[str, bytes]] = {}
        self._vecs: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    def add(self, items: Sequence[NewItem]) -> list[str]:
        vecs = embed_items(self.embedder, items)
        with self._lock:
            for it, v in zip(items, vecs):
                if it.id in self._items:          # content-addressed: the same item again changes nothing
                    continue
                self._items[it.id] = {"id": it.id, "kind": it.metadata.get("kind", "synthetic"),
                                      "modalities": sorted(v), "metadata": dict(it.metadata),
                                      "provenance": dict(it.provenance), "assets": sorted(it.assets),
                                      "created": time.time()}
                self._assets[it.id] = dict(it.assets)
                content = next((m for m in it.embed if m in v), None)      # what was generated
                if content is not None:
                    self._vecs[it.id] = v[content]
        return [it.id for it in items]

    def get(self, item_id: str) -> dict | None:
        with self._lock:
            item = self._items.get(item_id)
            return dict(item) if item else None

    def asset(self, item_id: str, name: str) -> bytes | None:
        with self._lock:
            return self._assets.get(item_id, {}).get(name)

    def search(self, modality: str, query: Any, filters: dict, k: int) -> list[Hit]:
        exclude = None
        if modality == "id":
            with self._lock:
                q = self._vecs.get(query)
            if q is None:
                raise KeyError(f"no item {query!r} in the store")
            exclude = query
        elif modality == "text" and "text" not in self.embedder.modalities:
            return self._keyword(str(query), filters, k)
        else:
            if modality not in self.embedder.modalities:
                raise ValueError(f"this store's embedder ({self.embedder.id}) cannot embed {modality}; it embeds "
                                 f"{', '.join(self.embedder.modalities)}")
            q = self.embedder.embed(modality, [query])[0]
        with self._lock:
            cands = [(i, v) for i, v in self._vecs.items()
                     if i != exclude and matches(self._items[i]["metadata"], filters)]
            items = dict(self._items)
        scored = sorted(((float(np.dot(q, v)), i) for i, v in cands), reverse=True)[:k]
        return [Hit(i, s, dict(items[i])) for s, i in scored]

    def _keyword(self, text: str, filters: dict, k: int) -> list[Hit]:
        words = set(text.lower().split())
        with self._lock:
            scored = []
            for i, it in self._items.items():
                if not matches(it["metadata"], filters):
                    continue
                overlap = len(words & set(str(it["metadata"].get("caption", "")).lower().split()))
                if overlap:
                    scored.append((float(overlap), it["created"], i))
            scored.sort(key=lambda t: (-t[0], t[1]))
            return [Hit(i, s, dict(self._items[i])) for s, _, i in scored[:k]]

    def delete(self, item_id: str) -> bool:
        with self._lock:
            self._assets.pop(item_id, None)
            self._vecs.pop(item_id, None)
            return self._items.pop(item_id, None) is not None

    def stats(self) -> dict:
        with self._lock:
            return {"backend": "memory", "items": len(self._items), "embedder": self.embedder.id}

    def close(self) -> None:
        pass
