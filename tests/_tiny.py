"""Tiny in-memory datasets and configs shared by the core tests (imported as `_tiny`)."""
from __future__ import annotations

import math

import torch

from mmgan.config import Config
from mmgan.data.base import DataInfo, MemoryDataset


def ring_dataset(n: int = 2000, seed: int = 0) -> MemoryDataset:
    g = torch.Generator().manual_seed(seed)
    lab = torch.randint(0, 8, (n,), generator=g)
    ang = 2 * math.pi * lab / 8
    x = torch.stack([torch.cos(ang), torch.sin(ang)], 1) + 0.01 * torch.randn(n, 2, generator=g)
    means = [[math.cos(2 * math.pi * i / 8), math.sin(2 * math.pi * i / 8)] for i in range(8)]
    info = DataInfo("tiny-ring", "vector", (2,), num_classes=8, extra={"means": means, "sigma": 0.01})
    return MemoryDataset(info, {"vector": x, "label": lab})


def image_dataset(n: int = 64, channels: int = 1, res: int = 16, classes: int = 4, seed: int = 0) -> MemoryDataset:
    g = torch.Generator().manual_seed(seed)
    lab = torch.randint(0, classes, (n,), generator=g)
    img = torch.rand(n, channels, res, res, generator=g) * 2 - 1
    info = DataInfo("tiny-images", "image", (channels, res, res), num_classes=classes,
                    class_names=[f"c{i}" for i in range(classes)])
    return MemoryDataset(info, {"image": img, "label": lab, "text": [f"class {int(l)}" for l in lab]})


def tiny_config(*overrides: str) -> Config:
    base = ["train.steps=2", "train.batch_size=8", "train.progress=false", "train.tensorboard=false",
            "train.sample_every=1000", "train.ckpt_every=1000", "train.log_every=1", "model.z_dim=8",
            "model.g_width=8", "model.d_width=8", "model.g_hidden=[16,16]", "model.d_hidden=[16,16]"]
    return Config().override(base + list(overrides))


def tone_manifest(folder, n: int = 16, classes: int = 2, seconds: float = 0.5, sr: int = 16000, speakers: int = 0):
    """A user's sound manifest: n WAV tones (class k at 300 + 200 k Hz, each its own length around
    `seconds`, at `sr`), labelled "low"/"high"/... and captioned; returns the manifest path. speakers > 0:
    row i is spoken by "spk{i % speakers}", whose timbre is its own (speaker s adds the harmonic s + 2)."""
    import json
    from pathlib import Path

    import numpy as np
    import soundfile as sf

    folder = Path(folder)
    (folder / "clips").mkdir(parents=True, exist_ok=True)
    names = ["low", "high", "higher", "highest"][:classes]
    rows = []
    for i in range(n):
        k = i % classes
        t = np.arange(int(sr * seconds * (0.8 + 0.4 * i / max(1, n - 1)))) / sr
        f = 300 + 200 * k
        y = 0.3 * np.sin(2 * np.pi * f * t) * np.exp(-3 * t)
        if speakers:
            y = y + 0.2 * np.sin(2 * np.pi * f * (i % speakers + 2) * t) * np.exp(-3 * t)
        sf.write(folder / "clips" / f"{i:03d}.wav", y.astype(np.float32), sr)
        rows.append({"audio": f"clips/{i:03d}.wav", "label": names[k], "text": f"a {names[k]} tone",
                     **({"speaker": f"spk{i % speakers}"} if speakers else {})})
    path = folder / "manifest.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def video_manifest(folder, n: int = 8, frames: int = 8, fps: float = 8.0, side: int = 16, sr: int = 16000):
    """A user's video-with-sound manifest: n MP4 clips (grayscale, side x side, `frames` frames at `fps`) of a
    square that lights up in the frames where a tone sounds, with that sound as a WAV beside each (the
    `audio` column) and a caption; returns the manifest path."""
    import json
    from pathlib import Path

    import numpy as np
    import soundfile as sf

    from mmgan.modalities.video import Video

    folder = Path(folder)
    (folder / "clips").mkdir(parents=True, exist_ok=True)
    per = int(round(sr / fps))
    rows = []
    rng = np.random.default_rng(0)
    for i in range(n):
        lit = rng.random(frames) < 0.4
        lit[i % frames] = True
        video = np.zeros((frames, side, side, 1), np.uint8)
        wave = np.zeros(frames * per, np.float32)
        t = np.arange(per) / sr
        for k in np.flatnonzero(lit):
            video[k, side // 4: 3 * side // 4, side // 4: 3 * side // 4] = 255
            wave[k * per:(k + 1) * per] = 0.3 * np.sin(2 * np.pi * 440 * t)
        Video(video, fps).save(folder / "clips" / f"{i:03d}.mp4")
        sf.write(folder / "clips" / f"{i:03d}.wav", wave, sr)
        rows.append({"video": f"clips/{i:03d}.mp4", "audio": f"clips/{i:03d}.wav",
                     "text": f"a square that lights up {int(lit.sum())} times"})
    path = folder / "manifest.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def captioner_args(steps: int = 3, n: int = 48) -> list[str]:
    """`mmgan train` arguments for a captioner small enough for a test: `steps` steps on `n` images (MLE for 2,
    then D alone for 1, then adversarial), one thread."""
    sets = [f"data.n={n}", "train.batch_size=8", "train.progress=false", "train.tensorboard=false", "train.minutes=0",
            "train.threads=1", "model.extra.mle_steps=2", "model.extra.d_pretrain=1", "model.extra.hidden=16",
            "model.extra.embed=8", "model.g_width=8", "model.d_width=8"]
    return ["--steps", str(steps)] + [a for s in sets for a in ("--set", s)]


def photo(rng, w: int, h: int, mode: str = "RGB"):
    """A smooth synthetic w x h photograph (three random sinusoid products) as a PIL image in `mode`."""
    import numpy as np
    from PIL import Image

    yy, xx = np.mgrid[0:h, 0:w] / max(w, h)
    ch = [np.sin(6 * xx * rng.uniform(0.5, 2) + rng.uniform(0, 6)) * np.cos(5 * yy + rng.uniform(0, 6))
          for _ in range(3)]
    return Image.fromarray(((np.stack(ch, -1) + 1) * 127.5).astype(np.uint8), "RGB").convert(mode)


def photo_folder(folder, n: int, size: int):
    """A user's folder of n such photographs, size x size, p00.png ...; returns the folder."""
    import numpy as np

    rng = np.random.default_rng(0)
    for i in range(n):
        photo(rng, size, size).save(folder / f"p{i:02d}.png")
    return folder
