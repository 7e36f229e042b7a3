"""Training the joint space (ImageBind's recipe at small scale) and fitting a fusion into it.

Phase A  hub encoder + text (and label) heads, contrastive hub<->text and hub<->label. The hub is the
         image; data without images (sound with captions: spoken-digits, sfx, a manifest of clips) binds
         to the audio instead, and then phase A is all there is (text and labels bound to the clips).
Phase B  (image hub) image and text frozen; the audio encoder is bound to the image embeddings (and to the
         caption embeddings of the same item, a paired target that speeds learning up). With
         audio_augment, every batch of cached raw log-mels is perturbed on the fly (speed, pitch,
         room, level, noise, SpecAugment masks: mmgan.encoders.audio_augment) before the encoder's
         normalization, so a few voices teach words rather than voices; features for evaluation and
         for the fusion are never augmented.
Fusion   with every encoder frozen, a fusion method learns to map any subset of the condition
         modalities (modality dropout) to the embedding of the paired image.

InfoNCE with a learned temperature. Items that share a description (same attributes, else same
caption) are positives for each other rather than false negatives: several images fit one caption.
With the audio hub, items of one class are (a caption says the word, not the voice that says it).
model.extra.joint_positives chooses otherwise (positive_groups): "text" for sentences whose label names
only part of what is said.
"""
from __future__ import annotations

import math
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F

from ..data.base import MemoryDataset
from ..fusion.base import modality_dropout
from ..conditioning.features import features_at, prepared_column, take
from ..conditioning.joint import JointSpace, encoder_specs
from ..losses.contrastive import info_nce
from ..utils import atomic_write_json, cosine_lr
from ..encoders import collate
from .progress import BudgetBar
from ..encoders.audio_augment import AudioAugment


PHASE_A_SHARE = 0.35                # phase A's share of the joint space's time when audio is bound (audio learns slower)


@dataclass
class JointOptions:
    dim: int = 256
    minutes: float = 3.0            # wall-clock budget for phases A and B together
    steps: int = 1500               # phase A cap
    audio_steps: int = 2000         # phase B cap
    batch_size: int = 128
    lr: float = 2e-3
    audio_batch_size: int | None = None     # phase B's batch (None: batch_size)
    audio_lr: float | None = None           # phase B's learning rate (None: lr)
    audio_text_weight: float = 1.0  # phase B: weight of audio<->caption next to audio<->image
    heads: str = "linear"
    temperature: float = 0.07
    seed: int = 0
    encoders: dict = field(default_factory=dict)    # per-modality encoder overrides {"audio": {"name": ...}}
    audio_augment: AudioAugment | None = None       # phase B: perturb each audio batch (None: off)
    log_every: int = 100
    positives: str = "auto"         # what makes items positives (positive_groups' by)
    bf16: bool = False              # bf16 autocast for the encoders' training forward passes (train.bf16)


def hub_of(ds: MemoryDataset) -> str:
    """The modality a joint space of this data binds the others to: its images, else its clips."""
    if ds.has("image"):
        return "image"
    if ds.has("audio"):
        return "audio"
    raise ValueError(f"dataset {ds.info.name!r} has no images or sound to bind other modalities to "
                     f"(columns: {', '.join(ds.columns)})")


POSITIVES = ("auto", "label", "attributes", "text", "item")


def positive_groups(ds: MemoryDataset, hub: str = "image", by: str = "auto") -> torch.Tensor:
    """(N,) group ids: items of one group are positives for each other. by "auto": items with the same
    attributes (else the same caption) share a group; with the audio hub, items with the same label (a
    clip's attributes name its voice, which no caption describes). "label", "attributes", "text" (the same
    caption: for sentences whose words all matter, e.g. spoken-shapes, whose label names only the shape)
    or "item" (every item its own group) group by that alone."""
    if by not in POSITIVES:
        raise ValueError(f"joint-space positives must be one of {', '.join(POSITIVES)}, got {by!r}")
    if by != "auto":
        col = {"label": "label", "attributes": "attributes", "text": "text"}.get(by)
        if col and not ds.has(col):
            raise ValueError(f"joint-space positives by {by}: dataset {ds.info.name!r} has no {col!r} column "
                             f"(columns: {', '.join(ds.columns)})")
        if by == "label":
            return ds.columns["label"].long()
        if by == "attributes":
            return torch.unique(ds.columns["attributes"], dim=0, return_inverse=True)[1]
        if by == "text":
            ids = {t: i for i, t in enumerate(dict.fromkeys(ds.columns["text"]))}
            return torch.tensor([ids[t] for t in ds.columns["text"]])
        return torch.arange(len(ds))
    if hub == "audio" and ds.has("label"):
        return ds.columns["label"].long()
    if ds.has("attributes"):
        _, g = torch.unique(ds.columns["attributes"], dim=0, return_inverse=True)
        return g
    if ds.has("text"):
        ids = {t: i for i, t in enumerate(dict.fromkeys(ds.columns["text"]))}
        return torch.tensor([ids[t] for t in ds.columns["text"]])
    return torch.arange(len(ds))


def _images(space: JointSpace, ds: MemoryDataset) -> torch.Tensor:
    enc = space.encoders["image"]
    return torch.cat([enc.prepare(ds.columns["image"][i : i + 4096])["image"] for i in range(0, len(ds), 4096)])


@torch.no_grad()
def encode_column(space: JointSpace, modality: str, column: dict[str, torch.Tensor], keep_tokens: bool = False,
                  chunk: int = 512) -> dict[str, torch.Tensor]:
    """Joint-space features of every item of a prepared column: pooled (N, dim) [+ tokens, mask (float16)]."""
    space.eval()
    n = len(next(iter(column.values())))
    pooled, toks, masks = [], [], []
    for i in range(0, n, chunk):
        out = space(modality, take(column, torch.arange(i, min(n, i + chunk))))
        pooled.append(out.pooled)
        if keep_tokens:
            toks.append(out.tokens.half())
            m = out.mask if out.mask is not None else torch.ones(out.tokens.shape[:2], dtype=torch.bool)
            masks.append(m)
    res = {"pooled": torch.cat(pooled)}
    if keep_tokens:
        res.update(collate([{"tokens": t, "mask": m} for t, m in zip(toks, masks)]))
    return res


def train_joint(ds: MemoryDataset, modalities: list[str] | None = None, opts: JointOptions | None = None,
                cache_dir=None, log: Callable[[str], None] = print, progress: bool = False,
                deadline: Callable[[], float] | None = None) -> tuple[JointSpace, dict]:
    """Train a joint space on a dataset's paired columns; returns (space, report). Training stops after
    opts.minutes, or at deadline() (a time.time(), asked once the columns are prepared: a run's time
    budget). progress: a bar over both phases' steps, or over the time when that ends them first."""
    t_start = time.time()
    opts = opts or JointOptions()
    hub = hub_of(ds)
    mods = [m for m in (modalities or ["image", "text", "audio", "label"]) if m == hub or
            (ds.has(m) and (m != "label" or ds.info.num_classes >= 2))]
    mods = [hub] + [m for m in mods if m != hub]
    if len(mods) < 2:
        raise ValueError(f"dataset {ds.info.name!r}: nothing to bind to its {hub} (a joint space needs text, "
                         f"audio or labels beside it; columns: {', '.join(ds.columns)})")
    c, res = (int(v) for v in ds.columns["image"].shape[1::2]) if hub == "image" else (3, 32)  # the images'
    specs = encoder_specs(mods, opts.dim, c, min(res, 64), ds.info.num_classes, opts.encoders)
    torch.manual_seed(opts.seed)
    space = JointSpace(specs, dim=opts.dim, temperature=opts.temperature, heads=opts.heads, hub=hub)
    g = torch.Generator().manual_seed(opts.seed)
    groups = positive_groups(ds, hub, opts.positives)
    n, bs = len(ds), min(opts.batch_size, len(ds))
    report: dict = {"modalities": mods, "hub": hub, "items": n, "options": asdict(opts)}   # audio_augment: its fields
    images = _images(space, ds) if hub == "image" else None
    cols: dict[str, dict[str, torch.Tensor]] = {}
    if "text" in mods:
        cols["text"] = prepared_column(space.encoders["text"], ds.columns["text"], cache_dir, keep_tokens=False, log=log)
    if "audio" in mods:
        enc = space.encoders["audio"]
        source = enc.raw_features() if opts.audio_augment is not None else enc   # augmented before normalizing
        cols["audio"] = prepared_column(source, ds.columns["audio"], cache_dir, log=log)
    if "label" in mods:
        cols["label"] = {"labels": ds.columns["label"]}
    report["prepare_seconds"] = round(time.time() - t_start, 1)
    if deadline is not None:
        deadline = deadline()
    else:                                                                          # features are not training
        deadline = time.time() + opts.minutes * 60 if opts.minutes > 0 else math.inf
    bound_audio = "audio" in mods and hub != "audio"                 # phase B binds the audio to the images
    total_steps = opts.steps + (opts.audio_steps if bound_audio else 0)
    bar = BudgetBar(total_steps, deadline - time.time(), desc="joint space", enabled=progress)

    # ---- phase A: hub <-> text, hub <-> label ------------------------------------------------------------
    side = [m for m in mods if m in ("text", "label")]
    params = [p for m in [hub] + side for p in list(space.encoders[m].parameters()) + list(space.heads[m].parameters())]
    params.append(space.logit_scale)
    opt = torch.optim.AdamW(params, lr=opts.lr, weight_decay=1e-4)
    budget_a = deadline if not bound_audio else time.time() + (deadline - time.time()) * PHASE_A_SHARE
    hub_batch = (lambda idx: {"image": images[idx]}) if hub == "image" else \
        _audio_batches(space.encoders["audio"], cols["audio"], opts)
    space.train()
    t0, step, loss = time.time(), 0, torch.zeros(())
    for step in range(opts.steps):
        if time.time() > budget_a:
            break
        for gr in opt.param_groups:
            gr["lr"] = cosine_lr(step, opts.steps, opts.lr)
        idx = torch.randint(0, n, (bs,), generator=g)
        with _autocast(opts.bf16):
            img = space(hub, hub_batch(idx)).pooled.float()
            embs = [space(m, take(cols[m], idx)).pooled.float() for m in side]
        scale = space.logit_scale.clamp(max=math.log(100)).exp()
        loss = sum(info_nce(img, e, scale, groups[idx]) for e in embs) if side else torch.zeros((), requires_grad=True)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        bar.update(1)
        if opts.log_every and step % opts.log_every == 0:
            bar.set_postfix(phase="A", loss=f"{float(loss.detach()):.3f}")
            if not progress:
                log(f"  joint A step {step}: loss {float(loss.detach()):.3f}, temperature {1 / float(scale.detach()):.3f}")
    if bound_audio:                             # phase A may end early: the bar moves on to phase B's share
        bar.update(opts.steps - bar.step)
    report["phase_a"] = {"steps": step + 1, "seconds": round(time.time() - t0, 1), "loss": float(loss.detach())}

    # ---- phase B: audio -> frozen image (and caption) embeddings --------------------------------------
    if bound_audio:
        space.eval()
        with torch.no_grad():
            img_emb = torch.cat([space("image", {"image": images[i : i + 1024]}).pooled for i in range(0, n, 1024)])
        txt_emb = encode_column(space, "text", cols["text"])["pooled"] if "text" in cols else None
        params = list(space.encoders["audio"].parameters()) + list(space.heads["audio"].parameters())
        lr_b = opts.audio_lr or opts.lr
        bs_b = min(opts.audio_batch_size or opts.batch_size, n)
        opt = torch.optim.AdamW(params, lr=lr_b, weight_decay=1e-4)
        scale = space.logit_scale.detach().clamp(max=math.log(100)).exp()
        audio_batch = _audio_batches(space.encoders["audio"], cols["audio"], opts)
        space.train()
        t0 = time.time()
        for step in range(opts.audio_steps):
            if time.time() > deadline:
                break
            for gr in opt.param_groups:
                gr["lr"] = cosine_lr(step, opts.audio_steps, lr_b)
            idx = torch.randint(0, n, (bs_b,), generator=g)
            with _autocast(opts.bf16):
                a = space("audio", audio_batch(idx)).pooled.float()
            loss = info_nce(a, img_emb[idx], scale, groups[idx])
            if txt_emb is not None and opts.audio_text_weight > 0:
                loss = loss + opts.audio_text_weight * info_nce(a, txt_emb[idx], scale, groups[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            bar.update(1)
            if opts.log_every and step % opts.log_every == 0:
                bar.set_postfix(phase="B (audio)", loss=f"{float(loss.detach()):.3f}")
                if not progress:
                    log(f"  joint B (audio) step {step}: loss {float(loss.detach()):.3f}")
        report["phase_b"] = {"steps": step + 1, "seconds": round(time.time() - t0, 1), "loss": float(loss.detach()),
                             "batch_size": bs_b, "lr": lr_b}
    bar.close()
    report["seconds"] = round(time.time() - t_start, 1)
    space.eval()
    space.requires_grad_(False)
    return space, report


def fit_joint_space(ds: MemoryDataset, out_dir: str | Path, modalities: list[str] | None = None,
                    opts: JointOptions | None = None, log: Callable[[str], None] = print,
                    progress: bool = False, deadline: Callable[[], float] | None = None) -> tuple[JointSpace, dict]:
    """train_joint, then save the space to out_dir (config.json, model.safetensors, report.json) in one
    step: it is written beside out_dir and renamed into place, so a killed run leaves no half-written space."""
    out = Path(out_dir)
    if (out / "config.json").exists():
        raise ValueError(f"{out} already holds a joint space; load it (JointSpace.from_pretrained) or remove it")
    space, report = train_joint(ds, modalities, opts, log=log, progress=progress, deadline=deadline)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    space.save_pretrained(tmp)
    atomic_write_json(tmp / "report.json", report)
    if out.is_dir() and not any(out.iterdir()):
        out.rmdir()
    os.replace(tmp, out)
    return space, report


def _autocast(bf16: bool):
    """bf16 autocast on the CPU for a training forward pass (the losses stay float32), or nothing."""
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16)


def _audio_batches(enc, column: dict[str, torch.Tensor], opts: JointOptions) -> Callable[[torch.Tensor], dict]:
    """idx -> the prepared audio batch of phase B: cached rows as they are, or (audio_augment) cached raw
    log-mels perturbed and then normalized as the encoder's prepare() does. The augmentation draws from
    its own generator, so the batches (idx) are the same with and without it."""
    aug = opts.audio_augment
    if aug is None:
        return lambda idx: take(column, idx)
    g = torch.Generator().manual_seed(opts.seed + 1)
    return lambda idx: aug(take(column, idx), enc.normalize, enc.sample_rate, enc.hop_ms, g)


def fit_fusion(fusion, feats: dict[str, dict[str, torch.Tensor]], target: torch.Tensor, groups: torch.Tensor,
               scale: float, steps: int = 600, batch_size: int = 256, lr: float = 1e-3, p_drop: float = 0.3,
               minutes: float = 1.0, seed: int = 0, log: Callable[[str], None] | None = print) -> dict:
    """Train a fusion so fuse(any subset of modalities) lands on the paired image's embedding.

    feats: {modality: {"pooled": (N, d)[, "tokens", "mask"]}} joint-space features of every item;
    target: (N, d) image embeddings (unit vectors).
    """
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW([p for p in fusion.parameters() if p.requires_grad], lr=lr, weight_decay=1e-4)
    n = target.shape[0]
    bs = min(batch_size, n)
    deadline = time.time() + minutes * 60 if minutes > 0 else math.inf
    fusion.train()
    t0, step, loss = time.time(), 0, torch.zeros(())
    for step in range(steps):
        if time.time() > deadline:
            break
        for gr in opt.param_groups:
            gr["lr"] = cosine_lr(step, steps, lr)
        idx = torch.randint(0, n, (bs,), generator=g)
        present = modality_dropout({m: torch.ones(bs, dtype=torch.bool) for m in feats}, p_drop, g)
        batch = {m: features_at(f, idx, present[m]) for m, f in feats.items()}
        vec = F.normalize(fusion(batch).vec, dim=-1)
        loss = info_nce(vec, target[idx], torch.tensor(scale), groups[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if log and step % 200 == 0:
            log(f"  fusion step {step}: loss {float(loss.detach()):.3f}")
    fusion.eval()
    return {"steps": step + 1, "seconds": round(time.time() - t0, 1), "loss": float(loss.detach())}

