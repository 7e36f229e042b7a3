from __future__ import annotations

import shutil

from fastapi.testclient import TestClient

from mmgan.server import Settings, create_app

from ..conftest import auth


def test_list_models(client, keys):
    out = client.get("/v1/models", headers=auth(keys["viewer"])).json()
    assert out["default"] == "digits"
    m = out["models"][0]
    assert m["modalities"] == ["label"] and m["class_names"][3] == "three" and m["is_image"] and m["resolution"] == 16
    assert "/" not in m["source"]                          # no server paths leak to viewers


def test_admin_loads_and_unloads_runs_inside_the_model_root(tiny_run, keyring, keys, tmp_path):
    root = tmp_path / "models"
    shutil.copytree(tiny_run, root / "d2")
    app = create_app(Settings(runs={"digits": str(tiny_run)}, keys_file=keyring.path, model_root=str(root)))
    with TestClient(app) as c:
        admin = auth(keys["admin"])
        assert c.post("/v1/models", json={"name": "d2", "run": "d2"}, headers=auth(keys["generator"])).status_code == 403
        r = c.post("/v1/models", json={"name": "d2", "run": "../" + tiny_run.name}, headers=admin)
        assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "run"
        assert c.post("/v1/models", json={"name": "x", "run": "/etc"}, headers=admin).status_code == 422
        assert c.post("/v1/models", json={"name": "x", "run": "missing"}, headers=admin).status_code == 422
        r = c.post("/v1/models", json={"name": "d2", "run": "d2"}, headers=admin)
        assert r.status_code == 201 and r.json()["name"] == "d2"
        assert c.post("/v1/models", json={"name": "d2", "run": "d2"}, headers=admin).status_code == 409
        assert c.post("/v1/generate", json={"model": "d2", "label": 1}, headers=admin).status_code == 200
        assert [m["name"] for m in c.delete("/v1/models/d2", headers=admin).json()["models"]] == ["digits"]
        assert c.delete("/v1/models/d2", headers=admin).status_code == 404


def test_loading_is_off_without_a_model_root(client, keys):
    r = client.post("/v1/models", json={"name": "x", "run": "y"}, headers=auth(keys["admin"]))
    assert r.status_code == 403 and "--model-root" in r.json()["detail"]
