"""Indexing datasets and runs, and the CLI (index, search, store), on a real embedded store."""
from __future__ import annotations

import json

import numpy as np
import pytest

from _hash_embedder import HashEmbedder
from helpers import tiny_pipeline
from mmgan.store import index_dataset, index_run, retrieve_conditions


def test_index_dataset_idempotent_with_assets(store, embedder, shapes_small):
    batches = []
    rep = index_dataset(store, embedder, shapes_small, batch_size=16, progress=False, on_batch=batches.append)
    assert len(rep.added) == 48 and len(batches) == 3
    assert rep.duplicates                                  # shapes repeat; reported ...
    assert store.count() == 48                             # ... and kept by default for real data
    it = store.get(rep.added[:1])[0]
    assert it.kind == "real" and it.dataset == "shapes" and it.dataset_version == shapes_small.info.version
    assert it.extra["attributes"]["shape"] == it.class_name and it.match_score is not None
    assert (store.assets / it.asset).exists() and it.asset.startswith(it.id[:2] + "/")
    again = index_dataset(store, embedder, shapes_small, batch_size=16, progress=False)
    assert not again.added and len(again.existing) == 48 and store.count() == 48


def test_index_run_refuses_what_the_store_cannot_keep(store, embedder, tmp_path):
    """Vectors have no stored file; a clip needs an embedder that reads audio (checked before anything is drawn)."""
    from types import SimpleNamespace

    from mmgan.modalities import get_codec

    with pytest.raises(ValueError, match="does not keep generated vectors"):
        index_run(store, embedder, tmp_path / "run", pipe=SimpleNamespace(codec=get_codec("vector")), progress=False)
    images_only = HashEmbedder()
    images_only.modalities = ("image", "text")
    with pytest.raises(ValueError, match="cannot index generated audio"):
        index_run(store, images_only, tmp_path / "run", pipe=SimpleNamespace(codec=get_codec("audio")), progress=False)
    assert not store.exists


def test_index_run_provenance(store, embedder, tmp_path):
    pipe = tiny_pipeline()
    rep = index_run(store, embedder, tmp_path / "run", per_condition=3, seed=10, pipe=pipe, progress=False,
                    on_duplicate="keep")
    assert len(rep.added) == 12                            # 4 classes x 3 seeds
    items = store.iter_items('kind == "synthetic"', vectors=False)
    it = next(i for i in items if i.label == 2 and i.seed == 11)
    assert it.step == 7 and it.class_name == "triangle" and it.conditions == {"labels": 2}
    assert it.model.endswith("run") and it.match_score is not None and (store.assets / it.asset).exists()
    # the stored seed regenerates the sample exactly
    out = pipe(labels=2, num_images=1, seed=11, output_type="tensor")
    from PIL import Image
    from mmgan.modalities.pixels import to_uint8

    saved = np.asarray(Image.open(store.assets / it.asset))
    assert np.array_equal(saved, to_uint8(out.tensor[0]).permute(1, 2, 0).numpy())
    again = index_run(store, embedder, tmp_path / "run", per_condition=3, seed=10, pipe=pipe, progress=False)
    assert not again.added and store.count() == 12


def test_retrieve_conditions_real_only(store, embedder, shapes_small, tmp_path):
    index_dataset(store, embedder, shapes_small, progress=False)
    index_run(store, embedder, tmp_path / "run", per_condition=2, pipe=tiny_pipeline(), progress=False)
    caption = shapes_small.columns["text"][3]
    rc = retrieve_conditions(store, embedder, caption, k=4)
    assert len(rc) == 4 and all(h.item.kind == "real" for h in rc.hits)
    assert rc.vectors.shape == (4, embedder.dim) and rc.texts[0]
    f = rc.fused(0.5)
    assert f.shape == (embedder.dim,) and abs(np.linalg.norm(f) - 1) < 1e-5
    assert np.allclose(rc.fused(0.0), rc.query_vector)
    with pytest.raises(ValueError, match="accepts_retrieved"):
        from mmgan.store import rag_generate

        rag_generate(tiny_pipeline(), store, embedder, text=caption, k=2)


def test_cli_index_search_store(tmp_path, monkeypatch, capsys, shapes_small):
    from mmgan import cli
    from mmgan.cli import store as store_cli

    emb = HashEmbedder()
    monkeypatch.setattr(store_cli, "load_embedder", lambda path: emb)
    monkeypatch.chdir(tmp_path)
    store = ["--store", str(tmp_path / "st")]
    from mmgan.data import write_manifest

    write_manifest(shapes_small, tmp_path / "data")
    assert cli.main(["index", str(tmp_path / "data"), "--embedder", "fake", "--quiet", *store]) == 0
    out = capsys.readouterr().out
    assert "48 added" in out and "now holds 48 items" in out
    assert cli.main(["index", str(tmp_path / "data"), "--embedder", "fake", "--quiet", *store]) == 0
    assert "0 added, 48 already stored" in capsys.readouterr().out
    cap = shapes_small.columns["text"][0]
    assert cli.main(["search", "--text", cap, "-k", "3", "--sheet", "hits.png", *store]) == 0
    out = capsys.readouterr().out
    assert "caption / prompt" in out and len(out.strip().splitlines()) == 5
    assert (tmp_path / "hits.png").stat().st_size > 500
    assert cli.main(["search", "--text", cap, "-k", "2", "--json", "--kind", "real", "--filter", "label >= 0",
                     "--sheet", "", *store]) == 0
    hits = [json.loads(l) for l in capsys.readouterr().out.strip().splitlines()]
    assert len(hits) == 2 and hits[0]["kind"] == "real"
    assert cli.main(["search", "--id", hits[0]["id"], "-k", "2", "--json", "--sheet", "", *store]) == 0
    sims = [json.loads(l) for l in capsys.readouterr().out.strip().splitlines()]
    assert hits[0]["id"] not in [s["id"] for s in sims]
    assert cli.main(["search", "--text", cap, "--filter", "label ==", *store]) == 1
    assert "bad filter" in capsys.readouterr().err
    assert cli.main(["store", "stats", "--json", *store]) == 0
    assert json.loads(capsys.readouterr().out)["items"] == 48
    assert cli.main(["store", "export", "--out", "all.jsonl", *store]) == 0
    assert len((tmp_path / "all.jsonl").read_text().splitlines()) == 48
    assert cli.main(["store", "delete", "--filter", "label == 0", *store]) == 0
    assert "left" in capsys.readouterr().out
    assert cli.main(["search", "--text", "x", "--store", str(tmp_path / "empty")]) == 1
    assert "is empty" in capsys.readouterr().err
