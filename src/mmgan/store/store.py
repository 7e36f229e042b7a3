"""Store: real and generated items with their joint-space embeddings, in Milvus.

    store = Store.open("mmgan-store")                    # embedded Milvus Lite folder (default ./mmgan-store)
    store = Store.open(uri="http://127.0.0.1:19530")     # any Milvus server or cluster, same code path
    report = store.add(items)                            # idempotent; near-duplicates reported, skipped by default
    hits = store.search(vec, k=10, kind="real", filter="label == 3")
    hits = store.search(vec, k=10, modality="content")   # against what each item is: its image, its clip
    hits = store.hybrid_search(vec, "a red circle", k=10)  # BM25 over captions + dense, fused by RRF
    store.get(ids); store.delete(ids=...); store.export("out.parquet"); store.stats(); store.close()

Writes that matter are atomic: each add() validates everything first, then writes all rows of a
batch in one insert (one WAL record in Milvus Lite: all or nothing under kill -9). Assets are
written (atomically, content-addressed) before the rows that point at them.
"""
from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from ..utils import atomic_write, chunks
from . import connect
from .schema import (CONTENT, FILTER_FIELDS, KINDS, MODALITIES, OUTPUT_FIELDS, SCALAR_FIELDS, SCHEMA_VERSION, Item,
                     check_item, extra_files, item_rows, rows_to_items)
from .accel import DenseCache

DEFAULT_COLLECTION = "mmgan"
DENSE_INDEX = {"index_type": "HNSW", "metric_type": "IP", "params": {"M": 16, "efConstruction": 200}}
DENSE_EF = 128
RRF_K = 60
DUP_THRESHOLD = 0.99
PROP_SCHEMA, PROP_EMBEDDER, PROP_DIM, PROP_ASSETS = "mmgan.schema", "mmgan.embedder", "mmgan.dim", "mmgan.assets"
PROP_SOURCE = "mmgan.embedder_source"        # where the embedder was loaded from, so search can load it again

_open_embedded: dict[str, int] = {}         # milvus dir -> open Store count in this process
_caches: dict[tuple[str, str], Any] = {}     # (milvus dir, collection) -> DenseCache shared by this process
_lock = threading.Lock()


class StoreVersionError(RuntimeError):
    """The collection was written by another version of the store schema, or is not an mmgan store."""


@dataclass
class Hit:
    item: Item
    score: float                      # cosine for dense search; RRF score for hybrid search
    modality: str                     # the row (embedding) that matched
    rank: int = 0

    def to_dict(self) -> dict:
        return {"rank": self.rank, "score": self.score, "modality": self.modality, **self.item.to_dict()}


@dataclass
class AddReport:
    added: list = field(default_factory=list)            # ids written
    existing: list = field(default_factory=list)         # ids already stored (nothing changed)
    duplicates: list = field(default_factory=list)       # (id, id of its near-duplicate, cosine)
    kept_duplicates: int = 0

    def merge(self, other: "AddReport") -> None:
        self.added += other.added
        self.existing += other.existing
        self.duplicates += other.duplicates
        self.kept_duplicates += other.kept_duplicates

    def summary(self) -> str:
        dup = len(self.duplicates)
        how = f"{self.kept_duplicates} kept" if self.kept_duplicates else "skipped"
        return (f"{len(self.added)} added, {len(self.existing)} already stored"
                + (f", {dup} near-duplicates ({how})" if dup else ""))


def _quote(s: str) -> str:
    return json.dumps(str(s))


def _primary(item: Item) -> str:
    return item.content_modality


class Store:
    def __init__(self, client, endpoint: connect.Endpoint, collection: str):
        self.client = client
        self.endpoint = endpoint
        self.collection = collection
        self.dim: int | None = None
        self.embedder: str = ""
        self.embedder_source: str = ""
        self.assets: Path | None = endpoint.assets
        self._cache = None
        self._closed = False
        if client.has_collection(collection):
            self._check_and_load()

    # ---- opening ------------------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | Path | None = None, uri: str | None = None, token: str | None = None,
             collection: str = DEFAULT_COLLECTION, assets: str | Path | None = None) -> "Store":
        """Open (or prepare) a store: a folder with embedded Milvus Lite (default ./mmgan-store or
        $MMGAN_STORE), or a Milvus server by URI and token. The collection is created on the first add."""
        from pymilvus import MilvusClient

        if not collection.replace("_", "").isalnum() or not collection[0].isalpha():
            raise ValueError(f"collection name {collection!r}: use letters, digits and _ , starting with a letter")
        ep = connect.resolve(path, uri, token, assets)
        key = str(ep.path / connect.MILVUS_DIRNAME) if ep.embedded else ""
        if ep.embedded:
            with _lock:
                _open_embedded[key] = _open_embedded.get(key, 0) + 1
        try:
            client = MilvusClient(uri=ep.uri, token=ep.token)
            return cls(client, ep, collection)
        except BaseException:
            if ep.embedded:
                cls._release(key)
            raise

    @staticmethod
    def _release(key: str) -> None:
        with _lock:
            _open_embedded[key] = _open_embedded.get(key, 1) - 1
            last = _open_embedded[key] <= 0
            if last:
                _open_embedded.pop(key, None)
                for k in [k for k in _caches if k[0] == key]:
                    _caches.pop(k)
        if last:
            connect.release_embedded(Path(key))

    def _check_and_load(self) -> None:
        desc = self.client.describe_collection(self.collection)
        props = desc.get("properties") or {}
        where = f"collection {self.collection!r} at {self.location}"
        if PROP_SCHEMA not in props:
            raise StoreVersionError(f"{where} is not an mmgan store (no {PROP_SCHEMA} property); "
                                    f"use another --collection")
        version = int(props[PROP_SCHEMA])
        if version != SCHEMA_VERSION:
            raise StoreVersionError(
                f"{where} has store schema version {version}; this mmgan reads version {SCHEMA_VERSION}. "
                f"Export it with the mmgan that wrote it (`mmgan store export`) and index again into a new "
                f"store, or open another --collection")
        self.dim = int(props[PROP_DIM])
        self.embedder = props.get(PROP_EMBEDDER, "")
        self.embedder_source = props.get(PROP_SOURCE, "")
        if self.assets is None and props.get(PROP_ASSETS):
            self.assets = Path(props[PROP_ASSETS])
        # A collection reopened later is released: load it before any search or query.
        self.client.load_collection(self.collection)

    @property
    def location(self) -> str:
        return str(self.endpoint.path) if self.endpoint.path else self.endpoint.uri

    @property
    def exists(self) -> bool:
        return self.dim is not None

    def create(self, dim: int, embedder: str, source: str | Path = "") -> None:
        """Create the collection for embeddings of `dim` from the embedder `embedder` (its id), loaded
        from `source` (a path load_embedder takes; recorded so that search can load it again)."""
        from pymilvus import DataType, Function, FunctionType

        if self.exists:
            if dim != self.dim or (embedder and self.embedder and embedder != self.embedder):
                raise ValueError(f"collection {self.collection!r} holds dim {self.dim} embeddings of "
                                 f"{self.embedder!r}; got dim {dim} of {embedder!r}. Use another --collection")
            return
        if dim < 2:
            raise ValueError(f"embedding dim must be at least 2, got {dim}")
        s = self.client.create_schema(auto_id=False, description="mmgan store: real and generated items")
        for name, dtype, kw in SCALAR_FIELDS:
            s.add_field(name, getattr(DataType, dtype), **kw)
        s.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
        s.add_field("caption_sparse", DataType.SPARSE_FLOAT_VECTOR)
        s.add_function(Function(name="caption_bm25", function_type=FunctionType.BM25,
                                input_field_names=["caption"], output_field_names=["caption_sparse"]))
        ip = self.client.prepare_index_params()
        ip.add_index("vector", **DENSE_INDEX)
        ip.add_index("caption_sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
        props = {PROP_SCHEMA: str(SCHEMA_VERSION), PROP_DIM: str(dim), PROP_EMBEDDER: embedder,
                 PROP_SOURCE: str(Path(source).absolute()) if source else ""}
        if self.assets is not None:
            props[PROP_ASSETS] = str(Path(self.assets).absolute())
        # pymilvus asks for a timestamp Milvus Lite does not implement while it waits for the index;
        # it copes, but the in-process server would log a traceback for it.
        grpc_log = logging.getLogger("grpc._server")
        level = grpc_log.level
        grpc_log.setLevel(logging.CRITICAL)
        try:
            self.client.create_collection(self.collection, schema=s, index_params=ip, properties=props)
        finally:
            grpc_log.setLevel(level)
        self.client.load_collection(self.collection)
        self.dim, self.embedder, self.embedder_source = dim, embedder, props[PROP_SOURCE]

    def _require(self) -> None:
        if self._closed:
            raise RuntimeError("the store is closed")
        if not self.exists:
            raise ValueError(f"store {self.location} has no collection {self.collection!r} yet; "
                             f"index something first (`mmgan index DATA --store DIR`)")

    # ---- assets ---------------------------------------------------------------------------------
    @staticmethod
    def asset_rel(item_id: str, ext: str = "png") -> str:
        """Where an item's file goes, relative to the assets folder: ab/<id>.<ext> (content-addressed)."""
        return f"{item_id[:2]}/{item_id}.{ext.lstrip('.')}"

    def save_asset(self, item_id: str, data: Any, ext: str = "png") -> str:
        """Write an item's file under assets/ab/<id>.<ext> (atomic, skipped if present); returns the relative path."""
        if self.assets is None:
            raise ValueError("this store has no assets folder; open it with assets=DIR (--assets DIR)")
        rel = self.asset_rel(item_id, ext)
        dst = Path(self.assets) / rel
        if dst.exists():
            return rel
        if hasattr(data, "save"):                            # PIL image
            atomic_write(dst, lambda tmp: data.save(tmp, format=ext.upper() if ext != "jpg" else "JPEG"))
        elif isinstance(data, (bytes, bytearray)):
            atomic_write(dst, lambda tmp: Path(tmp).write_bytes(data))
        else:                                                # a file path: copy it
            src = Path(data)
            atomic_write(dst, lambda tmp: Path(tmp).write_bytes(src.read_bytes()))
        return rel

    def asset_path(self, item: Item) -> Path | None:
        if not item.asset or self.assets is None:
            return None
        return Path(self.assets) / item.asset

    # ---- writing ----------------------------------------------------------------------------------
    def _existing_pks(self, pks: list[str]) -> set[str]:
        found: set[str] = set()
        for part in chunks(pks, 1000):
            found.update(r["pk"] for r in self.client.get(self.collection, ids=part, output_fields=["pk"]))
        return found

    def add(self, items: Sequence[Item], on_duplicate: str = "skip", dup_threshold: float = DUP_THRESHOLD) -> AddReport:
        """Add items; ids already stored are left untouched (so re-adding changes nothing).

        A new item whose content embedding (Item.content_modality) has cosine >= dup_threshold
        with a stored item of the same kind, or with an earlier item of this call, is a near-duplicate:
        reported, and skipped (on_duplicate="skip") or written anyway ("keep").
        """
        if on_duplicate not in ("skip", "keep"):
            raise ValueError(f"on_duplicate must be 'skip' or 'keep', got {on_duplicate!r}")
        items = list(items)
        report = AddReport()
        if not items:
            return report
        if not self.exists:
            first = next((v for it in items for v in it.vectors.values() if v is not None), None)
            if first is None:
                raise ValueError("items have no embeddings")
            self.create(int(np.asarray(first).size), items[0].embedder)
        self._require()
        seen: set[str] = set()
        unique = []
        for it in items:                                     # validate everything before writing anything
            check_item(it, self.dim, self.embedder)
            if it.id not in seen:
                seen.add(it.id)
                unique.append(it)
        pks = [f"{it.id}:{m}" for it in unique for m in it.modalities]
        have = self._existing_pks(pks)
        new: list[Item] = []
        for it in unique:
            missing = [m for m in it.modalities if f"{it.id}:{m}" not in have]
            if not missing:
                report.existing.append(it.id)
            elif len(missing) < len(it.modalities):          # an older write of fewer modalities: add the rest
                it.content = it.content_modality                 # (its content row keeps the primary flag)
                it.vectors = {m: it.vectors[m] for m in missing}
                new.append(it)
            else:
                new.append(it)
        dup_of = self._near_duplicates([it for it in new if len(it.modalities) and
                                        not any(f"{it.id}:{m}" in have for m in MODALITIES)], dup_threshold)
        rows: list[dict] = []
        for it in new:
            if it.id in dup_of:
                other, sim = dup_of[it.id]
                report.duplicates.append((it.id, other, sim))
                if on_duplicate == "skip":
                    continue
                report.kept_duplicates += 1
                it.extra = {**it.extra, "near_duplicate_of": other, "near_duplicate_cosine": round(sim, 5)}
            rows.extend(item_rows(it))
            report.added.append(it.id)
        if rows:
            for it in new:                                   # files first: a committed row's asset exists
                if it.id in report.added:
                    for rel, (data, ext) in it.files.items():
                        self.save_asset(it.id, data, ext)
            self.client.insert(self.collection, rows)       # one call: the batch lands whole or not at all
            if self._cache is not None:
                self._cache.add_rows(rows)
        return report

    def _near_duplicates(self, items: list[Item], threshold: float) -> dict[str, tuple[str, float]]:
        """id -> (id of an earlier/stored near-duplicate, cosine), per primary modality and kind."""
        out: dict[str, tuple[str, float]] = {}
        if not items or threshold > 1.0:
            return out
        groups: dict[tuple[str, str], list[Item]] = {}
        for it in items:
            groups.setdefault((_primary(it), it.kind), []).append(it)
        for (m, kind), group in groups.items():
            q = np.stack([it.vectors[m] for it in group])
            for it, hits in zip(group, self._dense(q, k=1, modality=m, kind=kind)):
                if hits and hits[0][1] >= threshold:
                    out[it.id] = (hits[0][0].split(":")[0], hits[0][1])
            sims = q @ q.T                                   # within this call: later vs earlier accepted
            accepted: list[int] = []
            for j, it in enumerate(group):
                if it.id not in out and accepted:
                    i = max(accepted, key=lambda a: sims[j, a])
                    if sims[j, i] >= threshold:
                        out[it.id] = (group[i].id, float(sims[j, i]))
                if it.id not in out:
                    accepted.append(j)
        return out

    def upsert(self, items: Sequence[Item]) -> int:
        """Write items, replacing stored ones with the same id (e.g. to update scores). Returns the count."""
        items = list(items)
        if not items:
            return 0
        if not self.exists:
            first = next(v for it in items for v in it.vectors.values() if v is not None)
            self.create(int(np.asarray(first).size), items[0].embedder)
        self._require()
        for it in items:
            check_item(it, self.dim, self.embedder)
        rows = [r for it in items for r in item_rows(it)]
        stale = [f"{it.id}:{m}" for it in items for m in MODALITIES if m not in it.vectors]
        self.client.upsert(self.collection, rows)
        stale = sorted(self._existing_pks(stale)) if stale else []
        if stale:
            self.client.delete(self.collection, ids=stale)
        if self._cache is not None:
            self._cache.add_rows(rows)
            self._cache.remove_pks(stale)
        return len(items)

    def delete(self, ids: Iterable[str] | None = None, filter: str | None = None, assets: bool = True) -> int:
        """Delete items by id or by a filter expression (every row of a matching item goes). Returns the
        number of items deleted. Their asset files are removed after their rows."""
        self._require()
        if ids is None and not filter:
            raise ValueError("delete needs ids or a filter (to delete everything, use filter='item_id != \"\"')")
        item_ids: set[str] = set()
        if ids is not None:
            ids = [str(i) for i in ids]
            pks = [f"{i}:{m}" for i in ids for m in MODALITIES]
            rows = [r for part in chunks(pks, 1000) for r in
                    self.client.get(self.collection, ids=part, output_fields=["item_id", "asset", "meta"])]
        else:
            rows = self._query(filter, ["item_id", "asset", "meta"])
        item_ids = {r["item_id"] for r in rows}
        files = {r["asset"] for r in rows if r.get("asset")}
        files |= {f for r in rows for f in extra_files((r.get("meta") or {}).get("extra")).values()}
        if not item_ids:
            return 0
        pks = [f"{i}:{m}" for i in sorted(item_ids) for m in MODALITIES]
        for part in chunks(pks, 1000):
            self.client.delete(self.collection, ids=part)
        if self._cache is not None:
            self._cache.remove_pks(pks)
        if assets and self.assets is not None:
            for rel in files:
                try:
                    (Path(self.assets) / rel).unlink()
                except OSError:
                    pass
        return len(item_ids)

    # ---- reading ------------------------------------------------------------------------------------
    def _expr(self, modality: str | None = None, kind: str | None = None, filter: str | None = None) -> str:
        parts = []
        if modality == CONTENT:
            parts.append("primary == true")
        elif modality is not None:
            if modality not in MODALITIES:
                raise ValueError(f"modality must be one of {MODALITIES} or {CONTENT!r}, got {modality!r}")
            parts.append(f"modality == {_quote(modality)}")
        if kind is not None:
            if kind not in KINDS:
                raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
            parts.append(f"kind == {_quote(kind)}")
        if filter:
            parts.append(f"({filter})")
        return " and ".join(parts)

    def _bad_filter(self, filter: str | None, err: Exception) -> Exception:
        return ValueError(f"bad filter {filter!r}: {getattr(err, 'message', err)}. Fields: {', '.join(FILTER_FIELDS)} "
                          f"(strings in double quotes, e.g. kind == \"real\" and label in [1, 2])")

    def _query(self, filter: str | None, fields: list[str], limit: int | None = None) -> list[dict]:
        from pymilvus.exceptions import MilvusException

        try:
            if limit is not None:
                return self.client.query(self.collection, filter=filter or "", output_fields=fields, limit=limit)
            return list(self._scan(filter or "", fields))
        except MilvusException as e:
            raise self._bad_filter(filter, e) from e

    def _scan(self, filter: str, fields: list[str], batch: int = 2000):
        """Every matching row. Embedded: read in-process (fast); else a query iterator."""
        db = connect.embedded_db(self.endpoint.path / connect.MILVUS_DIRNAME) if self.endpoint.embedded else None
        if db is not None:
            try:
                col = db.get_collection(self.collection)
            except Exception:
                col = None
            if col is not None:
                n = col.num_entities if hasattr(col, "num_entities") else 1 << 30
                for r in col.query(expr=filter or None, output_fields=fields, limit=max(int(n), 1) + 16):
                    if isinstance(r.get("meta"), str):
                        r["meta"] = json.loads(r["meta"])
                    yield r
                return
        it = self.client.query_iterator(self.collection, batch_size=batch, filter=filter, output_fields=fields)
        try:
            while True:
                rows = it.next()
                if not rows:
                    break
                yield from rows
        finally:
            it.close()

    def get(self, ids: Iterable[str], vectors: bool = False) -> list[Item]:
        """Items by id, in the order given (unknown ids are left out)."""
        self._require()
        ids = [str(i) for i in ids]
        pks = [f"{i}:{m}" for i in ids for m in MODALITIES]
        fields = OUTPUT_FIELDS + (["vector"] if vectors else [])
        rows = [r for part in chunks(pks, 1000) for r in self.client.get(self.collection, ids=part, output_fields=fields)]
        found = {it.id: it for it in rows_to_items(rows)}
        return [found[i] for i in ids if i in found]

    def _dense(self, q: np.ndarray, k: int, modality: str | None, kind: str | None = None,
               filter: str | None = None, ef: int = DENSE_EF) -> list[list[tuple[str, float]]]:
        """(pk, cosine) per query, best first."""
        from pymilvus.exceptions import MilvusException

        q = np.asarray(q, dtype=np.float32).reshape(-1, self.dim)
        if self._cache is not None and not filter and modality is not None:
            return self._cache.search(q, k, modality, kind)
        expr = self._expr(modality, kind, filter)
        try:
            res = self.client.search(self.collection, data=q.tolist(), anns_field="vector", limit=k, filter=expr,
                                     output_fields=["pk"], search_params={"metric_type": "IP", "params": {"ef": max(ef, k)}})
        except MilvusException as e:
            raise self._bad_filter(filter, e) from e
        return [[(h["pk"] if "pk" in h else h["id"], float(h["distance"])) for h in hits] for hits in res]

    def _hits(self, ranked: list[tuple[str, float]], k: int) -> list[Hit]:
        """pks with scores -> Hits with their items (one hit per item, best row first)."""
        out, seen = [], set()
        ranked = [(pk, s) for pk, s in ranked if pk.split(":")[0] not in seen and not seen.add(pk.split(":")[0])][:k]
        ids = [pk.split(":")[0] for pk, _ in ranked]
        if self._cache is not None:                          # accelerated: metadata is here too
            items = {it.id: it for it in rows_to_items(self._cache.rows(ids))}
        else:
            items = {it.id: it for it in self.get(ids)}
        for pk, s in ranked:
            iid, m = pk.split(":")
            if iid in items:
                out.append(Hit(items[iid], s, m, rank=len(out) + 1))
        return out

    def _check_query(self, vector: Any) -> np.ndarray:
        v = np.asarray(vector, dtype=np.float32)
        if v.ndim != 1 or v.shape[0] != self.dim:
            raise ValueError(f"query vector has shape {tuple(v.shape)}; the store holds dim {self.dim}")
        if not np.isfinite(v).all() or np.linalg.norm(v) < 1e-6:
            raise ValueError("query vector is zero or not finite")
        return v / np.linalg.norm(v)

    def search(self, vector: Any, k: int = 10, modality: str | None = "image", kind: str | None = None,
               filter: str | None = None, exclude: Sequence[str] = ()) -> list[Hit]:
        """Items nearest to a joint-space vector, matched against their `modality` embeddings ("content":
        each item's content row, what it is; None: any embedding, best per item). filter is a Milvus
        expression over the metadata."""
        self._require()
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        v = self._check_query(vector)
        extra = len(exclude) + (0 if modality else 2 * k)       # any-modality search returns rows, not items
        ranked = self._dense(v, k + extra, modality, kind, filter)[0]
        ranked = [(pk, s) for pk, s in ranked if pk.split(":")[0] not in set(exclude)]
        return self._hits(ranked, k)

    def similar(self, item_id: str, k: int = 10, modality: str | None = "image", kind: str | None = None,
                filter: str | None = None) -> list[Hit]:
        """Items nearest to a stored item (itself left out), by its embedding of `modality` (else its first)."""
        found = self.get([item_id], vectors=True)
        if not found:
            raise KeyError(f"no item {item_id!r} in the store")
        it = found[0]
        m = modality if modality in it.vectors else _primary(it)
        return self.search(it.vectors[m], k=k, modality=modality, kind=kind, filter=filter, exclude=[item_id])

    def hybrid_search(self, vector: Any | None, text: str | None, k: int = 10, modality: str = "image",
                      kind: str | None = None, filter: str | None = None, candidates: int | None = None,
                      rrf_k: int = RRF_K) -> list[Hit]:
        """BM25 over captions and dense vectors, fused with reciprocal rank fusion (Milvus's RRFRanker;
        BM25 is Milvus's built-in function on the caption field). Either side may be None."""
        from pymilvus import AnnSearchRequest, RRFRanker
        from pymilvus.exceptions import MilvusException

        self._require()
        if vector is None and not (text and text.strip()):
            raise ValueError("hybrid search needs a query vector, a text, or both")
        if vector is not None and not (text and text.strip()):
            return self.search(vector, k, modality, kind, filter)
        expr = self._expr(modality, kind, filter)
        n = candidates or max(50, 4 * k)
        try:
            if vector is None:
                res = self.client.search(self.collection, data=[text], anns_field="caption_sparse", limit=k,
                                         filter=expr, output_fields=["pk"], search_params={"metric_type": "BM25"})
            else:
                v = self._check_query(vector)
                reqs = [AnnSearchRequest([v.tolist()], "vector", {"metric_type": "IP", "params": {"ef": max(DENSE_EF, n)}},
                                         limit=n, expr=expr),
                        AnnSearchRequest([text], "caption_sparse", {"metric_type": "BM25"}, limit=n, expr=expr)]
                res = self.client.hybrid_search(self.collection, reqs, RRFRanker(rrf_k), limit=k, output_fields=["pk"])
        except MilvusException as e:
            raise self._bad_filter(filter, e) from e
        ranked = [(h["pk"] if "pk" in h else h["id"], float(h["distance"])) for h in res[0]]
        if vector is None:
            ranked = [(pk, abs(s)) for pk, s in ranked]             # BM25 scores come back negated
        return self._hits(ranked, k)

    # ---- acceleration ---------------------------------------------------------------------------------
    def accelerate(self, exact: bool = False) -> int:
        """Keep an in-process HNSW copy of the vectors for fast dense search (embedded stores only; see
        accel.py for why). Builds it once per process and folder; returns the number of rows indexed."""

        self._require()
        if not self.endpoint.embedded:
            raise ValueError("acceleration needs the embedded store (this process owns the folder); "
                             "a Milvus server searches fast by itself")
        key = (str(self.endpoint.path / connect.MILVUS_DIRNAME), self.collection)
        with _lock:
            cache = _caches.get(key)
        if cache is None:
            cache = DenseCache(self.dim, exact=exact)
            batch: list[dict] = []
            for r in self._scan("", OUTPUT_FIELDS + ["vector"]):
                batch.append(r)
                if len(batch) >= 10000:
                    cache.add_rows(batch)
                    batch = []
            cache.add_rows(batch)
            with _lock:
                cache = _caches.setdefault(key, cache)
        self._cache = cache
        return len(cache)

    # ---- export / stats -----------------------------------------------------------------------------
    def iter_items(self, filter: str | None = None, vectors: bool = True) -> Iterable[Item]:
        self._require()
        fields = OUTPUT_FIELDS + (["vector"] if vectors else [])
        rows = self._query(filter, fields)
        return rows_to_items(rows)

    def export(self, path: str | Path, format: str | None = None, filter: str | None = None,
               vectors: bool = True) -> int:
        """Write items (one record each: metadata + image/text/audio vectors) to Parquet or JSONL,
        atomically. Returns the number of items."""
        path = Path(path)
        fmt = (format or path.suffix.lstrip(".")).lower()
        if fmt not in ("parquet", "jsonl"):
            raise ValueError(f"export format must be parquet or jsonl (from --format or the file suffix), got {fmt!r}")
        items = self.iter_items(filter, vectors=vectors)
        records = []
        for it in items:
            d = it.to_dict()
            d["conditions"] = json.dumps(d["conditions"], sort_keys=True)
            d["extra"] = json.dumps(d["extra"], sort_keys=True)
            if vectors:
                for m in MODALITIES:
                    v = it.vectors.get(m)
                    d[f"{m}_vector"] = None if v is None else np.asarray(v, dtype=np.float32).tolist()
            records.append(d)
        if fmt == "jsonl":
            def write(tmp: str) -> None:
                with open(tmp, "w", encoding="utf-8") as f:
                    for d in records:
                        f.write(json.dumps(d, sort_keys=True) + "\n")
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.Table.from_pylist(records) if records else pa.table({"id": pa.array([], pa.string())})
            table = table.replace_schema_metadata({"mmgan.schema": str(SCHEMA_VERSION), "mmgan.dim": str(self.dim),
                                                   "mmgan.embedder": self.embedder})

            def write(tmp: str) -> None:
                pq.write_table(table, tmp)
        atomic_write(path, write)
        return len(records)

    def count_rows(self, filter: str | None = None) -> int:
        """Number of rows (embeddings) matching the filter."""
        from pymilvus.exceptions import MilvusException

        self._require()
        try:
            res = self.client.query(self.collection, filter=filter or "", output_fields=["count(*)"])
        except MilvusException as e:
            raise self._bad_filter(filter, e) from e
        return int(res[0]["count(*)"]) if res else 0

    def count(self, filter: str | None = None) -> int:
        """Number of items (not embeddings) matching the filter."""
        return self.count_rows(self._expr(filter=filter) + (" and " if filter else "") + "primary == true")

    def stats(self) -> dict:
        """Counts of items and embeddings by kind and modality, datasets and models, schema and backend."""
        out: dict[str, Any] = {"location": self.location, "uri": self.endpoint.uri, "collection": self.collection,
                               "schema_version": SCHEMA_VERSION, "embedded": self.endpoint.embedded,
                               "assets": str(self.assets) if self.assets else None}
        if not self.exists:
            out["items"] = 0
            return out
        out.update(dim=self.dim, embedder=self.embedder)
        rows = self._query("", ["item_id", "kind", "modality", "dataset", "model"])
        items = {}
        emb = {m: 0 for m in MODALITIES}
        for r in rows:
            items[r["item_id"]] = r
            emb[r["modality"]] += 1
        out["items"] = len(items)
        out["by_kind"] = {k: sum(1 for r in items.values() if r["kind"] == k) for k in KINDS}
        out["embeddings"] = emb
        ds: dict[str, int] = {}
        models: dict[str, int] = {}
        for r in items.values():
            if r["dataset"]:
                ds[r["dataset"]] = ds.get(r["dataset"], 0) + 1
            if r["model"]:
                models[r["model"]] = models.get(r["model"], 0) + 1
        out["datasets"], out["models"] = ds, models
        if self.assets is not None and Path(self.assets).exists():
            files = [p for p in Path(self.assets).rglob("*") if p.is_file()]
            out["asset_files"] = len(files)
            out["asset_bytes"] = sum(p.stat().st_size for p in files)
        return out

    def flush(self) -> None:
        """Seal written rows into indexed segments (faster reopen); not needed for durability."""
        if self.exists:
            self.client.flush(self.collection)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._cache = None
        try:
            self.client.close()
        finally:
            if self.endpoint.embedded:
                self._release(str(self.endpoint.path / connect.MILVUS_DIRNAME))

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.location!r}, collection={self.collection!r}, dim={self.dim}, embedder={self.embedder!r})"
