"""HTTP end to end with a real multimodal pipeline: a tiny text + audio + image run trained for two steps,
served by create_app, asked for images by JSON text, by uploaded WAV, by uploaded image, and by text + WAV.
Each answer: PNGs at the model's resolution, stored with its conditions in provenance, reproducible by seed
(and, for text, the very images Pipeline gives for the same prompt and seed)."""
from __future__ import annotations

import base64
import hashlib
import io
from pathlib import Path

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from PIL import Image

from mmgan.config import Config
from mmgan.modalities.pixels import to_pil
from mmgan.pipeline import Pipeline
from mmgan.server import Settings, create_app
from mmgan.server.deps import get_store
from mmgan.server.items import MemoryItemStore
from mmgan.training import Trainer
from mmgan.training.setup import resolve

from _mm_tiny import TINY_EXTRA, tiny_paired

RES = 16
TRAIN = ["model.family=dfgan", "model.condition=[text,audio,image]", "model.z_dim=8", "model.g_width=4",
         "model.d_width=4", "loss.phases=matching", "train.steps=2", "train.batch_size=8", "train.progress=false",
         "train.tensorboard=false", "train.sample_every=1000", "train.ckpt_every=1000", "train.log_every=1",
         "train.channels_last=false"]
FAST = ["model.extra.joint_steps=1", "model.extra.joint_audio_steps=1", "model.extra.fusion_steps=1"]


@pytest.fixture(scope="module")
def mm_run(tmp_path_factory):
    """(run folder, dataset): a real text + audio + image model at 16 px, two training steps."""
    root = tmp_path_factory.mktemp("mm-http")
    mp = pytest.MonkeyPatch()
    mp.setenv("MMGAN_CACHE", str(root / "cache"))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)                   # tiny models gain nothing from threads on a shared CPU
    try:
        ds = tiny_paired(root / "clips", res=RES)
        cfg = Config().override(TRAIN + TINY_EXTRA + FAST)
        resolve(cfg, ds)
        Trainer(cfg, root / "run", ds, log=lambda m: None).fit()
    finally:
        torch.set_num_threads(threads)
        mp.undo()
    return root / "run", ds


def png_of(ds, i: int) -> bytes:
    buf = io.BytesIO()
    to_pil(ds.columns["image"][i]).save(buf, format="PNG")
    return buf.getvalue()


def post(client, key: str, json=None, data=None, files=None) -> dict:
    r = client.post("/v1/generate", json=json, data=data, files=files, headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200, r.text
    return r.json()


def decoded(body: dict) -> list[Image.Image]:
    return [Image.open(io.BytesIO(base64.b64decode(it["image_base64"]))) for it in body["items"]]


def test_text_audio_image_and_text_with_audio_over_http(mm_run, keyring, keys):
    run, ds = mm_run
    store = MemoryItemStore()
    app = create_app(Settings(runs={"mm": str(run)}, keys_file=keyring.path, device="cpu"))
    app.dependency_overrides[get_store] = lambda: store
    wav, png = Path(ds.columns["audio"][1]).read_bytes(), png_of(ds, 2)
    requests = {                               # name -> (JSON body, form fields, files), all with n=2 and a seed
        "text": ({"text": "a red block", "n": 2, "seed": 5}, None, None),
        "audio": (None, {"n": "2", "seed": "5"}, {"audio": ("say.wav", wav, "audio/wav")}),
        "image": (None, {"n": "2", "seed": "5"}, {"image": ("ref.png", png, "image/png")}),
        "text+audio": (None, {"text": "a blue bar", "n": "2", "seed": "5"}, {"audio": ("say.wav", wav, "audio/wav")}),
    }
    audio_sha, image_sha = hashlib.sha256(wav).hexdigest(), hashlib.sha256(png).hexdigest()
    want = {"text": {"text": "a red block"}, "audio": {"audio_sha256": audio_sha}, "image": {"image_sha256": image_sha},
            "text+audio": {"text": "a blue bar", "audio_sha256": audio_sha}}
    with TestClient(app) as client:
        assert client.get("/v1/models", headers={"Authorization": f"Bearer {keys['viewer']}"}).status_code == 200
        bodies = {}
        for name, (js, form, files) in requests.items():
            body = post(client, keys["generator"], json=js, data=form, files=files)
            bodies[name] = body
            imgs = decoded(body)
            assert body["model"] == "mm" and body["stored"] and len(imgs) == 2
            assert all(im.size == (RES, RES) and im.format == "PNG" for im in imgs)
            for it in body["items"]:
                stored = store.get(it["id"])                       # kept with the request's conditions
                assert stored is not None and stored["provenance"]["seed"] == 5
                assert stored["provenance"]["conditions"] == want[name] == it["provenance"]["conditions"]
            again = post(client, keys["generator"], json=js, data=form, files=files)      # same request, same seed
            assert [it["image_base64"] for it in again["items"]] == [it["image_base64"] for it in body["items"]]
            assert [it["id"] for it in again["items"]] == [it["id"] for it in body["items"]]
    direct = Pipeline.from_pretrained(run, device="cpu")(text="a red block", num_images=2, seed=5).images
    assert [np.asarray(a).tolist() for a in decoded(bodies["text"])] == [np.asarray(b).tolist() for b in direct]
    pngs = {name: body["items"][0]["image_base64"] for name, body in bodies.items()}
    assert len(set(pngs.values())) == len(pngs)                        # each condition made its own images
