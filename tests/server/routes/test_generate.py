from __future__ import annotations

import base64
import io

import pytest
from PIL import Image

from ..conftest import auth, png_bytes, wav_bytes


def test_generate_json_returns_stored_pngs_with_provenance(client, keys, store, tiny_run):
    r = client.post("/v1/generate", json={"label": "three", "n": 3, "seed": 7}, headers=auth(keys["generator"]))
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["model"] == "digits" and out["seed"] == 7 and out["stored"] and len(out["items"]) == 3
    for i, it in enumerate(out["items"]):
        img = Image.open(io.BytesIO(base64.b64decode(it["image_base64"])))
        assert img.format == "PNG" and img.size == (16, 16)
        assert it["url"] == f"/v1/items/{it['id']}/assets/image.png"
        prov = it["provenance"]
        assert (prov["seed"], prov["index"], prov["num_images"], prov["run"]) == (7, i, 3, str(tiny_run))
        assert prov["conditions"] == {"label": 3} and prov["requested_by"]
        stored = store.get(it["id"])
        md = stored["metadata"]
        got = (md["kind"], md["class_name"], md["caption"], md["label"], md["seed"])
        assert got == ("synthetic", "three", "three", 3, 7)
        assert stored["provenance"] == prov
        assert store.asset(it["id"], "image.png") == base64.b64decode(it["image_base64"])


def test_same_request_same_images_same_ids_and_url_only_response(client, keys, store):
    h = auth(keys["generator"])
    a = client.post("/v1/generate", json={"label": 2, "n": 2, "seed": 3}, headers=h).json()
    b = client.post("/v1/generate", json={"label": 2, "n": 2, "seed": 3, "response": "url"}, headers=h).json()
    assert b["items"][0]["image_base64"] is None
    png = client.get(b["items"][0]["url"], headers=h).content
    assert png == base64.b64decode(a["items"][0]["image_base64"])
    assert [it["id"] for it in a["items"]] == [it["id"] for it in b["items"]]   # content-addressed
    assert store.stats()["items"] == 2
    c = client.post("/v1/generate", json={"label": 2, "n": 2, "seed": 4}, headers=h).json()
    assert c["items"][0]["id"] not in {it["id"] for it in a["items"]}


def test_generate_multipart_form_and_no_store(client, keys, store):
    r = client.post("/v1/generate", data={"label": "5", "n": "2", "store": "false"}, headers=auth(keys["generator"]))
    assert r.status_code == 200, r.text
    assert not r.json()["stored"] and all(it["id"] is None and it["image_base64"] for it in r.json()["items"])
    assert store.stats()["items"] == 0


def test_roles_and_missing_key(client, keys):
    assert client.post("/v1/generate", json={"label": 1}).status_code == 401
    r = client.post("/v1/generate", json={"label": 1}, headers={"X-API-Key": "mmgan_nope_nope"})
    assert r.status_code == 401 and "invalid API key" in r.json()["detail"]
    r = client.post("/v1/generate", json={"label": 1}, headers=auth(keys["viewer"]))
    assert r.status_code == 403 and "generator" in r.json()["detail"]
    assert client.post("/v1/generate", json={"label": 1}, headers={"X-API-Key": keys["admin"]}).status_code == 200


@pytest.mark.parametrize("body,field,words", [
    ({"label": 1, "n": 0}, "n", "greater than or equal to 1"),
    ({"label": 1, "seed": -1}, "seed", "greater than or equal to 0"),
    ({"label": 11}, "label", "out of range"),
    ({"label": "eleven"}, "label", "unknown label"),
    ({"text": "a seven"}, "text", "not conditioned on text"),
    ({}, "label", "give label"),
    ({"label": 1, "model": "nope"}, "model", "served models: digits"),
    ({"label": 1, "bogus": 1}, "bogus", "Extra inputs"),
    ({"label": 1, "image_b64": "%%%"}, "image_b64", "base64"),
])
def test_validation_errors_name_the_field(client, keys, body, field, words):
    r = client.post("/v1/generate", json=body, headers=auth(keys["generator"]))
    assert r.status_code == 422, r.text
    err = r.json()["detail"][0]
    assert err["loc"][-1] == field and words in err["msg"]


def test_limits_name_the_limit(client, keys, app):
    h = auth(keys["generator"])
    r = client.post("/v1/generate", json={"label": 1, "n": 65}, headers=h)
    assert r.status_code == 422 and r.json()["limit"] == "max_n" and "max_n is 64" in r.json()["detail"]
    big = b"x" * (app.state.mmgan.settings.limits.max_body_bytes + 1)
    r = client.post("/v1/generate", content=big, headers={**h, "content-type": "application/json"})
    assert r.status_code == 413 and r.json()["limit"] == "max_body_bytes"
    r = client.post("/v1/generate", content=b"label=1", headers={**h, "content-type": "text/plain"})
    assert r.status_code == 415


def test_uploads_the_model_does_not_take_are_refused(client, keys):
    h = auth(keys["generator"])
    r = client.post("/v1/generate", data={"label": "1"}, files={"image": ("x.png", png_bytes(), "image/png")}, headers=h)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "image"
    r = client.post("/v1/generate", data={"label": "1"}, files={"audio": ("x.wav", wav_bytes(), "audio/wav")}, headers=h)
    assert r.status_code == 422 and "not conditioned on audio" in r.json()["detail"][0]["msg"]


def test_rate_limit_per_key(tiny_run, keyring, keys, store):
    from fastapi.testclient import TestClient

    from mmgan.server import Limits, Settings, create_app
    from mmgan.server.deps import get_store

    app = create_app(Settings(runs={"digits": str(tiny_run)}, keys_file=keyring.path,
                              limits=Limits(rate_per_minute=60, rate_burst=2)))
    app.dependency_overrides[get_store] = lambda: store
    with TestClient(app) as c:
        codes = [c.get("/v1/models", headers=auth(keys["viewer"])).status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        r = c.get("/v1/models", headers=auth(keys["viewer"]))
        assert r.json()["limit"] == "rate_per_minute" and "Retry-After" in r.headers
        assert c.get("/v1/models", headers=auth(keys["admin"])).status_code == 200
        assert "mmgan_limit_rejections_total{limit=\"rate_per_minute\"} 2" in c.get("/metrics").text


def test_two_named_models(tiny_run, keyring, keys):
    from fastapi.testclient import TestClient

    from mmgan.server import Settings, create_app

    app = create_app(Settings(runs={"a": str(tiny_run), "b": str(tiny_run)}, keys_file=keyring.path, store="memory"))
    with TestClient(app) as c:
        h = auth(keys["generator"])
        assert [m["name"] for m in c.get("/v1/models", headers=h).json()["models"]] == ["a", "b"]
        r = c.post("/v1/generate", json={"model": "b", "label": 4}, headers=h).json()
        assert r["model"] == "b" and r["items"][0]["provenance"]["model"] == "b"
        assert c.post("/v1/generate", json={"label": 4}, headers=h).json()["model"] == "a"     # the default


def test_a_failing_store_is_503_and_the_service_goes_on(client, keys, store):
    h = auth(keys["generator"])
    add = store.add
    store.add = lambda items: (_ for _ in ()).throw(OSError("disk full"))
    r = client.post("/v1/generate", json={"label": 1}, headers=h)
    assert r.status_code == 503 and "disk full" in r.json()["detail"]
    store.add = add
    assert client.post("/v1/generate", json={"label": 1}, headers=h).status_code == 200


def test_queue_and_time_limits(tiny_run, keyring, keys, store):
    import time as _time

    from fastapi.testclient import TestClient

    from mmgan.server import Limits, Settings, create_app
    from mmgan.server.deps import get_store

    app = create_app(Settings(runs={"digits": str(tiny_run)}, keys_file=keyring.path,
                              limits=Limits(max_queue=4, generate_timeout_s=0.05)))
    app.dependency_overrides[get_store] = lambda: store
    with TestClient(app) as c:
        h = auth(keys["generator"])
        r = c.post("/v1/generate", json={"label": 1, "n": 5}, headers=h)
        assert r.status_code == 503 and r.json()["limit"] == "max_queue" and r.headers["Retry-After"]
        model = app.state.mmgan.models.get("digits")
        pipe = model.pipe

        class Slow:
            def __getattr__(self, name):
                return getattr(pipe, name)

            def __call__(self, **kw):
                _time.sleep(0.3)
                return pipe(**kw)

        model.pipe = Slow()
        r = c.post("/v1/generate", json={"label": 1}, headers=h)
        assert r.status_code == 504 and r.json()["limit"] == "generate_timeout_s"
        model.pipe = pipe


def test_text_with_control_characters_is_refused(client, keys):
    r = client.post("/v1/search", json={"text": "a\x00b"}, headers=auth(keys["viewer"]))
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "text"


# ---- what each kind of model answers: images (above), sounds, vectors ---------------------------------------------
ITEM_KEYS = {"id", "index", "seed", "media_type", "url", "image_base64", "vector", "provenance"}


def audio_client(tiny_audio_run, keyring, store):
    from fastapi.testclient import TestClient

    from mmgan.server import Settings, create_app
    from mmgan.server.deps import get_store

    app = create_app(Settings(runs={"tones": str(tiny_audio_run)}, keys_file=keyring.path))
    app.dependency_overrides[get_store] = lambda: store
    return TestClient(app)


def check_wav(it: dict) -> bytes:
    """The item's inline WAV: a RIFF/WAVE of 16 kHz mono PCM16 as long as its `seconds`; returns its bytes."""
    import soundfile as sf

    wav = base64.b64decode(it["audio_base64"])
    assert wav[:4] == b"RIFF" and wav[8:12] == b"WAVE"
    info = sf.info(io.BytesIO(wav))
    assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16") and it["sample_rate"] == 16000
    assert info.frames == round(it["seconds"] * 16000) == 8000                 # the tones' 0.5 s
    assert it["media_type"] == "audio/wav" and it["image_base64"] is None and it["vector"] is None
    return wav


def test_audio_run_answers_wavs_and_the_store_keeps_them(tiny_audio_run, keyring, keys):
    from ..conftest import SoundsToo
    from mmgan.server.items import MemoryItemStore

    store = MemoryItemStore(SoundsToo())
    h = auth(keys["generator"])
    with audio_client(tiny_audio_run, keyring, store) as c:
        r = c.post("/v1/generate", json={"label": "high", "n": 2, "seed": 4}, headers=h)
        assert r.status_code == 200, r.text
        out = r.json()
        assert out["stored"] and "store_note" not in out and len(out["items"]) == 2
        for i, it in enumerate(out["items"]):
            wav = check_wav(it)
            assert set(it) == ITEM_KEYS | {"audio_base64", "seconds", "sample_rate"}
            assert it["provenance"]["conditions"] == {"label": 0} and it["provenance"]["index"] == i   # "high" is 0
            assert it["url"] == f"/v1/items/{it['id']}/assets/audio.wav"
            got = c.get(it["url"], headers=auth(keys["viewer"]))       # the stored clip, fetched back
            assert got.status_code == 200 and got.content == wav and got.headers["content-type"] == "audio/wav"
            item = c.get(f"/v1/items/{it['id']}", headers=auth(keys["viewer"])).json()
            assert item["assets"] == ["audio.wav"] and item["modalities"] == ["audio"]
            assert item["metadata"]["class_name"] == "high" and item["provenance"]["seed"] == 4
        # url only: no inline clip, the same ids (content-addressed), nothing stored twice
        again = c.post("/v1/generate", json={"label": "high", "n": 2, "seed": 4, "response": "url"}, headers=h).json()
        assert [it["id"] for it in again["items"]] == [it["id"] for it in out["items"]]
        assert "audio_base64" not in again["items"][0] and again["items"][0]["seconds"] == 0.5
        assert store.stats()["items"] == 2


def test_audio_run_multipart_form_and_a_store_that_cannot_embed_sound(tiny_audio_run, keyring, keys, store):
    """The form variant answers the same fields; a store whose embedder reads no audio (here images and text)
    cannot index clips: the answer says stored: false and why, and nothing is written."""
    with audio_client(tiny_audio_run, keyring, store) as c:
        r = c.post("/v1/generate", data={"label": "low", "n": "1", "seed": "9"}, headers=auth(keys["generator"]))
        assert r.status_code == 200, r.text
        out = r.json()
        check_wav(out["items"][0])
        assert out["items"][0]["id"] is None and out["items"][0]["url"] is None
        assert not out["stored"] and "cannot index generated audio" in out["store_note"]
        assert "--embedder" in out["store_note"] and store.stats()["items"] == 0
        r = c.post("/v1/generate", data={"label": "low", "store": "false"}, headers=auth(keys["generator"])).json()
        assert not r["stored"] and "store_note" not in r                   # nothing asked, nothing to explain


def test_image_and_vector_items_carry_no_audio_fields(client, keys, tiny_vector_run, keyring):
    from fastapi.testclient import TestClient

    from mmgan.server import Settings, create_app

    h = auth(keys["generator"])
    out = client.post("/v1/generate", json={"label": 1, "n": 1, "seed": 0}, headers=h).json()
    assert set(out) == {"model", "n", "seed", "stored", "elapsed_ms", "items"}
    assert set(out["items"][0]) == ITEM_KEYS and out["items"][0]["media_type"] == "image/png"
    app = create_app(Settings(runs={"ring": str(tiny_vector_run)}, keys_file=keyring.path, store="memory"))
    with TestClient(app) as c:
        out = c.post("/v1/generate", json={"n": 2, "seed": 0}, headers=h).json()
    assert set(out) == {"model", "n", "seed", "stored", "elapsed_ms", "items"} and not out["stored"]
    it = out["items"][0]
    assert set(it) == ITEM_KEYS and it["media_type"] == "application/json" and len(it["vector"]) == 2
    assert it["image_base64"] is None and it["id"] is None
