"""The multimodal part of `make demo`: train text + speech -> image on `shapes` on the CPU, then
draw what it does.

    from mmgan.demo.multimodal import run
    paths = run("demo/multimodal", minutes=8)      # {"run": ..., "generation": ..., "arithmetic": ..., ...}

Steps: spoken captions for the training items (espeak-ng, cached) -> `train_multimodal` (joint
space, fused conditions, DF-GAN with the matching-aware discriminator) within `minutes` of
training -> pictures through the Pipeline (the one inference path):
  generation.png  rows of held-out captions (combinations never seen in training), generated from
                  the text only, the speech only, and both; and a row from a reference image
  arithmetic.png  an image of a red circle - "red" + "blue": its nearest images
  retrieval.png   a held-out caption and its recording, each with its nearest images
  summary.json    the captions, the retrieval and arithmetic results
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Callable

import torch
from PIL import Image, ImageDraw

from ..api.embed import arithmetic, nearest
from ..conditioning import JointSpace
from ..conditioning.features import cache_root
from ..config import Config
from ..data import load_dataset, with_speech
from ..data.transforms import to_pil
from ..pipeline import Pipeline
from ..training import Trainer
from ..training.setup import resolve
from ..utils import atomic_write, atomic_write_json

DEMO_OVERRIDES = [
    # data and model: 32 px shapes, DF-GAN conditioned on fused text + speech
    "model.family=dfgan", "model.condition=[text,audio]", "model.fusion=attention", "model.z_dim=32",
    "model.g_width=16", "model.d_width=16",
    # matching-aware D with MA-GP (lazy, every 4 steps); the joint-space contrastive and L1 pairing losses
    "loss.name=hinge", "loss.phases=matching", "loss.r1_every=4", "loss.contrastive=0.5", "loss.recon=5.0",
    # z must matter: the L1 pairing on 2x2-pooled images (on pixels it pins every seed to one image) and
    # DSGAN's mode-seeking term capped at the real shapes' spread (configs/shapes-text-speech.yaml)
    "loss.recon_pool=2", "loss.mode_seeking=2.0", "loss.ms_tau=0.06",
    # DF-GAN's optimizer (Adam, betas 0 / 0.9) at a higher G rate for a short run; bf16 autocast is the fast path on CPUs
    "train.batch_size=32", "train.lr_g=4e-4", "train.lr_d=4e-4", "train.beta1=0.0", "train.beta2=0.9",
    "train.ema=0.99", "train.bf16=true", "train.channels_last=false", "train.steps=100000",
    "train.sample_every=500", "train.ckpt_every=500", "train.log_every=50", "train.tensorboard=false",
]


def demo_items(minutes: float) -> int:
    """Training items: fewer for a short demo (speech synthesis and feature extraction scale with them)."""
    return int(min(6000, max(1000, 500 * minutes)))


def spoken(split: str, n: int, seed: int, cache: Path, log: Callable[[str], None]):
    t = time.time()
    ds = load_dataset("shapes", split=split, n=n, seed=seed)
    ds = with_speech(ds, cache / "speech", seed=seed)
    log(f"{split}: {len(ds)} items with spoken captions ({time.time() - t:.0f}s)")
    return ds


def train_multimodal(ds, run_dir: str | Path, overrides: list[str], log: Callable[[str], None] = print):
    """Resolve a config against an in-memory dataset and train (what `mmgan train` does after loading)."""
    cfg = Config().override(overrides)
    cfg.data.name = ds.info.name
    resolve(cfg, ds)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    cfg.save(run_dir / "config.yaml")
    return Trainer(cfg, run_dir, ds, log=log).fit()


def run(out_dir: str | Path, minutes: float = 8.0, log: Callable[[str], None] | None = None,
        cache_dir: str | Path | None = None) -> dict[str, Path]:
    """Train within `minutes` (joint space ~25%, GAN the rest) and write the pictures; returns their paths."""
    log = log or (lambda m: print(m, file=sys.stderr))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cache = cache_root(cache_dir)
    n = demo_items(minutes)
    train = spoken("train", n, 0, cache, log)
    held = spoken("heldout", 64, 1, cache, log)
    joint_min = max(0.5, 0.25 * minutes)
    overrides = DEMO_OVERRIDES + [f"train.minutes={max(0.5, minutes - joint_min - 0.3)}",
                                  f"model.extra.joint_minutes={joint_min}", "model.extra.fusion_steps=800"]
    t = time.time()
    res = train_multimodal(train, out / "run", overrides, log)
    log(f"trained {res.step} GAN steps in {time.time() - t:.0f}s (joint space included)")
    paths = {"run": res.run_dir}
    paths.update(draw(res.run_dir, held, out, log))
    return paths


def draw(run_dir: Path, held, out: Path, log: Callable[[str], None] = print) -> dict[str, Path]:
    """The demo pictures from a trained run and held-out items with speech."""
    pipe = Pipeline.from_pretrained(run_dir, device="cpu")
    space = pipe.conditioner.joint
    rows, labels = [], []
    picks = _distinct(held, 4)
    for i in picks:
        cap, wav = held.columns["text"][i], held.columns["audio"][i]
        for name, kw in (("text", {"text": cap}), ("speech", {"audio": wav}), ("both", {"text": cap, "audio": wav})):
            rows.append(pipe(num_images=8, seed=i, output_type="pt", **kw).tensor)
            labels.append(f"{name}: {cap}" if name == "text" else f"{name}" + (" (recording)" if name == "speech" else ""))
    ref = held.columns["image"][picks[0]]
    rows.append(torch.cat([ref[None], pipe(image=ref, num_images=7, seed=0, output_type="pt").tensor]))
    labels.append("reference image (first) -> samples")
    paths = {"generation": _picture(rows, labels, out / "generation.png",
                                    "held-out captions (combinations never seen in training)")}

    gallery = load_dataset("shapes", split="test", n=500, seed=2)
    g_img = torch.cat([gallery.columns["image"], held.columns["image"]])
    g_att = torch.cat([gallery.columns["attributes"], held.columns["attributes"]])
    emb = space.embed("image", g_img)
    names = gallery.info.attributes
    want = [names["shape"].index("circle"), names["color"].index("red")]
    src = int(torch.nonzero((g_att[:, 0] == want[0]) & (g_att[:, 1] == want[1]))[0])
    q = arithmetic(space, [(1, "image", g_img[src : src + 1]), (-1, "text", "red"), (1, "text", "blue")])
    idx, scores = nearest(q, emb, k=8, exclude=[src])
    paths["arithmetic"] = _picture([g_img[src : src + 1], g_img[torch.as_tensor(idx)]],
                                   ["a red circle", "- 'red' + 'blue': nearest"], out / "arithmetic.png",
                                   "embedding arithmetic in the joint space")
    found = [{k: names[k][int(v)] for k, v in zip(names, g_att[j])} for j in idx]
    i = picks[0]
    t_idx, _ = nearest(space.embed("text", [held.columns["text"][i]])[0], emb, k=8)
    a_idx, _ = nearest(space.embed("audio", [held.columns["audio"][i]])[0], emb, k=8)
    paths["retrieval"] = _picture([g_img[torch.as_tensor(t_idx)], g_img[torch.as_tensor(a_idx)]],
                                  [f"text: {held.columns['text'][i]}", "its recording"], out / "retrieval.png",
                                  "cross-modal retrieval: nearest images")
    summary = {"captions": [held.columns["text"][i] for i in picks], "arithmetic_nearest": found,
               "arithmetic_correct": sum(f["color"] == "blue" and f["shape"] == "circle" for f in found) / len(found),
               "retrieval_text": [{k: names[k][int(v)] for k, v in zip(names, g_att[j])} for j in t_idx],
               "retrieval_audio": [{k: names[k][int(v)] for k, v in zip(names, g_att[j])} for j in a_idx],
               "query_attributes": {k: names[k][int(v)] for k, v in zip(names, held.columns["attributes"][i])},
               "joint_space": space.id if isinstance(space, JointSpace) else ""}
    atomic_write_json(out / "summary.json", summary)
    paths["summary"] = out / "summary.json"
    log(f"demo pictures: {json.dumps({k: str(v) for k, v in paths.items()})}")
    return paths


def _distinct(ds, k: int) -> list[int]:
    """k items with different attribute combinations."""
    seen, out = set(), []
    for i, a in enumerate(ds.columns["attributes"].tolist()):
        if tuple(a) not in seen:
            seen.add(tuple(a))
            out.append(i)
        if len(out) == k:
            break
    return out


def _picture(rows: list[torch.Tensor], labels: list[str], path: Path, title: str, scale: int = 2) -> Path:
    """Rows of images in [-1, 1], each with a text label on its left, and a title on top."""
    size = rows[0].shape[-1] * scale
    pad, left, top = 4, 300, 24
    cols = max(len(r) for r in rows)
    img = Image.new("RGB", (left + cols * (size + pad) + pad, top + len(rows) * (size + pad) + pad), "white")
    draw = ImageDraw.Draw(img)
    draw.text((pad, 6), title, fill=(0, 0, 0))
    for r, (row, label) in enumerate(zip(rows, labels)):
        y = top + r * (size + pad)
        draw.text((pad, y + size // 2 - 6), label[:48], fill=(30, 30, 30))
        for c, x in enumerate(row):
            img.paste(to_pil(x).resize((size, size), Image.NEAREST), (left + c * (size + pad), y))
    atomic_write(path, lambda tmp: img.save(tmp, format="PNG"))
    return path
