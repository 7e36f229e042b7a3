from __future__ import annotations

import json

import pytest

from ..conftest import auth, png_bytes


@pytest.fixture
def stored(client, keys):
    h = auth(keys["generator"])
    ids = []
    for label in (1, 7):
        ids += [it["id"] for it in client.post("/v1/generate", json={"label": label, "n": 3, "seed": label},
                                                headers=h).json()["items"]]
    return ids


def test_search_by_id_finds_others_nearest_first(client, keys, stored):
    r = client.post("/v1/search", json={"id": stored[0], "k": 4}, headers=auth(keys["viewer"]))
    assert r.status_code == 200, r.text
    hits = r.json()["hits"]
    assert len(hits) == 4 and stored[0] not in {h["id"] for h in hits}
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)
    h = hits[0]
    assert h["item"]["urls"]["image.png"].endswith(f"/v1/items/{h['id']}/assets/image.png")
    assert h["item"]["kind"] == "synthetic" and h["item"]["modalities"] == ["image"]
    assert h["image_base64"] is None


def test_search_filters_and_inline(client, keys, stored):
    r = client.post("/v1/search", json={"text": "seven", "filters": {"label": 7}, "k": 10, "inline": True},
                    headers=auth(keys["viewer"]))
    hits = r.json()["hits"]
    assert len(hits) == 3 and {h["item"]["metadata"]["label"] for h in hits} == {7}
    assert all(h["image_base64"] for h in hits)
    r = client.post("/v1/search", json={"text": "x", "filters": {"label": [1, 7]}}, headers=auth(keys["viewer"]))
    assert len(r.json()["hits"]) == 6


def test_search_multipart_image_and_filters_json(client, keys, stored):
    r = client.post("/v1/search", data={"k": "2", "filters": json.dumps({"model": "digits"})},
                    files={"image": ("q.png", png_bytes(), "image/png")}, headers=auth(keys["viewer"]))
    assert r.status_code == 200, r.text
    assert r.json()["query"] == "image" and len(r.json()["hits"]) == 2


@pytest.mark.parametrize("body,field", [
    ({}, None), ({"text": "a", "id": "b"}, None), ({"text": "a", "k": 0}, "k"),
    ({"text": "a", "filters": {"bad key": 1}}, "filters"), ({"text": "a", "filters": {"label": {"b": 1}}}, "filters"),
    ({"text": "a", "filters": {"asset": "x"}}, "filters"),
])
def test_search_validation(client, keys, body, field):
    r = client.post("/v1/search", json=body, headers=auth(keys["viewer"]))
    assert r.status_code == 422
    if field:
        assert field in r.json()["detail"][0]["loc"]
    else:
        assert "exactly one query" in r.json()["detail"][0]["msg"]


def test_search_errors(client, keys, stored):
    h = auth(keys["viewer"])
    r = client.post("/v1/search", json={"text": "a", "k": 101}, headers=h)
    assert r.status_code == 422 and r.json()["limit"] == "max_k"
    assert client.post("/v1/search", json={"id": "0" * 32}, headers=h).status_code == 404
    assert client.post("/v1/search", json={"id": "../etc"}, headers=h).status_code == 422
    r = client.post("/v1/search", data={}, files={"audio": ("a.wav", b"RIFFjunk", "audio/wav")}, headers=h)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "audio"]
    assert client.post("/v1/search", json={"text": "a"}).status_code == 401


def test_no_store_is_503_but_generate_still_works(tiny_run, keyring, keys):
    from fastapi.testclient import TestClient

    from mmgan.server import Settings, create_app

    with TestClient(create_app(Settings(runs={"d": str(tiny_run)}, keys_file=keyring.path))) as c:
        r = c.post("/v1/search", json={"text": "a"}, headers=auth(keys["viewer"]))
        assert r.status_code == 503 and "--store" in r.json()["detail"]
        r = c.post("/v1/generate", json={"label": 1}, headers=auth(keys["generator"])).json()
        assert not r["stored"] and r["items"][0]["id"] is None and r["items"][0]["image_base64"]
