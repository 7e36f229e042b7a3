from __future__ import annotations

from fastapi.testclient import TestClient

from mmgan.server import Settings, create_app
from mmgan.server.deps import get_models, get_store
from mmgan.server.generation import ModelRegistry
from mmgan.server.items import MemoryItemStore

from .conftest import auth, png_bytes, wav_bytes


def test_openapi_documents_both_body_types(client):
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for p in ("/v1/generate", "/v1/search", "/v1/items/{item_id}", "/v1/items/{item_id}/assets/{name}", "/v1/models",
              "/healthz", "/metrics"):
        assert p in paths
    body = paths["/v1/generate"]["post"]["requestBody"]["content"]
    assert set(body) == {"application/json", "multipart/form-data"}
    schemas = spec["components"]["schemas"]
    assert {"GenerateRequest", "GenerateForm", "SearchRequest", "SearchForm"} <= set(schemas)
    assert schemas["GenerateForm"]["properties"]["image"]["format"] == "binary"
    assert {"APIKeyHeader", "HTTPBearer"} <= set(spec["components"]["securitySchemes"])
    assert client.get("/docs").status_code == 200


class FakePipe:
    """A stand-in Pipeline: tests swap the models dependency without loading a run."""

    modalities = ["text", "audio", "image"]
    class_names: list = []
    is_image = True
    config = {"model": {"z_dim": 4, "family": "fake"}, "data": {"shape": [3, 8, 8]}}

    def __init__(self):
        self.calls = []

    def __call__(self, num_images=1, z=None, text=None, audio=None, image=None, **kw):
        from PIL import Image

        from mmgan.pipeline import PipelineOutput

        self.calls.append({"n": num_images, "z": z, "text": text, "audio": audio, "image": image})
        return PipelineOutput(images=[Image.new("RGB", (8, 8), (i * 10 % 255, 0, 0)) for i in range(num_images)])


def test_dependencies_can_be_swapped(keyring, keys):
    pipe, store = FakePipe(), MemoryItemStore()
    app = create_app(Settings(keys_file=keyring.path))
    app.dependency_overrides[get_models] = lambda: registry
    app.dependency_overrides[get_store] = lambda: store
    registry = ModelRegistry({"fake": pipe})
    with TestClient(app) as c:
        r = c.post("/v1/generate", json={"text": "a red square", "n": 2}, headers=auth(keys["generator"]))
        assert r.status_code == 200, r.text
        assert pipe.calls[0]["text"] == ["a red square"] * 2 and store.stats()["items"] == 2
        assert c.get("/healthz").json()["models"] == ["fake"]
        # uploads reach the pipeline decoded: audio as float32 at 16 kHz, images as PIL; hashes in provenance
        r = c.post("/v1/generate", data={"text": "hi", "n": "2"}, headers=auth(keys["generator"]),
                   files={"audio": ("a.wav", wav_bytes(0.25, sr=8000), "audio/wav"),
                          "image": ("i.png", png_bytes(12, 10), "image/png")})
        assert r.status_code == 200, r.text
        call = pipe.calls[-1]
        assert len(call["audio"]) == 2 and call["audio"][0].dtype.name == "float32"
        assert abs(len(call["audio"][0]) - 4000) <= 1 and call["image"][0].size == (12, 10)
        cond = r.json()["items"][0]["provenance"]["conditions"]
        assert set(cond) == {"text", "audio_sha256", "image_sha256"}
        r = c.post("/v1/generate", data={"text": "hi"}, headers=auth(keys["generator"]),
                   files={"image": ("i.png", png_bytes(100, 100), "image/png")})
        assert r.status_code == 200
        app.state.mmgan.settings.limits.max_image_pixels = 99
        r = c.post("/v1/generate", data={"text": "hi"}, headers=auth(keys["generator"]),
                   files={"image": ("i.png", png_bytes(10, 10), "image/png")})
        assert r.status_code == 413 and r.json()["limit"] == "max_image_pixels"
    import asyncio

    asyncio.run(registry.stop())


def test_a_run_that_cannot_load_stops_startup(tmp_path, keyring):
    import pytest

    app = create_app(Settings(runs={"x": str(tmp_path / "missing")}, keys_file=keyring.path))
    with pytest.raises(FileNotFoundError, match="no such run"):
        with TestClient(app):
            pass
