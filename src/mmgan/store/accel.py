"""An in-process ANN index over an embedded store's dense vectors, for low-latency search.

Why: Milvus Lite 3 is pure Python; its search walks every row in Python to resolve upserts and
deletes (0.2 to 2 s a query at 100k rows on 2 busy cores, whatever the index; bench/out/store.md),
far from a 5 ms budget. When the store is embedded, this process is the folder's only client
(Milvus Lite's lock), so a copy kept here cannot go stale as long as every write goes through the
Store, which updates it. Milvus stays the source of truth: the copy is built from it (vectors and
each row's metadata) and serves unfiltered-or-kind-filtered dense search; searches with a metadata
filter, and BM25, still go to Milvus. A process that only connects by URI never uses it.

One faiss HNSW graph per modality, and one more over each item's content row (CONTENT: the rows
flagged primary) (exact numpy search when faiss is missing); kind filters and deleted rows are
excluded during graph traversal with an id selector.
"""
from __future__ import annotations

import threading

import numpy as np

from .schema import CONTENT, KINDS, MODALITIES

try:
    import faiss
except ImportError:  # pragma: no cover - faiss ships with milvus-lite's index extras
    faiss = None

HNSW_M = 32                  # graph degree: recall 0.999 at ef 64 on 100k embedding-like vectors (bench/store.py)
HNSW_EF_CONSTRUCTION = 200
HNSW_EF_SEARCH = 128


class _Part:
    """The vectors of one modality."""

    def __init__(self, dim: int, exact: bool):
        self.dim = dim
        self.pks: list[str] = []
        self.kind = np.zeros(0, dtype=np.int8)
        self.alive = np.zeros(0, dtype=bool)
        self.exact = exact or faiss is None
        self.vecs = np.zeros((0, dim), dtype=np.float32) if self.exact else None
        if not self.exact:
            self.index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
            self.index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        self._bitmaps: dict = {}

    def add(self, pks: list[str], vecs: np.ndarray, kinds: np.ndarray) -> np.ndarray:
        start = len(self.pks)
        self.pks.extend(pks)
        self.kind = np.concatenate([self.kind, kinds.astype(np.int8)])
        self.alive = np.concatenate([self.alive, np.ones(len(pks), dtype=bool)])
        vecs = np.ascontiguousarray(vecs, dtype=np.float32)
        if self.exact:
            self.vecs = np.concatenate([self.vecs, vecs])
        else:
            self.index.add(vecs)
        self._bitmaps.clear()
        return np.arange(start, start + len(pks))

    def kill(self, rows: list[int]) -> None:
        self.alive[rows] = False
        self._bitmaps.clear()

    def _valid(self, kind: int | None) -> np.ndarray | None:
        key = kind
        if key not in self._bitmaps:
            mask = self.alive if kind is None else (self.alive & (self.kind == kind))
            self._bitmaps[key] = None if mask.all() else mask
        return self._bitmaps[key]

    def search(self, q: np.ndarray, k: int, kind: int | None, ef: int) -> tuple[np.ndarray, np.ndarray]:
        """(nq, k) scores and row numbers (-1 = none)."""
        valid = self._valid(kind)
        n = len(self.pks)
        if n == 0 or (valid is not None and not valid.any()):
            return np.full((len(q), k), -np.inf, np.float32), np.full((len(q), k), -1, np.int64)
        if self.exact:
            s = q @ self.vecs.T                                  # (nq, n)
            if valid is not None:
                s[:, ~valid] = -np.inf
            kk = min(k, n)
            idx = np.argpartition(-s, kk - 1, axis=1)[:, :kk]
            top = np.take_along_axis(s, idx, 1)
            order = np.argsort(-top, axis=1)
            idx, top = np.take_along_axis(idx, order, 1), np.take_along_axis(top, order, 1)
            idx = np.where(np.isfinite(top), idx, -1)
            if kk < k:
                idx = np.pad(idx, ((0, 0), (0, k - kk)), constant_values=-1)
                top = np.pad(top, ((0, 0), (0, k - kk)), constant_values=-np.inf)
            return top, idx
        if valid is None:
            params = faiss.SearchParametersHNSW(efSearch=max(ef, k))
        else:
            bits = np.packbits(valid, bitorder="little")
            sel = faiss.IDSelectorBitmap(n, faiss.swig_ptr(bits))
            params = faiss.SearchParametersHNSW(sel=sel, efSearch=max(ef, k))
            params._keep = (bits, sel)                           # keep the buffers alive during search
        d, i = self.index.search(np.ascontiguousarray(q, dtype=np.float32), k, params=params)
        return d, i


class DenseCache:
    """Vectors of every row, per modality, and each row's metadata (so a hit needs no round trip to
    Milvus); search returns (pk, score) lists like the store's search."""

    def __init__(self, dim: int, exact: bool = False):
        self.dim = dim
        self.exact = exact
        self.parts = {m: _Part(dim, exact) for m in (*MODALITIES, CONTENT)}
        self.where: dict[str, tuple[str, int]] = {}             # pk -> (modality, row)
        self.content_row: dict[str, int] = {}                   # pk of a content row -> its row in parts[CONTENT]
        self.meta: dict[str, dict] = {}                         # pk -> the row's fields but the vector
        self.lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.where)

    def add_rows(self, rows: list[dict]) -> None:
        """Rows as inserted (pk, modality, kind, vector); a pk seen before replaces the old row."""
        with self.lock:
            self.remove_pks([r["pk"] for r in rows if r["pk"] in self.where], locked=True)
            for m in MODALITIES:
                sel = [r for r in rows if r["modality"] == m]
                if not sel:
                    continue
                vecs = np.asarray([r["vector"] for r in sel], dtype=np.float32).reshape(len(sel), self.dim)
                kinds = np.asarray([KINDS.index(r["kind"]) for r in sel])
                rownums = self.parts[m].add([r["pk"] for r in sel], vecs, kinds)
                for r, i in zip(sel, rownums):
                    self.where[r["pk"]] = (m, int(i))
                    self.meta[r["pk"]] = {k: v for k, v in r.items() if k != "vector"}
            sel = [r for r in rows if r.get("primary")]
            if sel:
                vecs = np.asarray([r["vector"] for r in sel], dtype=np.float32).reshape(len(sel), self.dim)
                kinds = np.asarray([KINDS.index(r["kind"]) for r in sel])
                for r, i in zip(sel, self.parts[CONTENT].add([r["pk"] for r in sel], vecs, kinds)):
                    self.content_row[r["pk"]] = int(i)

    def remove_pks(self, pks: list[str], locked: bool = False) -> None:
        def go():
            by_mod: dict[str, list[int]] = {}
            for pk in pks:
                self.meta.pop(pk, None)
                hit = self.where.pop(pk, None)
                if hit:
                    by_mod.setdefault(hit[0], []).append(hit[1])
                row = self.content_row.pop(pk, None)
                if row is not None:
                    by_mod.setdefault(CONTENT, []).append(row)
            for m, rows in by_mod.items():
                self.parts[m].kill(rows)

        if locked:
            go()
        else:
            with self.lock:
                go()

    def rows(self, item_ids: list[str]) -> list[dict]:
        """Metadata rows of these items (all their modalities), as Milvus returns them."""
        with self.lock:
            return [self.meta[pk] for i in item_ids for pk in (f"{i}:{m}" for m in MODALITIES) if pk in self.meta]

    def search(self, q: np.ndarray, k: int, modality: str, kind: str | None = None,
               ef: int = HNSW_EF_SEARCH) -> list[list[tuple[str, float]]]:
        q = np.asarray(q, dtype=np.float32).reshape(-1, self.dim)
        part = self.parts[modality]
        with self.lock:
            scores, rows = part.search(q, k, None if kind is None else KINDS.index(kind), ef)
            return [[(part.pks[r], float(s)) for s, r in zip(srow, rrow) if r >= 0] for srow, rrow in zip(scores, rows)]
