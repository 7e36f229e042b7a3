from __future__ import annotations

from ..conftest import auth


def test_healthz_needs_no_key(client):
    assert client.get("/healthz").json() == {"status": "ok", "models": ["digits"], "store": True, "version": "0.1.0"}


def test_metrics_count_requests_latency_and_images(client, keys):
    client.post("/v1/generate", json={"label": 1, "n": 3}, headers=auth(keys["generator"]))
    client.get("/v1/items/" + "0" * 32, headers=auth(keys["viewer"]))
    r = client.get("/metrics")
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = r.text
    assert 'mmgan_http_requests_total{method="POST",route="/v1/generate",status="200"} 1' in text
    assert 'mmgan_http_requests_total{method="GET",route="/v1/items/{item_id}",status="404"} 1' in text
    assert 'mmgan_http_request_duration_seconds_count{route="/v1/generate"} 1' in text
    assert 'mmgan_generated_images_total{model="digits"} 3' in text
    assert 'mmgan_batch_images_count{model="digits"} 1' in text


def test_whoami_and_page(client, keys):
    assert client.get("/v1/whoami", headers=auth(keys["viewer"])).json()["role"] == "viewer"
    page = client.get("/")
    assert page.status_code == 200 and "<title>mmgan</title>" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert client.get("/static/app.js").status_code == 200


def test_cors_off_unless_configured(client, tiny_run, keyring):
    from fastapi.testclient import TestClient

    from mmgan.server import Settings, create_app

    pre = {"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}
    assert "access-control-allow-origin" not in client.options("/v1/generate", headers=pre).headers
    app = create_app(Settings(runs={"d": str(tiny_run)}, keys_file=keyring.path, cors_origins=["https://app.example"]))
    with TestClient(app) as c:
        assert c.options("/v1/generate", headers=pre).headers["access-control-allow-origin"] == "https://app.example"
