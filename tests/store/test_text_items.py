"""Words in the store (issue 22): captions that `mmgan generate CAPTION_RUN --image ... --store DIR` makes are
kept in the real (Milvus Lite) store as text items: the caption is the item's caption and its file
(caption.txt), the input image's name is in the provenance, a text search finds them, and the server's
adapter lists and serves the file."""
from __future__ import annotations

from pathlib import Path

import pytest

from _hash_embedder import HashEmbedder
from _tiny import captioner_args
from mmgan.store.index import store_outputs
from mmgan.store.schema import item_files

pytest.importorskip("milvus_lite", reason="pymilvus / milvus-lite not installed")

@pytest.fixture(scope="module")
def caption_run(tmp_path_factory):
    from mmgan.cli import main
    from mmgan.data import load_dataset
    from mmgan.modalities.pixels import to_pil

    root = tmp_path_factory.mktemp("caption-run")
    assert main(["train", "--data", "shapes", "--target", "text", "--out", str(root / "run"), *captioner_args()]) == 0
    (root / "pics").mkdir()
    for i, x in enumerate(load_dataset("shapes", split="test", n=2, seed=3).columns["image"]):
        to_pil(x).save(root / "pics" / f"pic{i}.png")
    return root


def test_generated_captions_are_text_items_with_their_file(store, caption_run):
    from mmgan.api.generate import generate
    from mmgan.server.store_adapter import MilvusItemStore

    embedder = HashEmbedder()
    run = caption_run / "run"
    pipe, result = generate(run, image=[str(caption_run / "pics")], n=2, seed=4, device="cpu")
    rep = store_outputs(store, embedder, pipe, result, run, seed=4, user="me")
    assert len(rep.added) == 4
    items = list(store.iter_items('kind == "synthetic"', vectors=False))
    assert {it.caption for it in items} == set(result.text)
    assert {Path(it.conditions["source"]).name for it in items} == {"pic0.png", "pic1.png"}
    for it in items:
        assert it.content == "text" and set(item_files(it)) == {"caption"}
        assert (store.assets / item_files(it)["caption"]).read_text() == it.caption
    # a text search over the items' content finds a caption by its own words
    first = items[0]
    hits = store.search(embedder.embed("text", [first.caption])[0], k=1, modality="content", kind="synthetic")
    assert hits[0].item.id == first.id
    # the server's view of the same store lists and serves the file
    served = MilvusItemStore(store, embedder, fsync=False)
    assert served.get(first.id)["assets"] == ["caption.txt"]
    assert served.asset(first.id, "caption.txt") == first.caption.encode()
    assert served.asset(first.id, "image.png") is None


def test_a_served_transcript_is_kept_with_its_subtitles(store):
    """/v1/transcribe stores the transcript as the item's caption and its SRT as its file."""
    from mmgan.server.items import NewItem
    from mmgan.server.store_adapter import MilvusItemStore

    embedder = HashEmbedder()
    store.create(embedder.dim, embedder.id)
    served = MilvusItemStore(store, embedder, fsync=False)
    srt = "1\n00:00:00,000 --> 00:00:01,200\na red circle\n"
    (iid,) = served.add([NewItem(id="t" * 32, metadata={"kind": "synthetic", "caption": "a red circle", "model": "asr"},
                                 provenance={"audio_sha256": "ab"}, assets={"transcript.srt": srt.encode()},
                                 embed={"text": "a red circle"}, text="a red circle")])
    got = served.get(iid)
    assert got["assets"] == ["transcript.srt"] and got["metadata"]["caption"] == "a red circle"
    assert served.asset(iid, "transcript.srt").decode() == srt
    assert served.asset(iid, "transcript.vtt") is None
