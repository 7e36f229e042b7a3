"""The multimodal part of `make demo`: train text + speech -> image on `shapes` on the CPU, then
draw what it does.

    from mmgan.demo.multimodal import run
    paths = run("demo/multimodal", minutes=8)      # {"run": ..., "generation": ..., "arithmetic": ..., ...}

Steps: spoken captions for the training items (espeak-ng, cached) -> `train_multimodal` (joint
space, fused conditions, DF-GAN with the matching-aware discriminator) within `minutes` of
training -> pictures through the Pipeline (the one inference path):
  generation.png  rows of held-out captions (combinations never seen in training), generated from
                  the text only, the speech only, and both; and a row from a reference image; titled
                  with the judged accuracies and the diversity ratio (measure)
  arithmetic.png  image - text(its colour) + text(another colour): the first trials, right or wrong,
                  titled with the accuracy over 200 trials
  retrieval.png   a held-out caption and its recording, each with its nearest images
  summary.json    the figures, the captions, the retrieval and arithmetic results
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Callable

import torch

from ..api.embed import nearest
from ..conditioning import JointSpace
from ..conditioning.features import cache_root
from ..config import Config
from ..data import load_dataset, with_speech
from ..data.shapes import images_of
from ..metrics.diversity import diversity_per_condition
from ..metrics.judge import attribute_accuracy, shapes_judge
from ..metrics.retrieval import arithmetic_trials
from ..pipeline import Pipeline
from ..training import Trainer
from ..training.setup import resolve
from ..utils import atomic_write_json
from .pictures import labelled_grid

DEMO_OVERRIDES = [
    # data and model: 32 px shapes, DF-GAN conditioned on fused text + speech
    "model.family=dfgan", "model.condition=[text,audio]", "model.fusion=attention", "model.z_dim=32",
    "model.g_width=16", "model.d_width=16",
    # matching-aware D with MA-GP (lazy, every 4 steps); the joint-space contrastive and L1 pairing losses
    "loss.name=hinge", "loss.phases=matching", "loss.r1_every=4", "loss.contrastive=0.5", "loss.recon=5.0",
    # z must matter: the L1 pairing on 2x2-pooled images (on pixels it pins every seed to one image) and
    # DSGAN's mode-seeking term, capped and measured on 2x2-pooled images (configs/shapes-text-speech.yaml says why)
    "loss.recon_pool=2", "loss.mode_seeking=2.0", "loss.ms_tau=0.035", "loss.ms_pool=2",
    # the generator learns a neighbourhood of each condition: speech lands near, not on, its caption's
    "model.extra.cond_noise=0.6",
    # the speech encoder's ~40 s (phase B of the joint space): batch 64 at lr 4e-3 rather than 128 at 2e-3. On two
    # threads (bench/joint_speech.py): 1,137 steps instead of 674, held-out speech at cosine 0.904 of its caption
    # instead of 0.841 (nearest of 300 captions right: 99% vs 98%)
    "model.extra.joint_audio_batch=64", "model.extra.joint_audio_lr=0.004",
    # DF-GAN's optimizer (Adam, betas 0 / 0.9) at a higher G rate for a short run; bf16 autocast where the CPU has native bf16 (auto).
    # Batch 16: for the same images seen, twice the steps learn the captions faster (held-out text -> image 71% after
    # 800 x 16 against 53% after 400 x 32, 200 captions, same joint space)
    "train.batch_size=16", "train.lr_g=4e-4", "train.lr_d=4e-4", "train.beta1=0.0", "train.beta2=0.9",
    "train.ema=0.99", "train.bf16=auto", "train.channels_last=true", "train.steps=100000",
    "train.sample_every=500", "train.ckpt_every=500", "train.log_every=50", "train.tensorboard=false",
]


# The joint space's share of the demo's minutes. The preset gives it 40% of its 10 minutes (the speech encoder
# needs the steps: bench/voices.py); at 4.6 minutes (about the demo's) 40% measured the same as 25% (speech ->
# image 70.3% vs 71.9%, text 95.3% both, diversity 0.74 both: 64 captions, one thread beside another job), so the
# short GAN keeps its time.
JOINT_SHARE = 0.25


def demo_items(minutes: float) -> int:
    """Training items: fewer for a short demo (speech synthesis and feature extraction scale with them)."""
    return int(min(6000, max(1000, 500 * minutes)))


def spoken(split: str, n: int, seed: int, cache: Path, log: Callable[[str], None], voices: list[dict] | None = None):
    """`shapes` items with their captions spoken (from the voice pool `voices`, else espeak-ng's varied default)."""
    t = time.time()
    ds = load_dataset("shapes", split=split, n=n, seed=seed)
    ds = with_speech(ds, cache / "speech", seed=seed, voices=voices)
    pool = f" by a pool of {len(voices)} voices" if voices else ""
    log(f"{split}: {len(ds)} items with spoken captions{pool} ({time.time() - t:.0f}s)")
    return ds


def train_multimodal(ds, run_dir: str | Path, overrides: list[str], log: Callable[[str], None] = print,
                     config: str | None = None):
    """Resolve a config (the defaults, or the preset `config`, with overrides) against an in-memory dataset
    and train (what `mmgan train` does after loading)."""
    cfg = (Config.load(config) if config else Config()).override(overrides)
    cfg.data.name = ds.info.name
    resolve(cfg, ds)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    cfg.save(run_dir / "config.yaml")
    return Trainer(cfg, run_dir, ds, log=log).fit()


def run(out_dir: str | Path, minutes: float = 8.0, log: Callable[[str], None] | None = None,
        cache_dir: str | Path | None = None) -> dict[str, Path]:
    """Train within `minutes` (joint space JOINT_SHARE, GAN the rest) and write the pictures; returns their paths."""
    log = log or (lambda m: print(m, file=sys.stderr))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cache = cache_root(cache_dir)
    n = demo_items(minutes)
    train = spoken("train", n, 0, cache, log)
    held = spoken("heldout", 64, 1, cache, log)
    joint_min = max(0.5, JOINT_SHARE * minutes)
    # train.minutes bounds the whole training (joint space, features, fusion, GAN: training.budget)
    overrides = DEMO_OVERRIDES + [f"train.minutes={minutes}", f"model.extra.joint_share={JOINT_SHARE}",
                                  f"model.extra.joint_minutes={joint_min}", "model.extra.fusion_steps=800"]
    t = time.time()
    res = train_multimodal(train, out / "run", overrides, log)
    log(f"trained {res.step} GAN steps in {time.time() - t:.0f}s (joint space included)")
    return {"run": res.run_dir, **draw(res.run_dir, held, out, log)}


def draw(run_dir: Path, held, out: Path, log: Callable[[str], None] = print) -> dict:
    """The demo pictures from a trained run and held-out items with speech, each titled with the figures
    measured on the same run (see measure); returns their paths and the figures."""
    pipe = Pipeline.from_pretrained(run_dir, device="cpu")
    space = pipe.conditioner.joint
    fig, gallery = measure(pipe, held, log)
    pct = lambda k: f"{fig[k]:.0%}"  # noqa: E731
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
    title = (f"held-out captions (combinations never seen in training); each row: 8 seeds of one condition\n"
             f"judged on {len(held)} held-out captions: text -> image {pct('text -> image accuracy')}, speech -> image "
             f"{pct('speech -> image accuracy')} all four attributes right (judge: {pct('judge accuracy on real images')} "
             f"on real images; control {pct('negative control (judged against another caption)')})\n"
             f"diversity ratio {fig['diversity ratio (generated / real, per caption)']:.2f} "
             f"(real vs real {fig['diversity ratio, real vs real']:.2f})")
    paths: dict = {"generation": labelled_grid(rows, labels, out / "generation.png", title)}

    g_img, g_att, names = gallery
    ex = fig.pop("arithmetic examples")
    rows = [torch.stack([g_img[e["source"]], g_img[e["nearest"]]]) for e in ex]
    labels = [f"{'right' if e['correct'] else 'WRONG'}: {_describe(names, g_att[e['source']])} - '{e['minus']}' "
              f"+ '{e['plus']}'" for e in ex]
    paths["arithmetic"] = labelled_grid(rows, labels, out / "arithmetic.png",
                                        f"embedding arithmetic in the joint space, the first {len(ex)} trials: "
                                        f"image, nearest image\n{pct('arithmetic accuracy')} right over 200 trials "
                                        f"(new colour, same shape)", label_chars=64)
    emb = space.embed("image", g_img)
    i = picks[0]
    t_idx, _ = nearest(space.embed("text", [held.columns["text"][i]])[0], emb, k=8)
    a_idx, _ = nearest(space.embed("audio", [held.columns["audio"][i]])[0], emb, k=8)
    paths["retrieval"] = labelled_grid([g_img[torch.as_tensor(t_idx)], g_img[torch.as_tensor(a_idx)]],
                                       [f"text: {held.columns['text'][i]}", "its recording"], out / "retrieval.png",
                                       "cross-modal retrieval: nearest images")
    summary = {"figures": fig, "captions": [held.columns["text"][i] for i in picks],
               "arithmetic_examples": ex,
               "retrieval_text": [_describe(names, g_att[j]) for j in t_idx],
               "retrieval_audio": [_describe(names, g_att[j]) for j in a_idx],
               "query_attributes": _describe(names, held.columns["attributes"][i]),
               "joint_space": space.id if isinstance(space, JointSpace) else ""}
    atomic_write_json(out / "summary.json", summary)
    paths["summary"] = out / "summary.json"
    log(f"demo pictures: {json.dumps({k: str(v) for k, v in paths.items()})}")
    return {**paths, **fig}


def _describe(names: dict[str, list[str]], attrs: torch.Tensor) -> str:
    return " ".join(names[k][int(v)] for k, v in zip(names, attrs))


def measure(pipe: Pipeline, held, log: Callable[[str], None] = print, judge_minutes: float = 1.0) -> tuple[dict, tuple]:
    """The figures printed beside the demo's pictures, measured on the same run (bench/multimodal.py is the
    full protocol):
      judge       an attribute classifier trained on real shapes only; its accuracy on fresh real images
      text/speech share of held-out captions (combinations never seen in training) whose sample the judge
                  reads with all four attributes right; a negative control judges the text samples against
                  another item's caption
      diversity   per held-out caption, the mean pairwise distance of 8 samples (seeds differ) in the judge's
                  features over the same for 8 real images of the combination; real vs real is the ceiling
      arithmetic  image - text(its colour) + text(another colour): nearest image has the new colour and shape"""
    t = time.time()
    judge, judged = shapes_judge(n=3000, steps=500, minutes=judge_minutes, check=1000)
    names = judge.config["attributes"]
    keys = list(names)
    fig = {"judge accuracy on real images": judged["all"]}
    want = held.columns["attributes"]
    for mode, kw in (("text", {"text": held.columns["text"]}), ("speech", {"audio": held.columns["audio"]})):
        pred = judge.predict(pipe(num_images=len(held), seed=0, output_type="pt", **kw).tensor)
        fig[f"{mode} -> image accuracy"] = attribute_accuracy(pred, want, keys)["all"]
        if mode == "text":
            other = torch.roll(torch.arange(len(held)), 1)
            fig["negative control (judged against another caption)"] = attribute_accuracy(pred, want[other], keys)["all"]
    gen_f, real_f, other_f = [], [], []
    for i in _distinct(held, 16):
        attrs = tuple(names[k][int(v)] for k, v in zip(keys, want[i]))
        x = pipe(text=held.columns["text"][i], num_images=8, seed=1000 + i, output_type="pt").tensor
        gen_f.append(judge.features(x))
        real_f.append(judge.features(images_of(attrs, 8, x.shape[-1], seed=i)))
        other_f.append(judge.features(images_of(attrs, 8, x.shape[-1], seed=10_000 + i)))
    fig["diversity ratio (generated / real, per caption)"] = diversity_per_condition(gen_f, real_f)["diversity_ratio"]
    fig["diversity ratio, real vs real"] = diversity_per_condition(other_f, real_f)["diversity_ratio"]
    gallery = load_dataset("shapes", split="test", n=500, seed=2)
    g_img = torch.cat([gallery.columns["image"], held.columns["image"]])
    g_att = torch.cat([gallery.columns["attributes"], want])
    ar = arithmetic_trials(pipe.conditioner.joint, g_img, g_att, names, "color", trials=200, seed=0, examples=6)
    fig["arithmetic accuracy"], fig["arithmetic examples"] = ar["accuracy"], ar["examples"]
    log(f"measured the demo's figures in {time.time() - t:.0f}s")
    return fig, (g_img, g_att, names)


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
