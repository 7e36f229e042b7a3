"""Text out over HTTP: a tiny captioner (shapes-styled, a few steps) answers /v1/caption and /v1/generate with
captions (n per image, by seed, in a style), stored as items whose caption is the generated text; a tiny
recogniser answers /v1/transcribe with a transcript, timed segments, SRT and WebVTT that parse back, and stores it
when asked. Wrong models, missing uploads and unknown styles get 422s naming the field."""
from __future__ import annotations

import io
import json

import numpy as np
import pytest
import soundfile as sf
from fastapi.testclient import TestClient

from mmgan.modalities.pixels import to_pil
from mmgan.modalities.subtitles import check_cues, parse_srt, parse_vtt
from mmgan.server import Settings, create_app
from mmgan.server.deps import get_store
from mmgan.server.items import MemoryItemStore

from .conftest import WordsAndPixels, auth

def shape_png() -> bytes:
    from mmgan.data import load_dataset

    buf = io.BytesIO()
    to_pil(load_dataset("shapes", split="heldout", n=1).columns["image"][0]).save(buf, format="PNG")
    return buf.getvalue()


def talk_wav() -> bytes:
    sr = 22050
    parts = [np.zeros(int(0.4 * sr))]
    for k in (0, 1):
        t = np.arange(int(0.4 * sr)) / sr
        parts += [0.3 * np.sin(2 * np.pi * (300 + 400 * k) * t) * np.hanning(len(t)), np.zeros(int(0.6 * sr))]
    buf = io.BytesIO()
    sf.write(buf, np.concatenate(parts).astype(np.float32), sr, format="WAV")
    return buf.getvalue()


@pytest.fixture(scope="module")
def served(text_runs, tmp_path_factory):
    from mmgan.server.keys import KeyRing

    ring = KeyRing(tmp_path_factory.mktemp("keys") / "keys.json")
    key = ring.create("generator", "test")[1]
    store = MemoryItemStore(WordsAndPixels())
    app = create_app(Settings(runs={"cap": str(text_runs / "cap"), "asr": str(text_runs / "asr")},
                              keys_file=ring.path, device="cpu"))
    app.dependency_overrides[get_store] = lambda: store
    with TestClient(app) as client:
        yield client, auth(key), store


def test_caption_answers_n_captions_by_seed_in_a_style_and_stores_them(served):
    client, headers, store = served
    png = shape_png()
    files = {"image": ("shape.png", png, "image/png")}
    r = client.post("/v1/caption", data={"model": "cap", "n": "3", "seed": "4", "style": "positive"}, files=files,
                    headers=headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model"] == "cap" and body["n"] == 3 and body["seed"] == 4 and body["stored"]
    texts = [it["text"] for it in body["items"]]
    assert len(texts) == 3 and all(isinstance(t, str) for t in texts)
    assert all(it["media_type"] == "text/plain" and it.get("image_base64") is None for it in body["items"])
    for it in body["items"]:
        kept = store.get(it["id"])
        assert kept["metadata"]["caption"] == it["text"] and kept["provenance"]["conditions"]["label"] == 1
        assert store.asset(it["id"], "caption.txt") == it["text"].encode()
    again = client.post("/v1/caption", data={"model": "cap", "n": "3", "seed": "4", "style": "positive"}, files=files,
                        headers=headers).json()
    assert [it["text"] for it in again["items"]] == texts                       # a seed gives the same captions
    # the same model through /v1/generate (JSON, base64 image), greedy through /v1/caption
    import base64

    gen = client.post("/v1/generate", json={"model": "cap", "n": 2, "seed": 4, "label": "positive",
                                            "image_b64": base64.b64encode(png).decode()}, headers=headers)
    assert gen.status_code == 200, gen.text
    assert [it["text"] for it in gen.json()["items"]] == texts[:2]
    ask = {"model": "cap", "n": 2, "seed": 9, "decode": "greedy", "store": False,
           "image_b64": base64.b64encode(png).decode()}
    greedy = client.post("/v1/caption", json=ask, headers=headers).json()
    assert not greedy["stored"] and all(it["id"] is None for it in greedy["items"])
    assert greedy["items"][0]["provenance"]["conditions"]["options"] == {"decode": "greedy"}
    assert [it["text"] for it in client.post("/v1/caption", json=ask, headers=headers).json()["items"]] == \
        [it["text"] for it in greedy["items"]]


def test_caption_errors_name_the_field(served):
    client, headers, _ = served
    png = shape_png()
    cases = [({"model": "asr"}, {"image": ("s.png", png, "image/png")}, "model", "does not caption"),
             ({"model": "cap"}, None, "image", "give the image"),
             ({"model": "cap", "style": "sarcastic"}, {"image": ("s.png", png, "image/png")}, "style", "sarcastic"),
             ({"model": "cap", "decode": "nucleus"}, {"image": ("s.png", png, "image/png")}, "decode", "")]
    for data, files, field, words in cases:
        r = client.post("/v1/caption", data=data, files=files, headers=headers)
        assert r.status_code == 422, (data, r.text)
        detail = json.dumps(r.json()["detail"])
        assert field in detail and words in detail, detail


def test_transcribe_answers_subtitles_and_stores_the_transcript(served):
    client, headers, store = served
    wav = talk_wav()
    r = client.post("/v1/transcribe", data={"model": "asr", "beam": "4", "store": "true"},
                    files={"audio": ("talk.wav", wav, "audio/wav")}, headers=headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model"] == "asr" and body["seconds"] == pytest.approx(0.4 + 2 * 1.0, abs=0.01)
    assert len(body["segments"]) == 2 and all(0.2 < s["start"] < s["end"] < 2.5 for s in body["segments"])
    assert parse_srt(body["srt"]) == parse_vtt(body["vtt"])
    check_cues(parse_srt(body["srt"]))
    assert body["rtf"] > 0 and isinstance(body["text"], str)
    if body["text"]:                                  # a 3-step model may hear nothing yet: then nothing is stored
        kept = store.get(body["id"])
        assert kept["metadata"]["caption"] == body["text"]
        assert store.asset(body["id"], "transcript.srt").decode() == body["srt"]
    else:
        assert "nothing was recognised" in body["store_note"]
    bad = client.post("/v1/transcribe", data={"model": "cap"}, files={"audio": ("t.wav", wav, "audio/wav")},
                      headers=headers)
    assert bad.status_code == 422 and "does not transcribe" in bad.text
    empty = client.post("/v1/transcribe", json={"model": "asr"}, headers=headers)
    assert empty.status_code == 422 and "give the recording" in empty.text
    junk = client.post("/v1/transcribe", data={"model": "asr"}, files={"audio": ("t.wav", b"not audio", "audio/wav")},
                       headers=headers)
    assert junk.status_code == 422 and "audio" in junk.text
