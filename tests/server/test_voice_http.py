"""/v1/generate for a sound model trained with a voice condition: a `voice` upload (multipart or voice_b64)
sets the voice and is named in the provenance by its digest; with none the model picks a voice; a model
without a voice condition refuses the upload by name."""
from __future__ import annotations

import base64

import pytest
from fastapi.testclient import TestClient

from mmgan.server import Settings, create_app

from .conftest import TINY_AUDIO, auth


@pytest.fixture(scope="module")
def voiced_run(tmp_path_factory):
    from _tiny import tone_manifest
    from mmgan.api.train import train

    root = tmp_path_factory.mktemp("voice-run")
    manifest = tone_manifest(root / "clips", n=24, classes=2, speakers=3)
    sets = TINY_AUDIO + ["model.condition=[label,voice]", "model.extra.voice_steps=10", "model.extra.voice_dim=8",
                         "train.threads=1"]
    train(data=str(manifest), overrides=sets, out=root / "run", steps=2, log=lambda *_: None)
    return root / "run", sorted((root / "clips" / "clips").glob("*.wav"))


def test_a_voice_upload_sets_the_voice(voiced_run, tiny_audio_run, keyring, keys):
    run, clips = voiced_run
    gen = auth(keys["generator"])
    settings = Settings(runs={"voiced": str(run), "tones": str(tiny_audio_run)}, keys_file=keyring.path)
    a_wav, b_wav = clips[0].read_bytes(), clips[1].read_bytes()                 # spk0 and spk1
    with TestClient(create_app(settings)) as c:
        a = c.post("/v1/generate", data={"model": "voiced", "label": "high", "seed": "1"},
                   files={"voice": ("me.wav", a_wav, "audio/wav")}, headers=gen)
        assert a.status_code == 200, a.text
        item = a.json()["items"][0]
        assert item["audio_base64"] and "voice_sha256" in item["provenance"]["conditions"]
        b = c.post("/v1/generate", json={"model": "voiced", "label": "high", "seed": 1,
                                         "voice_b64": base64.b64encode(b_wav).decode()}, headers=gen).json()
        assert b["items"][0]["audio_base64"] != item["audio_base64"]                # same seed, another voice
        same = c.post("/v1/generate", json={"model": "voiced", "label": "high", "seed": 1,
                                            "voice_b64": base64.b64encode(a_wav).decode()}, headers=gen).json()
        assert same["items"][0]["audio_base64"] == item["audio_base64"]             # the upload, not chance
        free = c.post("/v1/generate", json={"model": "voiced", "label": "high", "seed": 1}, headers=gen)
        assert free.status_code == 200 and "voice_sha256" not in free.json()["items"][0]["provenance"]["conditions"]
        r = c.post("/v1/generate", data={"model": "tones", "label": "high"},
                   files={"voice": ("me.wav", a_wav, "audio/wav")}, headers=gen)
        assert r.status_code == 422 and "not conditioned on voice" in r.text
