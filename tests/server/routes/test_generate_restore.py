"""POST /v1/generate with a restoration model: the damaged image and its mask as uploads (multipart or base64),
the restored image back at the image's size; a mask of the wrong size or for another kind of model is refused."""
from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from mmgan.server import Settings, create_app
from mmgan.server.deps import get_store

from ..conftest import auth, png_bytes

TINY = ["train.progress=false", "train.tensorboard=false", "train.batch_size=4", "model.g_width=4", "model.d_width=4",
        "model.extra.dilations=[2]", "train.threads=1", "train.sample_every=1000", "train.ckpt_every=1000"]


@pytest.fixture(scope="module")
def restore_run(tmp_path_factory):
    from mmgan.api.train import train

    d = tmp_path_factory.mktemp("clean")
    rng = np.random.default_rng(0)
    for i in range(8):
        Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(d / f"{i}.png")
    out = tmp_path_factory.mktemp("runs") / "restore"
    train(data=str(d), overrides=TINY, out=out, steps=1, task="restore", degrade="noise,mask", log=lambda *_: None)
    return out


@pytest.fixture
def client(restore_run, tiny_run, keyring, keys, store):      # keys before the app reads the keys file
    app = create_app(Settings(runs={"fix": str(restore_run), "digits": str(tiny_run)}, keys_file=keyring.path))
    app.dependency_overrides[get_store] = lambda: store
    with TestClient(app) as c:
        yield c


def _mask(w: int, h: int) -> bytes:
    a = np.zeros((h, w), np.uint8)
    a[2:6, 3:12] = 255
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG")
    return buf.getvalue()


def test_restore_over_http_multipart_and_base64(client, keys):
    files = {"image": ("d.png", png_bytes(21, 13), "image/png"), "mask": ("m.png", _mask(21, 13), "image/png")}
    r = client.post("/v1/generate", data={"model": "fix"}, files=files, headers=auth(keys["generator"]))
    assert r.status_code == 200, r.text
    item = r.json()["items"][0]
    assert Image.open(io.BytesIO(base64.b64decode(item["image_base64"]))).size == (21, 13)
    assert "mask_sha256" in item["provenance"]["conditions"]
    js = {"model": "fix", "image_b64": base64.b64encode(png_bytes(21, 13)).decode(), "store": False}
    r = client.post("/v1/generate", json=js, headers=auth(keys["generator"]))                  # no mask: noise only
    assert r.status_code == 200, r.text


def test_bad_requests_are_refused_by_field(client, keys):
    files = {"image": ("d.png", png_bytes(21, 13), "image/png"), "mask": ("m.png", _mask(20, 13), "image/png")}
    r = client.post("/v1/generate", data={"model": "fix"}, files=files, headers=auth(keys["generator"]))
    assert r.status_code == 422 and "mask is 20x13 pixels but the image is 21x13" in r.text
    r = client.post("/v1/generate", json={"model": "fix"}, headers=auth(keys["generator"]))
    assert r.status_code == 422 and "restores images" in r.text
    files = {"mask": ("m.png", _mask(16, 16), "image/png")}
    r = client.post("/v1/generate", data={"model": "digits", "label": "1"}, files=files, headers=auth(keys["generator"]))
    assert r.status_code == 422 and "not conditioned on mask" in r.text
