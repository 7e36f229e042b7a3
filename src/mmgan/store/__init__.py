"""The vector store: real and generated items with joint-space embeddings and provenance, in Milvus.

    from mmgan.store import Store, index_dataset, retrieve_conditions
    store = Store.open("mmgan-store")                 # embedded Milvus Lite; or Store.open(uri=..., token=...)
    index_dataset(store, embedder, "shapes", split="test")
    hits = store.search(embedder.embed("text", ["a red circle"])[0], k=8, kind="real")

See store.py (the Store), schema.py (rows and items), connect.py (embedded vs server), index.py
(datasets and runs into the store), rag.py (retrieval for generation).
"""
from .connect import StoreConnectionError, StoreLockedError, serve
from .index import dataset_items, embed_query, index_dataset, index_run
from .rag import RetrievedConditions, rag_generate, retrieve_conditions
from .schema import KINDS, MODALITIES, SCHEMA_VERSION, Item, content_id
from .store import AddReport, Hit, Store, StoreVersionError

__all__ = ["Store", "Item", "Hit", "AddReport", "content_id", "KINDS", "MODALITIES", "SCHEMA_VERSION",
           "StoreVersionError", "StoreLockedError", "StoreConnectionError", "serve",
           "index_dataset", "index_run", "dataset_items", "retrieve_conditions", "rag_generate", "RetrievedConditions",
           "embed_query"]

