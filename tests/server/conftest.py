"""Server fixtures: tiny trained runs, each made once per session (a 2-step dcgan on digits at 16 px and a 2-step
specgan on labelled tones, both label-conditioned; a 2-step mlp on ring vectors), keys of each role, and an app
on a memory store with a test embedder that also embeds text (and, in SoundsToo, audio)."""
from __future__ import annotations

import io
import json
import zlib
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from fastapi.testclient import TestClient

from mmgan.embedding import normalize
from mmgan.server import Settings, create_app
from mmgan.server.deps import get_store
from mmgan.server.embed import PixelEmbedder
from mmgan.server.items import MemoryItemStore
from mmgan.server.keys import KeyRing

TINY = ["model.condition=[label]", "data.resolution=16", "data.n=64", "train.batch_size=8", "train.progress=false",
        "train.tensorboard=false", "train.sample_every=1000", "train.ckpt_every=1000", "train.log_every=1",
        "model.z_dim=8", "model.g_width=8", "model.d_width=8"]


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    from mmgan.api.train import train

    out = tmp_path_factory.mktemp("runs") / "digits16"
    train(data="digits", overrides=TINY, out=out, steps=2, log=lambda *_: None)
    return out


TINY_AUDIO = ["train.minutes=0", "model.g_width=4", "model.d_width=4", "model.z_dim=8", "train.batch_size=8",
              "train.progress=false", "train.tensorboard=false", "train.sample_every=1000", "train.ckpt_every=1000"]


@pytest.fixture(scope="session")
def tiny_audio_run(tmp_path_factory) -> Path:
    """Sound out: specgan trained 2 steps on 16 labelled tones ("low", "high"); it makes 0.5 s clips at 16 kHz."""
    from _tiny import tone_manifest
    from mmgan.api.train import train

    from mmgan.modalities.audio import AudioCodec

    root = tmp_path_factory.mktemp("audio-run")
    manifest = tone_manifest(root / "clips", n=16, classes=2)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(AudioCodec, "preview_count", 4)     # the run's final preview: 4 clips through Griffin-Lim, not 40
        train(data=str(manifest), overrides=TINY_AUDIO, out=root / "tones", steps=2, log=lambda *_: None)
    return root / "tones"


@pytest.fixture(scope="session")
def tiny_vector_run(tmp_path_factory) -> Path:
    """Vectors out: an unconditional mlp trained 2 steps on the 8-mode ring."""
    from _tiny import ring_dataset, tiny_config
    from mmgan.training import Trainer
    from mmgan.training.setup import resolve

    out = tmp_path_factory.mktemp("vector-run") / "ring"
    cfg, ds = tiny_config("model.family=mlp"), ring_dataset(n=256)
    resolve(cfg, ds)
    Trainer(cfg, out, ds, log=lambda m: None).fit()
    return out


class WordsAndPixels:
    """Test embedder: images by pixels, text by hashed words into the same 256-d space (not a real joint space,
    but enough to exercise text search end to end)."""

    dim = 256
    id = "test-words-pixels"
    modalities = ("image", "text")

    def __init__(self):
        self.pixels = PixelEmbedder()

    def embed(self, modality, items):
        if modality == "image":
            return self.pixels.embed("image", items)
        if modality == "text":
            out = np.zeros((len(items), self.dim), np.float32)
            for i, t in enumerate(items):
                for w in str(t).lower().split():
                    out[i, zlib.crc32(w.encode()) % self.dim] += 1.0
            return normalize(out + 1e-3)
        raise ValueError(f"cannot embed {modality}")


class SoundsToo(WordsAndPixels):
    """WordsAndPixels that also embeds audio (16 kHz waveforms, by their magnitude spectrum in 256 bands), like a
    joint space with an audio encoder: a store with it keeps generated clips."""

    id = "test-words-pixels-sounds"
    modalities = ("image", "text", "audio")
    sample_rate = 16000

    def embed(self, modality, items):
        if modality != "audio":
            return super().embed(modality, items)
        rows = []
        for w in items:
            spec = np.abs(np.fft.rfft(np.asarray(w, np.float32), n=2 * self.dim))[: self.dim]
            rows.append(spec + 1e-3)
        return normalize(np.stack(rows).astype(np.float32))


@pytest.fixture
def keyring(tmp_path) -> KeyRing:
    return KeyRing(tmp_path / "keys.json")


@pytest.fixture
def keys(keyring) -> dict[str, str]:
    return {role: keyring.create(role, f"test {role}")[1] for role in ("viewer", "generator", "admin")}


def auth(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def settings(tiny_run, keyring, keys) -> Settings:
    return Settings(runs={"digits": str(tiny_run)}, keys_file=keyring.path)


@pytest.fixture
def store() -> MemoryItemStore:
    return MemoryItemStore(WordsAndPixels())


@pytest.fixture
def app(settings, store):
    app = create_app(settings)
    app.dependency_overrides[get_store] = lambda: store
    return app


@pytest.fixture
def client(app):
    with TestClient(app) as c:
        yield c


def png_bytes(w: int = 16, h: int = 16, color=128) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("L", (w, h), color).save(buf, format="PNG")
    return buf.getvalue()


def wav_bytes(seconds: float = 0.5, sr: int = 16000) -> bytes:
    import soundfile as sf

    buf = io.BytesIO()
    t = np.arange(int(seconds * sr)) / sr
    sf.write(buf, (0.1 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), sr, format="WAV")
    return buf.getvalue()


class LiveServer:
    """uvicorn serving an app on a free loopback port, in a thread, for the browser and HTTP-level tests."""

    def __init__(self, app):
        import socket
        import threading

        import uvicorn

        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        sock.close()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self):
        import time

        self.thread.start()
        t0 = time.time()
        while not self.server.started:
            if time.time() - t0 > 60 or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(timeout=30)


# ---- text out -------------------------------------------------------------------------------------------------
CAPTION = ["--steps", "3", "--set", "data.n=48", "--set", "train.batch_size=8", "--set", "train.progress=false",
           "--set", "train.tensorboard=false", "--set", "train.minutes=0", "--set", "train.threads=1",
           "--set", "model.extra.mle_steps=2", "--set", "model.extra.d_pretrain=1", "--set", "model.extra.hidden=16",
           "--set", "model.extra.embed=8", "--set", "model.g_width=8", "--set", "model.d_width=8"]
RECOGNISE = ["--steps", "3", "--set", "train.progress=false", "--set", "train.tensorboard=false",
             "--set", "train.minutes=0", "--set", "train.batch_size=4", "--set", "model.extra.hidden=8",
             "--set", "model.extra.conv_width=4", "--set", "model.extra.n_mels=16", "--set", "model.extra.layers=1",
             "--set", "train.sample_every=0", "--set", "train.threads=1"]


def chirp(k: int, seconds: float, sr: int = 16000) -> np.ndarray:
    t = np.arange(int(sr * seconds)) / sr
    return (0.3 * np.sin(2 * np.pi * (300 + 400 * k) * t) * np.hanning(len(t))).astype(np.float32)


@pytest.fixture(scope="session")
def text_runs(tmp_path_factory):
    """Text out: a captioner trained 3 steps on shapes-styled (RUN/cap) and a recogniser trained 3 steps on 8 chirps
    captioned "a low one" / "a high one" (RUN/asr)."""
    from mmgan.cli import main

    root = tmp_path_factory.mktemp("text-runs")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert main(["train", "--data", "shapes-styled", "--target", "text", "--out", str(root / "cap"), *CAPTION]) == 0
        (root / "clips").mkdir()
        rows = []
        for i in range(8):
            sf.write(root / "clips" / f"{i}.wav", chirp(i % 2, 0.4), 16000)
            rows.append({"audio": f"clips/{i}.wav", "text": ["a low one", "a high one"][i % 2]})
        (root / "speech.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        assert main(["train", "--data", str(root / "speech.jsonl"), "--target", "text", "--out", str(root / "asr"),
                     *RECOGNISE]) == 0
    finally:
        torch.set_num_threads(threads)
    return root
