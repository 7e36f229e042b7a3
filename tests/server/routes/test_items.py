from __future__ import annotations

import pytest

from ..conftest import auth


@pytest.fixture
def item_id(client, keys):
    return client.post("/v1/generate", json={"label": 4}, headers=auth(keys["generator"])).json()["items"][0]["id"]


def test_get_item_and_asset(client, keys, item_id):
    h = auth(keys["viewer"])
    item = client.get(f"/v1/items/{item_id}", headers=h).json()
    assert item["id"] == item_id and item["assets"] == ["image.png"] and item["metadata"]["label"] == 4
    r = client.get(item["urls"]["image.png"], headers=h)
    assert r.status_code == 200 and r.headers["content-type"] == "image/png" and r.content[:4] == b"\x89PNG"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert client.get(f"/v1/items/{item_id}").status_code == 401


@pytest.mark.parametrize("path", [
    "/v1/items/..", "/v1/items/..%2F..%2Fkeys.json", "/v1/items/%2e%2e", "/v1/items/a%00b",
    "/v1/items/{id}/assets/..%2F..%2Fkeys.json", "/v1/items/{id}/assets/.htaccess", "/v1/items/{id}/assets/image.png%00",
    "/v1/items/{id}/assets/%2e%2e", "/v1/items/{id}/assets/image", "/v1/items/{id}/assets/a\\b.png",
    "/v1/items/-x", "/v1/items/" + "a" * 200,
])
def test_no_traversal_through_ids_or_asset_names(client, keys, item_id, path):
    r = client.get(path.replace("{id}", item_id), headers=auth(keys["viewer"]))
    assert r.status_code in (404, 422) and b"mmgan-keys" not in r.content


def test_unknown_item_and_asset_are_404(client, keys, item_id):
    h = auth(keys["viewer"])
    assert client.get("/v1/items/" + "f" * 32, headers=h).status_code == 404
    assert client.get(f"/v1/items/{item_id}/assets/other.png", headers=h).status_code == 404


def test_delete_needs_admin(client, keys, item_id):
    r = client.delete(f"/v1/items/{item_id}", headers=auth(keys["generator"]))
    assert r.status_code == 403 and "admin" in r.json()["detail"]
    assert client.delete(f"/v1/items/{item_id}", headers=auth(keys["admin"])).json() == {"id": item_id, "deleted": True}
    assert client.get(f"/v1/items/{item_id}", headers=auth(keys["admin"])).status_code == 404
    assert client.delete(f"/v1/items/{item_id}", headers=auth(keys["admin"])).status_code == 404
