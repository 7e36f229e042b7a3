"""/v1/generate for a sound -> video model: an `audio` upload gives an MP4 (H.264 with that sound as its AAC
track) inline as video_base64 with fps and frames, stored like any item; the page shows it as <video>."""
from __future__ import annotations

import base64
import io

import pytest
from fastapi.testclient import TestClient

from mmgan.server import Settings, create_app

from .conftest import auth

av = pytest.importorskip("av")


@pytest.fixture(scope="module")
def video_run(tmp_path_factory):
    from _tiny import video_manifest
    from mmgan.api.train import train

    root = tmp_path_factory.mktemp("video-run")
    sets = ["model.family=mocogan", "model.condition=[audio]", "data.resolution=16", "model.g_width=4",
            "model.d_width=4", "model.extra.motion_dim=8", "model.extra.audio_width=8", "train.batch_size=4",
            "train.threads=1", "train.progress=false", "train.tensorboard=false"]
    train(data=str(video_manifest(root / "clips")), overrides=sets, out=root / "run", steps=2, log=lambda *_: None)
    return root / "run", sorted((root / "clips" / "clips").glob("*.wav"))


def test_sound_in_mp4_out(video_run, keyring, keys):
    run, clips = video_run
    settings = Settings(runs={"bounce": str(run)}, keys_file=keyring.path)
    with TestClient(create_app(settings)) as c:
        r = c.post("/v1/generate", data={"model": "bounce", "seed": "2", "n": "2"},
                   files={"audio": ("clip.wav", clips[0].read_bytes(), "audio/wav")}, headers=auth(keys["generator"]))
        assert r.status_code == 200, r.text
        items = r.json()["items"]
    assert len(items) == 2 and items[0]["media_type"] == "video/mp4"
    assert items[0]["fps"] == 8.0 and items[0]["frames"] == 8 and items[0]["seconds"] == 1.0
    with av.open(io.BytesIO(base64.b64decode(items[0]["video_base64"]))) as f:
        kinds = {s.type: s.codec_context.name for s in f.streams}
    assert kinds == {"video": "h264", "audio": "aac"}
    assert items[0]["video_base64"] != items[1]["video_base64"]               # two seeds of one sound differ
