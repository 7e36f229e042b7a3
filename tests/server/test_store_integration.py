"""The service on the real store: mmgan.store.Store on Milvus Lite in a temporary folder."""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from mmgan.server import Settings, create_app

from .conftest import auth, png_bytes

pytest.importorskip("pymilvus")
pytest.importorskip("milvus_lite")


def test_generate_store_search_get_delete_and_reopen(tiny_run, keyring, keys, tmp_path):
    settings = Settings(runs={"digits": str(tiny_run)}, keys_file=keyring.path, store=str(tmp_path / "store"))
    gen, view, admin = auth(keys["generator"]), auth(keys["viewer"]), auth(keys["admin"])
    with TestClient(create_app(settings)) as c:
        assert c.get("/healthz").json()["store"] is True
        threes = c.post("/v1/generate", json={"label": "three", "n": 3, "seed": 1}, headers=gen).json()["items"]
        sevens = c.post("/v1/generate", json={"label": 7, "n": 2, "seed": 2}, headers=gen).json()["items"]
        ids = [it["id"] for it in threes + sevens]
        assert all(ids) and len(set(ids)) == 5
        item = c.get(f"/v1/items/{ids[0]}", headers=view).json()
        assert item["kind"] == "synthetic" and item["modalities"] == ["image"] and item["assets"] == ["image.png"]
        assert item["metadata"]["class_name"] == "three" and item["metadata"]["model"] == "digits"
        assert item["provenance"]["seed"] == 1 and item["provenance"]["conditions"] == {"label": 3}
        png = c.get(item["urls"]["image.png"], headers=view)
        assert png.status_code == 200 and png.content[:4] == b"\x89PNG"
        # more like this (itself left out), filtered
        hits = c.post("/v1/search", json={"id": ids[0], "k": 10, "filters": {"label": 3}}, headers=view).json()["hits"]
        assert {h["id"] for h in hits} == set(ids[1:3])
        # text: captions by BM25 (this run has no joint space, so no text embedding)
        hits = c.post("/v1/search", json={"text": "seven", "k": 10, "inline": True}, headers=view).json()["hits"]
        assert {h["id"] for h in hits} == set(ids[3:]) and all(h["image_base64"] for h in hits)
        r = c.post("/v1/search", data={"k": "3"}, files={"image": ("q.png", png_bytes(), "image/png")}, headers=view)
        assert r.status_code == 200 and len(r.json()["hits"]) == 3
        r = c.post("/v1/search", json={"text": "x", "filters": {"model": ["digits", "other"], "seed": 2}}, headers=view)
        assert r.status_code == 200
        assert c.delete(f"/v1/items/{ids[4]}", headers=admin).json()["deleted"]
        assert c.get(f"/v1/items/{ids[4]}", headers=view).status_code == 404
        assert c.get(f"/v1/items/{ids[4]}/assets/image.png", headers=view).status_code == 404
    # the store outlives the service; it opens again with the embedder it was made with
    with TestClient(create_app(settings)) as c:
        assert c.get(f"/v1/items/{ids[0]}", headers=view).status_code == 200
        assert c.get(f"/v1/items/{ids[4]}", headers=view).status_code == 404


def test_a_store_made_with_another_embedder_is_refused(tiny_run, keyring, tmp_path):
    from mmgan.store import Store

    with Store.open(tmp_path / "store") as s:
        s.create(8, "someone-elses-joint-space")
    settings = Settings(runs={"digits": str(tiny_run)}, keys_file=keyring.path, store=str(tmp_path / "store"))
    with pytest.raises(ValueError, match="someone-elses-joint-space"):
        with TestClient(create_app(settings)):
            pass


TINY_JOINT = {"image": {"name": "image-cnn", "dim": 16, "channels": 3, "resolution": 16, "width": 8},
              "text": {"name": "tiny-text", "dim": 16, "vocab": 64, "layers": 1, "heads": 2},
              "audio": {"name": "audio-cnn", "dim": 16, "width": 16, "n_mels": 16}}


def test_search_by_text_audio_and_image_through_a_joint_space(tiny_run, keyring, keys, tmp_path):
    """--embedder: a real (untrained, tiny) JointSpace embeds generated images and text/audio/image queries."""
    from mmgan.conditioning import JointSpace

    from .conftest import wav_bytes

    joint = JointSpace(TINY_JOINT, dim=16).save_pretrained(tmp_path / "joint")
    settings = Settings(runs={"digits": str(tiny_run)}, keys_file=keyring.path, store=str(tmp_path / "store"),
                        embedder=str(joint))
    gen, view = auth(keys["generator"]), auth(keys["viewer"])
    with TestClient(create_app(settings)) as c:
        threes = [it["id"] for it in c.post("/v1/generate", json={"label": 3, "n": 3}, headers=gen).json()["items"]]
        sevens = [it["id"] for it in c.post("/v1/generate", json={"label": 7, "n": 2}, headers=gen).json()["items"]]
        # hybrid: dense joint-space similarity fused (RRF) with BM25 over captions, so the sevens rank first
        hits = c.post("/v1/search", json={"text": "seven", "k": 5}, headers=view).json()["hits"]
        assert {h["id"] for h in hits[:2]} == set(sevens) and len(hits) == 5
        r = c.post("/v1/search", data={"k": "4"}, files={"audio": ("q.wav", wav_bytes(0.5), "audio/wav")}, headers=view)
        assert r.status_code == 200 and r.json()["query"] == "audio" and len(r.json()["hits"]) == 4
        r = c.post("/v1/search", data={"k": "5", "filters": '{"label": 3}'},
                   files={"image": ("q.png", png_bytes(), "image/png")}, headers=view)
        assert r.status_code == 200 and {h["id"] for h in r.json()["hits"]} == set(threes)
        assert c.get(f"/v1/items/{threes[0]}", headers=view).json()["metadata"]["embedder"].startswith("joint-")
    # reopened without --embedder, the store's recorded embedder is loaded again
    with TestClient(create_app(Settings(runs={"digits": str(tiny_run)}, keys_file=keyring.path,
                                        store=str(tmp_path / "store")))) as c:
        assert c.post("/v1/search", json={"text": "three"}, headers=view).status_code == 200


def test_generated_sounds_are_stored_where_the_embedder_reads_audio(tiny_audio_run, keyring, keys, tmp_path):
    """An audio run on the real store: with a joint space that embeds audio, each clip is an item whose asset is
    its WAV (fetched back, deleted with it); with the default pixel embedder the answer says why nothing was kept."""
    import base64

    from mmgan.conditioning import JointSpace

    joint = JointSpace(TINY_JOINT, dim=16).save_pretrained(tmp_path / "joint")
    gen, view, admin = auth(keys["generator"]), auth(keys["viewer"]), auth(keys["admin"])
    settings = Settings(runs={"tones": str(tiny_audio_run)}, keys_file=keyring.path, store=str(tmp_path / "store"),
                        embedder=str(joint))
    with TestClient(create_app(settings)) as c:
        out = c.post("/v1/generate", json={"label": "low", "n": 2, "seed": 3}, headers=gen).json()
        assert out["stored"] and all(it["url"].endswith("/assets/audio.wav") for it in out["items"])
        it = out["items"][0]
        item = c.get(f"/v1/items/{it['id']}", headers=view).json()
        assert item["modalities"] == ["audio"] and item["assets"] == ["audio.wav"]
        assert item["metadata"]["class_name"] == "low" and item["provenance"]["conditions"] == {"label": 1}
        wav = c.get(item["urls"]["audio.wav"], headers=view)
        assert wav.status_code == 200 and wav.headers["content-type"] == "audio/wav"
        assert wav.content == base64.b64decode(it["audio_base64"]) and wav.content[:4] == b"RIFF"
        # searches match each item's content (the clip), so text and audio queries find the stored sounds
        hits = c.post("/v1/search", json={"text": "low", "k": 5}, headers=view).json()["hits"]
        assert {h["id"] for h in hits} == {g["id"] for g in out["items"]}
        assert all(h["item"]["assets"] == ["audio.wav"] and h["item"]["urls"]["audio.wav"] for h in hits)
        r = c.post("/v1/search", data={"k": "1"}, files={"audio": ("q.wav", wav.content, "audio/wav")}, headers=view)
        assert r.json()["hits"][0]["id"] == it["id"]                     # the clip itself ranks first
        assert c.delete(f"/v1/items/{it['id']}", headers=admin).json()["deleted"]
        assert c.get(item["urls"]["audio.wav"], headers=view).status_code == 404
    settings = Settings(runs={"tones": str(tiny_audio_run)}, keys_file=keyring.path, store=str(tmp_path / "pixels"))
    with TestClient(create_app(settings)) as c:
        out = c.post("/v1/generate", json={"label": "low", "seed": 3}, headers=gen).json()
        assert not out["stored"] and "pixels-16x16" in out["store_note"] and out["items"][0]["audio_base64"]
