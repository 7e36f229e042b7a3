"""What a store row is: the versioned collection schema, the Item record and their conversion.

One row per (item, modality): an item (a dataset image with its caption and spoken caption, or a
generated image with its prompt) has one row for each modality it was embedded in, all sharing the
item's metadata. Milvus Lite allows one dense vector field per collection, and one field also makes
cross-modal search plain: a text query against the `image` rows finds images, against the `text`
rows finds captions.

    pk            "<item id>:<modality>"
    item_id       content hash of the item (kind included, so real and synthetic never collide)
    vector        (dim,) float32, L2-normalised joint-space embedding; metric IP = cosine
    caption       caption (real) or prompt (synthetic); BM25 over it fills caption_sparse
"""
from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

SCHEMA_VERSION = 1                  # bump when fields change; opening another version is refused
KINDS = ("real", "synthetic")
MODALITIES = ("image", "text", "audio")
MAX_CAPTION = 4096
ID_CHARS = 32                       # 128-bit content hash, hex

# Scalar fields (name, pymilvus DataType name, extra kwargs); vector and sparse fields are added in backend.
SCALAR_FIELDS = [
    ("pk", "VARCHAR", {"is_primary": True, "max_length": ID_CHARS + 16}),
    ("item_id", "VARCHAR", {"max_length": ID_CHARS + 8}),
    ("kind", "VARCHAR", {"max_length": 16}),
    ("modality", "VARCHAR", {"max_length": 16}),
    ("primary", "BOOL", {}),                        # True on the row of each item's content: count items, not
                                                    # rows; search what items are (CONTENT)
    ("caption", "VARCHAR", {"max_length": MAX_CAPTION, "enable_analyzer": True}),
    ("label", "INT64", {}),
    ("class_name", "VARCHAR", {"max_length": 256}),
    ("dataset", "VARCHAR", {"max_length": 256}),
    ("dataset_version", "VARCHAR", {"max_length": 64}),
    ("model", "VARCHAR", {"max_length": 512}),
    ("model_version", "VARCHAR", {"max_length": 64}),
    ("step", "INT64", {}),
    ("seed", "INT64", {}),
    ("created_at", "DOUBLE", {}),
    ("user", "VARCHAR", {"max_length": 128}),
    ("d_score", "FLOAT", {"nullable": True}),
    ("match_score", "FLOAT", {"nullable": True}),
    ("asset", "VARCHAR", {"max_length": 512}),
    ("embedder", "VARCHAR", {"max_length": 256}),
    ("meta", "JSON", {}),
]
CONTENT = "content"                 # search modality: each item's content row (its image, its clip, its words)
FILTER_FIELDS = [name for name, _, _ in SCALAR_FIELDS if name not in ("pk", "meta")]
OUTPUT_FIELDS = [name for name, _, _ in SCALAR_FIELDS]


@dataclass
class Item:
    """One real or generated item with its embeddings and provenance.

    vectors maps modality -> (dim,) float32 embedding; `content` names the one that is what the item
    is (a generated clip's audio; a dataset row's target column), the others describe it (a caption, a
    spoken caption); unset, the first of MODALITIES. `asset` is the path of the image relative to the
    store's assets folder, extra["<slot>_asset"] those of its other files: sound, caption, transcript
    (place_asset writes them, item_files lists them all). conditions
    holds the generator's inputs (labels, text, audio path) for synthetic items; extra holds anything
    else (attributes, the source index in its dataset, the file it was read from).
    """

    kind: str
    vectors: dict = field(default_factory=dict)
    caption: str = ""
    label: int = -1
    class_name: str = ""
    dataset: str = ""
    dataset_version: str = ""
    model: str = ""
    model_version: str = ""
    step: int = -1
    seed: int = -1
    created_at: float = 0.0
    user: str = ""
    d_score: float | None = None
    match_score: float | None = None
    asset: str = ""
    embedder: str = ""
    conditions: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)
    id: str = ""
    files: dict = field(default_factory=dict, repr=False)   # asset path -> (data, ext) for Store.add to write
    content: str = ""

    @property
    def modalities(self) -> list[str]:
        return [m for m in MODALITIES if m in self.vectors]

    @property
    def content_modality(self) -> str:
        """The modality of what the item is: `content` when it is embedded, else its first embedding."""
        mods = self.modalities
        return self.content if self.content in mods or not mods else mods[0]

    def to_dict(self, vectors: bool = False) -> dict:
        d = asdict(self)
        d.pop("files", None)
        if vectors:
            d["vectors"] = {m: (None if v is None else np.asarray(v, dtype=np.float32).tolist())
                            for m, v in self.vectors.items()}
        else:
            d.pop("vectors")
            d["modalities"] = self.modalities
        return d


ASSET_SLOTS = ("image", "audio", "caption", "transcript")   # the files an item keeps, by a codec's store_asset stem


def asset_slot(name: str) -> tuple[str, str]:
    """A codec's store_asset ("image.png", "audio.wav", "caption.txt", "transcript.srt") -> (slot, extension).
    The store keeps an image as the row's `asset` and any other file as extra["<slot>_asset"] (item_files reads
    them back)."""
    kind, _, ext = str(name).partition(".")
    if kind not in ASSET_SLOTS or not ext:
        raise ValueError(f"the store keeps {', '.join(s + '.*' for s in ASSET_SLOTS)} files, not {name!r}")
    return kind, ext


def place_asset(item: Item, rel: str, name: str) -> None:
    """Record on item where its file `name` (a codec's store_asset) is kept: rel, under the assets folder."""
    slot = asset_slot(name)[0]
    if slot == "image":
        item.asset = rel
    else:
        item.extra = {**item.extra, f"{slot}_asset": rel}


def extra_files(extra: dict | None) -> dict[str, str]:
    """slot -> file of the non-image files named in an item's extra (audio, caption, transcript)."""
    extra = extra or {}
    return {slot: str(extra[f"{slot}_asset"]) for slot in ASSET_SLOTS[1:] if extra.get(f"{slot}_asset")}


def item_files(item: Item) -> dict[str, str]:
    """slot -> the file an item keeps (relative to the store's assets folder): its image, its sound, its words."""
    return ({"image": item.asset} if item.asset else {}) | extra_files(item.extra)


def content_id(kind: str, *parts: Any) -> str:
    """Content hash of an item: its kind and the bytes that make it (pixels, text, conditions, ...)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    h = hashlib.sha256(kind.encode())
    for p in parts:
        h.update(b"\x1f")
        if isinstance(p, np.ndarray):
            h.update(str(p.dtype).encode() + str(p.shape).encode())
            h.update(np.ascontiguousarray(p).tobytes())
        elif isinstance(p, (bytes, bytearray)):
            h.update(p)
        else:
            h.update(json.dumps(p, sort_keys=True, default=str).encode())
    return h.hexdigest()[:ID_CHARS]


def _finite_or_none(v: Any, name: str) -> float | None:
    if v is None:
        return None
    v = float(v)
    if math.isnan(v):
        return None
    if math.isinf(v):
        raise ValueError(f"{name} must be finite, got {v}")
    return v


def check_item(item: Item, dim: int, embedder: str) -> Item:
    """Validate one item before anything is written; raise ValueError naming the problem."""
    who = f"item {item.id or '(no id yet)'}"
    if item.kind not in KINDS:
        raise ValueError(f"{who}: kind must be one of {KINDS}, got {item.kind!r}")
    if not item.vectors:
        raise ValueError(f"{who}: no embeddings; an item needs at least one of {MODALITIES}")
    for m, v in item.vectors.items():
        if v is None:
            raise ValueError(f"{who}: {m} embedding was not fetched; use store.get(ids, vectors=True) to re-add items")
        if m not in MODALITIES:
            raise ValueError(f"{who}: unknown modality {m!r}; valid: {', '.join(MODALITIES)}")
        v = np.asarray(v, dtype=np.float32).reshape(-1)
        if v.shape[0] != dim:
            raise ValueError(f"{who}: {m} embedding has dim {v.shape[0]}, the store holds dim {dim}")
        if not np.isfinite(v).all():
            raise ValueError(f"{who}: {m} embedding has NaN or inf values")
        n = float(np.linalg.norm(v))
        if n < 1e-6:
            raise ValueError(f"{who}: {m} embedding is all zeros")
        item.vectors[m] = v / n                       # the contract says L2-normalised; make it exact
    if item.content and item.content not in MODALITIES:
        raise ValueError(f"{who}: content must be one of {MODALITIES}, got {item.content!r}")
    if item.embedder and embedder and item.embedder != embedder:
        raise ValueError(f"{who}: embedded with {item.embedder!r} but the store holds {embedder!r} embeddings; "
                         f"vectors from different joint spaces cannot be compared (use another --collection)")
    item.embedder = embedder or item.embedder
    if len(item.caption.encode()) > MAX_CAPTION:
        raise ValueError(f"{who}: caption longer than {MAX_CAPTION} bytes")
    item.d_score = _finite_or_none(item.d_score, "d_score")
    item.match_score = _finite_or_none(item.match_score, "match_score")
    if not item.created_at:
        item.created_at = time.time()
    if not item.id:
        raise ValueError(f"{who}: no id; use content_id(kind, ...) over the item's content")
    if len(item.id) > ID_CHARS + 8 or ":" in item.id:
        raise ValueError(f"item id {item.id!r} is too long or contains ':'")
    return item


def item_rows(item: Item) -> list[dict]:
    """The collection rows of one item, one per embedded modality."""
    base = {
        "item_id": item.id, "kind": item.kind, "caption": item.caption, "label": int(item.label),
        "class_name": item.class_name, "dataset": item.dataset, "dataset_version": item.dataset_version,
        "model": item.model, "model_version": item.model_version, "step": int(item.step), "seed": int(item.seed),
        "created_at": float(item.created_at), "user": item.user, "d_score": item.d_score,
        "match_score": item.match_score, "asset": item.asset, "embedder": item.embedder,
        "meta": {"conditions": item.conditions, "extra": item.extra},
    }
    content = item.content or item.content_modality
    return [{**base, "pk": f"{item.id}:{m}", "modality": m, "primary": m == content, "vector": item.vectors[m].tolist()}
            for m in item.modalities]


def rows_to_items(rows: list[dict]) -> list[Item]:
    """Group rows (entities from query/get) back into items, in first-seen order."""
    items: dict[str, Item] = {}
    for r in rows:
        iid = r["item_id"]
        if iid not in items:
            meta = r.get("meta") or {}
            if isinstance(meta, str):
                meta = json.loads(meta)
            items[iid] = Item(
                id=iid, kind=r["kind"], caption=r.get("caption", ""), label=int(r.get("label", -1)),
                class_name=r.get("class_name", ""), dataset=r.get("dataset", ""),
                dataset_version=r.get("dataset_version", ""), model=r.get("model", ""),
                model_version=r.get("model_version", ""), step=int(r.get("step", -1)), seed=int(r.get("seed", -1)),
                created_at=float(r.get("created_at", 0.0)), user=r.get("user", ""), d_score=r.get("d_score"),
                match_score=r.get("match_score"), asset=r.get("asset", ""), embedder=r.get("embedder", ""),
                conditions=meta.get("conditions", {}), extra=meta.get("extra", {}))
        v = r.get("vector")
        items[iid].vectors[r["modality"]] = None if v is None else np.asarray(v, dtype=np.float32)
        if r.get("primary"):
            items[iid].content = r["modality"]
    return list(items.values())
