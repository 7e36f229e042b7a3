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
