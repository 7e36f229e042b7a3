"""Store against a real embedded Milvus Lite (no mocks)."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from helpers import make_items
from mmgan.store import Item, Store, StoreVersionError, content_id

PY = sys.executable
HERE = Path(__file__).parent


def run_py(code: str, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run([PY, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=timeout,
                          cwd=str(HERE))


def test_add_get_search_idempotent(store):
    items = make_items(20)
    rep = store.add(items)
    assert len(rep.added) == 20 and not rep.existing
    assert store.count() == 20 and store.count_rows() == 40            # image + text row per item
    again = store.add(make_items(20))                                    # same content, same ids
    assert not again.added and len(again.existing) == 20
    assert store.count() == 20
    got = store.get([items[3].id, "nope", items[1].id], vectors=True)
    assert [g.id for g in got] == [items[3].id, items[1].id]
    assert np.allclose(got[0].vectors["image"], items[3].vectors["image"], atol=1e-6)
    assert got[0].caption == items[3].caption and got[0].kind == "real" and got[0].label == 3
    hits = store.search(items[5].vectors["image"], k=3)
    assert hits[0].item.id == items[5].id and hits[0].score == pytest.approx(1.0, abs=1e-4)
    assert hits[0].modality == "image" and [h.rank for h in hits] == [1, 2, 3]
    hits = store.search(items[5].vectors["text"], k=1, modality="text")
    assert hits[0].item.id == items[5].id
    any_hits = store.search(items[5].vectors["text"], k=5, modality=None)
    assert len({h.item.id for h in any_hits}) == len(any_hits)          # one hit per item


def test_real_and_synthetic_stay_apart(store):
    real = make_items(5, kind="real")
    synth = make_items(5, kind="synthetic")                              # same vectors and captions
    assert {i.id for i in real}.isdisjoint({i.id for i in synth})
    store.add(real)
    rep = store.add(synth)                                               # not near-duplicates of another kind
    assert len(rep.added) == 5 and not rep.duplicates
    hits = store.search(real[0].vectors["image"], k=2, kind="synthetic")
    assert all(h.item.kind == "synthetic" for h in hits) and hits[0].item.id == synth[0].id
    assert store.count('kind == "real"') == 5 and store.count('kind == "synthetic"') == 5


def test_filters_and_bad_filter(store):
    store.add(make_items(12))
    hits = store.search(np.ones(32, np.float32), k=12, filter="label == 2")
    assert hits and all(h.item.label == 2 for h in hits)
    with pytest.raises(ValueError, match="bad filter"):
        store.search(np.ones(32, np.float32), k=3, filter="label === 2")
    with pytest.raises(ValueError, match="bad filter"):
        store.count("no_such_field > 1")


def test_bad_input_is_refused_and_nothing_is_lost(store):
    store.add(make_items(4))
    bad = make_items(3, seed=9)
    bad[2].vectors["image"] = np.ones(31, np.float32)                    # wrong dim, last in the batch
    with pytest.raises(ValueError, match="dim 31"):
        store.add(bad)
    assert store.count() == 4                                            # nothing of the bad batch written
    nan = make_items(1, seed=10)[0]
    nan.vectors["text"][0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        store.add([nan])
    with pytest.raises(ValueError, match="kind"):
        store.add([Item(kind="fake", id="x", vectors={"image": np.ones(32)}, embedder="test-hash-32-0")])
    other = make_items(1, seed=11, embedder="another-space")
    with pytest.raises(ValueError, match="different joint spaces"):
        store.add(other)
    with pytest.raises(ValueError, match="query vector"):
        store.search(np.ones(5), k=1)
    assert store.count() == 4


def test_near_duplicates_reported_skipped_or_kept(store):
    base = make_items(3)
    store.add(base)
    dup = make_items(1, seed=5, captions=["near copy"])[0]
    dup.vectors["image"] = base[0].vectors["image"] + 1e-3
    dup.id = content_id("real", "near copy", 1)
    rep = store.add([dup])
    assert not rep.added and rep.duplicates[0][:2] == (dup.id, base[0].id) and rep.duplicates[0][2] > 0.99
    rep = store.add([dup], on_duplicate="keep")
    assert rep.added == [dup.id] and rep.kept_duplicates == 1
    assert store.get([dup.id])[0].extra["near_duplicate_of"] == base[0].id
    # within one call: the later of two near-identical new items is the duplicate
    a, b = make_items(2, seed=6)
    b.vectors["image"] = a.vectors["image"] * 1.0001
    rep = store.add([a, b])
    assert rep.added == [a.id] and rep.duplicates[0][:2] == (b.id, a.id)


def test_delete_export_stats(store, tmp_path):
    items = make_items(10)
    for it in items:
        it.asset = store.asset_rel(it.id)
        it.files = {"image": (b"\x89PNG fake", "png")}
    store.add(items)
    assert all((store.assets / it.asset).exists() for it in items)
    assert store.delete(ids=[items[0].id, "missing"]) == 1
    assert not (store.assets / items[0].asset).exists()
    assert store.delete(filter="label == 1") == 3                        # items 1, 5, 9
    assert store.count() == 6
    with pytest.raises(ValueError, match="ids or a filter"):
        store.delete()
    n = store.export(tmp_path / "out.parquet")
    import pyarrow.parquet as pq

    t = pq.read_table(tmp_path / "out.parquet")
    assert n == 6 and t.num_rows == 6 and len(t.column("image_vector")[0].as_py()) == 32
    assert t.schema.metadata[b"mmgan.schema"] == b"1"
    n = store.export(tmp_path / "out.jsonl", filter='kind == "real"', vectors=False)
    lines = (tmp_path / "out.jsonl").read_text().splitlines()
    assert n == 6 and len(lines) == 6 and "image_vector" not in json.loads(lines[0])
    with pytest.raises(ValueError, match="parquet or jsonl"):
        store.export(tmp_path / "out.csv")
    st = store.stats()
    assert st["items"] == 6 and st["by_kind"] == {"real": 6, "synthetic": 0}
    assert st["embeddings"]["image"] == 6 and st["datasets"] == {"unit": 6}


def test_hybrid_search_uses_bm25(store):
    caps = [f"plain words number {i}" for i in range(9)] + ["a zebra striped triangle"]
    items = make_items(10, captions=caps)
    store.add(items)
    far = -items[9].vectors["image"]                                     # dense alone puts item 9 last
    hits = store.hybrid_search(far, "zebra", k=3)
    assert items[9].id in [h.item.id for h in hits]
    bm25 = store.hybrid_search(None, "zebra", k=1)
    assert bm25[0].item.id == items[9].id


def test_accelerated_search_matches_milvus(store):
    items = make_items(60)
    store.add(items[:40])
    q = np.random.default_rng(3).standard_normal((5, 32)).astype(np.float32)
    plain = [[h.item.id for h in store.search(v, k=5)] for v in q]
    assert store.accelerate() == 80
    assert [[h.item.id for h in store.search(v, k=5)] for v in q] == plain
    store.add(items[40:])                                                # writes keep the copy current
    assert store.search(items[50].vectors["image"], k=1)[0].item.id == items[50].id
    store.delete(ids=[items[50].id])
    assert store.search(items[50].vectors["image"], k=1)[0].item.id != items[50].id
    assert store.search(items[7].vectors["image"], k=1, kind="synthetic") == []


def test_reopen_in_new_process_and_schema_version(tmp_path):
    path = tmp_path / "s"
    with Store.open(path) as s:
        s.add(make_items(8))
        s.flush()
    r = run_py(f"""
        import json, numpy as np
        from helpers import make_items
        from mmgan.store import Store
        s = Store.open({str(path)!r})
        it = make_items(8)[6]
        hits = s.search(it.vectors["image"], k=2)
        print(json.dumps([s.count(), hits[0].item.id == it.id, s.dim, s.embedder]))
        s.add(make_items(2, seed=42))
        s.close()
    """)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout.strip().splitlines()[-1]) == [8, True, 32, "test-hash-32-0"]
    with Store.open(path) as s:
        assert s.count() == 10                                           # the other process's writes are here
        s.client.alter_collection_properties(s.collection, {"mmgan.schema": "999"})
    with pytest.raises(StoreVersionError, match="version 999.*reads version 1"):
        Store.open(path)
    with Store.open(path, collection="other") as s:                    # other collections are unaffected
        assert not s.exists
        from pymilvus import DataType

        sch = s.client.create_schema(auto_id=False)
        sch.add_field("pk", DataType.INT64, is_primary=True)
        sch.add_field("v", DataType.FLOAT_VECTOR, dim=4)
        s.client.create_collection("foreign", schema=sch)
    with pytest.raises(StoreVersionError, match="not an mmgan store"):
        Store.open(path, collection="foreign")


def test_locked_store_says_how_to_share(tmp_path):
    from mmgan.store import StoreLockedError

    path = tmp_path / "s"
    holder = subprocess.Popen([PY, "-c", textwrap.dedent(f"""
        import sys, time
        from mmgan.store import Store
        s = Store.open({str(path)!r}); print("open", flush=True); time.sleep(60)
    """)], stdout=subprocess.PIPE, text=True, cwd=str(HERE))
    try:
        assert holder.stdout.readline().strip() == "open"
        with pytest.raises(StoreLockedError, match="mmgan store serve"):
            Store.open(path)
    finally:
        holder.kill()
        holder.wait()
    with Store.open(path) as s:                                          # free again once the holder is gone
        assert not s.exists
