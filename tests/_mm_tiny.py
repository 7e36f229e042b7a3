"""A tiny paired dataset (images, captions, WAV files, labels, attributes) and tiny joint-space settings
for the multimodal tests (imported as `_mm_tiny`)."""
from __future__ import annotations

import numpy as np
import soundfile as sf
import torch

from mmgan.data.base import DataInfo, MemoryDataset

COLORS = ["red", "blue"]
SHAPES = ["block", "bar"]


def tiny_paired(root, n: int = 16, res: int = 16) -> MemoryDataset:
    """Red or blue, block or bar; speech stands in as tones whose pitch encodes the caption."""
    g = torch.Generator().manual_seed(0)
    attrs = torch.stack([torch.randint(0, 2, (n,), generator=g), torch.randint(0, 2, (n,), generator=g)], 1)
    img = torch.full((n, 3, res, res), 0.8)
    for i, (s, c) in enumerate(attrs.tolist()):
        ch = 0 if c == 0 else 2
        w = res // 2 if s == 0 else res // 4
        img[i, :, 4:12, 4 : 4 + w] = -1.0
        img[i, ch, 4:12, 4 : 4 + w] = 1.0
    root.mkdir(parents=True, exist_ok=True)
    audio = []
    for i, (s, c) in enumerate(attrs.tolist()):
        t = np.arange(4000 + 400 * i) / 16000
        y = 0.3 * np.sin(2 * np.pi * (300 + 200 * c + 100 * s) * t)
        p = root / f"clip{i}.wav"
        sf.write(p, y.astype(np.float32), 16000)
        audio.append(str(p))
    text = [f"a {COLORS[c]} {SHAPES[s]}" for s, c in attrs.tolist()]
    info = DataInfo("tiny-paired", "image", (3, res, res), num_classes=2, class_names=SHAPES,
                    attributes={"shape": SHAPES, "color": COLORS})
    return MemoryDataset(info, {"image": img, "label": attrs[:, 0].clone(), "attributes": attrs, "text": text,
                                "audio": audio})


TINY_JOINT = {"image": {"name": "image-cnn", "dim": 16, "channels": 3, "resolution": 16, "width": 8},
              "text": {"name": "tiny-text", "dim": 16, "vocab": 64, "layers": 1, "heads": 2},
              "audio": {"name": "audio-cnn", "dim": 16, "width": 16, "n_mels": 16},
              "label": {"name": "label", "num_classes": 2, "dim": 16}}

TINY_EXTRA = ["model.extra.text_encoder=tiny-text", "model.extra.joint_dim=16", "model.extra.joint_steps=3",
              "model.extra.joint_audio_steps=3", "model.extra.joint_batch=8", "model.extra.fusion_steps=3",
              "model.extra.joint_minutes=1",
              "model.extra.joint_encoders={audio: {width: 16, n_mels: 16}, image: {width: 8}}"]
