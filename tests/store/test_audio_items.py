"""Sound in the store (issue 21): clips indexed from data and from an audio run keep their provenance and
their WAV, are embedded as audio (their content), and a content search finds them; bad clips name their row."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from _hash_embedder import HashEmbedder
from mmgan.data import load_dataset
from mmgan.store import index_dataset
from mmgan.store.index import store_outputs
from mmgan.store.sheet import hit_record, hits_table

pytest.importorskip("milvus_lite", reason="pymilvus / milvus-lite not installed")

TINY_AUDIO = ["train.minutes=0", "model.g_width=4", "model.d_width=4", "model.z_dim=8", "train.batch_size=8",
              "train.progress=false", "train.tensorboard=false", "train.sample_every=1000", "train.ckpt_every=1000"]


@pytest.fixture(scope="module")
def tones(tmp_path_factory):
    from _tiny import tone_manifest

    return load_dataset(str(tone_manifest(tmp_path_factory.mktemp("tones") / "data", n=12, classes=2)))


@pytest.fixture(scope="module")
def audio_run(tmp_path_factory):
    """specgan trained 2 steps on labelled tones ("low", "high")."""
    from _tiny import tone_manifest
    from mmgan.api.train import train
    from mmgan.modalities.audio import AudioCodec

    root = tmp_path_factory.mktemp("audio-run")
    manifest = tone_manifest(root / "clips", n=16, classes=2)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(AudioCodec, "preview_count", 4)
        train(data=str(manifest), overrides=TINY_AUDIO, out=root / "run", steps=2, log=lambda *_: None)
    return root / "run"


def test_indexed_clips_are_audio_items_with_their_file(store, embedder, tones):
    rep = index_dataset(store, embedder, tones, progress=False)
    assert len(rep.added) == 12
    it = store.get(rep.added[:1], vectors=True)[0]
    assert it.content == "audio" and set(it.modalities) == {"audio", "text"} and not it.asset
    wav = store.assets / it.extra["audio_asset"]
    assert wav.read_bytes() == open(it.extra["audio"], "rb").read()          # the clip itself, by content address
    # the content search matches each item's clip, never its caption's vector
    q = embedder.embed("audio", [it.extra["audio"]])[0]
    hits = store.search(q, k=3, modality="content")
    assert hits[0].item.id == it.id and hits[0].score == pytest.approx(1.0, abs=1e-5)
    assert {h.modality for h in hits} == {"audio"}
    assert str(wav) in hits_table(hits, assets_dir=store.assets)
    assert hit_record(hits[0], store.assets)["file"] == str(wav.absolute())
    assert store.count() == 12                                               # one primary row per item
    # the in-process index answers content searches the same way
    store.accelerate(exact=True)
    assert [h.item.id for h in store.search(q, k=3, modality="content")] == [h.item.id for h in hits]


def test_an_unreadable_clip_names_its_row_and_loses_nothing(store, embedder, tones, tmp_path):
    from mmgan.data.base import MemoryDataset

    index_dataset(store, embedder, tones, progress=False)
    before = {it.id for it in store.iter_items(vectors=False)}
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF not really a wave file")
    cols = dict(tones.columns)
    cols["audio"] = list(cols["audio"])
    cols["audio"][3] = str(bad)
    broken = MemoryDataset(type(tones.info)(**{**tones.info.__dict__, "name": "broken", "version": "b"}), cols)
    with pytest.raises(ValueError, match=r"row 3: unreadable audio .*broken\.wav"):
        index_dataset(store, embedder, broken, progress=False)
    assert {it.id for it in store.iter_items(vectors=False)} == before
    assert all((store.assets / it.extra["audio_asset"]).exists() for it in store.iter_items(vectors=False))


def test_generated_clips_keep_provenance_and_their_wav(store, embedder, audio_run):
    from mmgan.api.generate import generate

    pipe, result = generate(audio_run, labels=["high"], n=3, seed=5, device="cpu")
    rep = store_outputs(store, embedder, pipe, result, audio_run, seed=5, user="me")
    assert len(rep.added) == 3
    items = sorted(store.iter_items('kind == "synthetic"', vectors=False), key=lambda i: i.extra["regenerate"]["index"])
    it, high = items[1], pipe.label_index("high")
    assert it.content == "audio" and it.label == high and it.class_name == "high" and it.caption == "high"
    assert it.seed == 5 and it.step == 2 and it.user == "me" and it.model == str(audio_run.resolve())
    assert it.extra["regenerate"] == {"num_images": 3, "seed": 5, "index": 1, "labels": high}
    wav = store.assets / it.extra["audio_asset"]
    x, sr = sf.read(str(wav), dtype="float32")
    assert sr == 16000 and np.allclose(x, result.objects[1].waveform, atol=1 / 16000)   # the stored file is the clip
    # the recorded call regenerates it
    again = pipe(labels=[high] * 3, num_images=3, seed=5).objects[1].waveform
    assert np.allclose(again, result.objects[1].waveform, atol=1e-5)
    assert not store_outputs(store, embedder, pipe, result, audio_run, seed=5).added   # content-addressed
    hits = store.search(embedder.embed("audio", [result.objects[1]])[0], k=1, modality="content", kind="synthetic")
    assert hits[0].item.id == it.id


def test_an_embedder_without_audio_is_refused_before_anything_is_stored(store, audio_run):
    from mmgan.api.generate import generate

    images_only = HashEmbedder()
    images_only.modalities = ("image", "text")
    pipe, result = generate(audio_run, labels=["low"], n=1, device="cpu")
    with pytest.raises(ValueError, match="cannot index generated audio"):
        store_outputs(store, images_only, pipe, result, audio_run, seed=0)
    assert not store.exists
