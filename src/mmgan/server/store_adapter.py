"""The real store behind the ItemStore protocol: mmgan.store.Store on Milvus (Lite, in this process, for
`--store DIR`; or a server by `--store-uri`), and the embedder its vectors come from.

Which embedder: --embedder, else the one the store was made with (recorded in the collection), else the first
served run's joint space, else PixelEmbedder (images only; text search then matches captions and prompts by
BM25). A store made with one embedder is never written with another: the server refuses to start instead.
"""
from __future__ import annotations

import json
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Sequence

from ..conditioning import load_embedder
from .items import FILTER_KEYS, Hit, NewItem, embed_items
from ..store import Item
from ..store import Store
from ..store.schema import CONTENT, asset_slot, item_files, place_asset
from .embed import PixelEmbedder

log = logging.getLogger("mmgan.server")


def choose_embedder(settings, stored_source: str = ""):
    """(embedder, source path or '') by the rule in the module docstring."""

    if settings.embedder:
        return _load_joint(settings.embedder), settings.embedder
    if stored_source and Path(stored_source).exists():
        return _load_joint(stored_source), stored_source
    for run in settings.runs.values():
        try:
            return _load_joint(run), run
        except (ValueError, FileNotFoundError, ImportError):
            continue                              # this run has no joint space
    return PixelEmbedder(), ""


def _load_joint(path: str):
    return load_embedder(path)


def open_item_store(settings, embedder=None) -> "MilvusItemStore":

    store = Store.open(path=settings.store, uri=settings.store_uri, token=settings.store_token,
                       collection=settings.collection, assets=settings.store_assets)
    try:
        if embedder is None:
            embedder, source = choose_embedder(settings, store.embedder_source if store.exists else "")
        else:
            source = ""
        if store.exists and store.embedder and store.embedder != embedder.id:
            raise ValueError(f"store {store.location} (collection {store.collection!r}) holds embeddings of "
                             f"{store.embedder!r}, but this server would embed with {embedder.id!r}; serve it with "
                             f"--embedder {store.embedder_source or 'SOURCE'} or use another --collection")
        if not store.exists:
            store.create(int(embedder.dim), embedder.id, source)
        if store.endpoint.embedded and settings.store_accelerate != "off":
            # an in-process copy of the vectors: fast unfiltered search, but every insert also pays for it
            # (HNSW: about 3 ms per image on 2 cores), so a generation-heavy service leaves it off
            store.accelerate(exact=settings.store_accelerate == "exact")
        if store.assets is None:
            raise ValueError("the store has no assets folder for generated images; give --store-assets DIR")
    except BaseException:
        store.close()
        raise
    log.info("store %s (collection %s), embedder %s", store.location, store.collection, embedder.id)
    return MilvusItemStore(store, embedder, fsync=settings.asset_fsync)


def filter_expr(filters: dict) -> str:
    """Equality filters as a Milvus expression; values are JSON-quoted, keys checked against FILTER_KEYS."""
    parts = []
    for key, want in filters.items():
        if key not in FILTER_KEYS:
            raise ValueError(f"cannot filter on {key!r}; filter fields: {', '.join(FILTER_KEYS)}")
        if isinstance(want, list):
            parts.append(f"{key} in [{', '.join(_literal(v) for v in want)}]")
        else:
            parts.append(f"{key} == {_literal(want)}")
    return " and ".join(parts)


def _literal(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    return json.dumps(str(v))


def write_files_durably(root: Path, files: Sequence[tuple[str, bytes]], pool: ThreadPoolExecutor,
                        fsync: bool = True) -> None:
    """Write files under root atomically (temp + rename) and durably (fsync of each file and of each folder), the
    fsyncs issued in parallel so the file system commits them together: about 3x faster than one after another
    for a batch of 64 on ext4. Files already there are left alone (their names are content hashes).
    fsync=False keeps the atomic rename but leaves flushing to the OS (a crash of the process loses nothing; a
    power loss may lose the last seconds of files)."""
    def write(rel: str, data: bytes) -> Path | None:
        dst = root / rel
        if dst.exists():
            return None
        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = dst.with_name(f".{dst.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        with open(tmp, "wb") as f:
            f.write(data)
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, dst)
        return dst.parent if fsync else None

    def fsync_dir(d: Path) -> None:
        fd = os.open(d, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    dirs = {d for d in pool.map(lambda f: write(*f), files) if d is not None}
    list(pool.map(fsync_dir, dirs))


class MilvusItemStore:
    def __init__(self, store, embedder, fsync: bool = True):
        self.store, self.embedder, self.fsync = store, embedder, fsync
        self._io = ThreadPoolExecutor(16, thread_name_prefix="mmgan-assets")

    # ---- writing ----------------------------------------------------------------------------------------
    def add(self, items: Sequence[NewItem]) -> list[str]:

        vecs = embed_items(self.embedder, items)
        rows, files = [], []
        for it, v in zip(items, vecs):
            md = it.metadata
            row = Item(
                id=it.id, kind=md.get("kind", "synthetic"), vectors=v, caption=md.get("caption", ""),
                label=int(md.get("label", -1)), class_name=md.get("class_name", ""), dataset=md.get("dataset", ""),
                model=md.get("model", ""), model_version=md.get("model_version", ""), step=int(md.get("step", -1)),
                seed=int(md.get("seed", -1)), user=md.get("user", ""), embedder=self.embedder.id,
                conditions=it.conditions, extra={"provenance": it.provenance},
                content=next((m for m in it.embed if m in v), ""))        # what was generated: its image, its clip
            # the store's layout (as `mmgan index` writes items; schema.place_asset), files named by the item's id
            for name, data in it.assets.items():
                try:
                    rel = self.store.asset_rel(it.id, asset_slot(name)[1])
                except ValueError as e:
                    raise ValueError(f"item {it.id}: {e}") from None
                files.append((rel, data))
                place_asset(row, rel, name)
            rows.append(row)
        write_files_durably(Path(self.store.assets), files, self._io, self.fsync)   # files first: rows name them
        # generated items are kept even when they look alike (1.01 > any cosine: no near-duplicate search)
        self.store.add(rows, on_duplicate="keep", dup_threshold=1.01)
        return [it.id for it in items]

    def delete(self, item_id: str) -> bool:
        return self.store.delete(ids=[item_id]) > 0

    # ---- reading ------------------------------------------------------------------------------------------
    def _item(self, item) -> dict:
        d = item.to_dict()
        extra = dict(d.pop("extra") or {})
        prov = extra.pop("provenance", None) or {"conditions": d.get("conditions") or {}, **extra}
        assets = [slot + Path(rel).suffix for slot, rel in item_files(item).items()]
        return {"id": item.id, "kind": item.kind, "modalities": d.get("modalities", []),
                "metadata": {k: d.get(k) for k in FILTER_KEYS} | {"d_score": d.get("d_score"),
                                                                   "match_score": d.get("match_score")},
                "provenance": prov, "assets": assets, "created": d.get("created_at")}

    def get(self, item_id: str) -> dict | None:
        found = self.store.get([item_id])
        return self._item(found[0]) if found else None

    def asset(self, item_id: str, name: str) -> bytes | None:
        found = self.store.get([item_id])
        if not found or self.store.assets is None:
            return None
        item = found[0]
        stem = name.rsplit(".", 1)[0]
        rel = item_files(item).get(stem)
        if not rel or name != stem + Path(rel).suffix:
            return None
        root = Path(self.store.assets).resolve()
        path = (root / rel).resolve()
        if not path.is_relative_to(root) or not path.is_file():    # rows name files; never leave the assets folder
            return None
        return path.read_bytes()

    def search(self, modality: str, query: Any, filters: dict, k: int) -> list[Hit]:
        expr = filter_expr(filters) or None
        if not self.store.exists:
            return []
        # matched against what each item is (CONTENT: its image, its clip), not against its caption's vector
        if modality == "id":
            hits = self.store.similar(query, k=k, modality=CONTENT, filter=expr)
        elif modality == "text":
            vec = self.embedder.embed("text", [query])[0] if "text" in self.embedder.modalities else None
            hits = self.store.hybrid_search(vec, query, k=k, modality=CONTENT, filter=expr)
        else:
            if modality not in self.embedder.modalities:
                raise ValueError(f"this store's embedder ({self.embedder.id}) cannot embed {modality}; it embeds "
                                 f"{', '.join(self.embedder.modalities)}; serve with --embedder RUN/joint")
            vec = self.embedder.embed(modality, [query])[0]
            hits = self.store.search(vec, k=k, modality=CONTENT, filter=expr)
        return [Hit(h.item.id, float(h.score), self._item(h.item)) for h in hits]

    def stats(self) -> dict:
        return {"backend": "milvus", "embedder": self.embedder.id, **self.store.stats()}

    def close(self) -> None:
        self._io.shutdown(wait=True)
        self.store.close()
