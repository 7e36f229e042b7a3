"""make_conditioner(cfg, ds, run_dir): what the trainer calls for text / audio / image conditions.

    1. the joint space: model.extra.joint (a saved space to reuse), else RUN/joint/ when resuming,
       else trained here (fit_joint_space) and saved to RUN/joint/ (config.json + model.safetensors)
    2. joint-space features of every training item, computed once (encoders are frozen)
    3. the fusion (model.fusion) fitted on those features with modality dropout, unless a checkpoint
       exists (its weights are restored by the trainer)
With fit=False (the other ranks under torchrun, after rank 0) nothing is fitted: the joint space is
loaded from RUN/joint/ and the fusion's weights come from rank 0 (distributed.broadcast_state).

Both fits run within their share of the run's time budget (training.budget: with train.minutes the
joint space gets the smaller of joint_minutes and 25% of it). Options (model.extra): joint,
joint_minutes (3), joint_share (0.25), joint_steps (1500), joint_audio_steps (2000), joint_batch (128), joint_dim (256),
joint_heads (linear), joint_positives (auto), text_encoder, audio_encoder, joint_encoders
({modality: {encoder options}}), audio_norm (clip), audio_dropout (0), audio_augment (false),
audio_augment_args ({}), fusion_steps (1500), fusion_args ({}), modality_dropout (0.3), cond_noise (0),
retrieval_alpha (0.5, for generate --retrieve), joint_modalities (conditions + label).
"""
from __future__ import annotations

import copy
import json
import math
import sys
import time
from pathlib import Path
from typing import Callable

import torch

from ..config import Config, ConfigError
from ..encoders.audio_augment import AudioAugment
from ..model_options import SharedOptions
from ..data.base import MemoryDataset
from ..runs import latest_checkpoint
from ..utils import use_bf16
from ..conditioning import Conditioner
from ..conditioning.multimodal import MultimodalConditioner
from ..conditioning.features import cache_root, prepared_column
from ..conditioning.joint import JointSpace
from ..conditioning.source import SourceConditioner, reads
from ..conditioning.voice import VOICE, VoiceConditioner, voice_table
from ..data.speech import with_speech
from .budget import Budget, needs_conditioner_fit
from .joint import JointOptions, encode_column, fit_fusion, fit_joint_space, hub_of, positive_groups
from .voice import VoiceOptions, fit_voice_encoder, load_voice_encoder


def joint_options(extra: dict, seed: int = 0) -> JointOptions:
    enc = {}
    if extra.get("text_encoder"):
        enc["text"] = {"name": extra["text_encoder"]}
    if extra.get("audio_encoder"):
        enc["audio"] = {"name": extra["audio_encoder"]}
    # written into the audio encoder's spec only when set, so a saved joint space of an older config is rebuilt as it was
    for key, arg in (("audio_norm", "norm"), ("audio_dropout", "dropout")):
        if key in extra:
            enc.setdefault("audio", {})[arg] = SharedOptions.value(extra, key)
    for m, spec in (extra.get("joint_encoders") or {}).items():   # e.g. {audio: {width: 64}}
        enc[m] = {**enc.get(m, {}), **spec}
    augment = None
    if SharedOptions.value(extra, "audio_augment"):
        try:
            augment = AudioAugment.from_dict(extra.get("audio_augment_args"), "model.extra.audio_augment_args")
        except ValueError as e:
            raise ConfigError(str(e)) from None
    elif extra.get("audio_augment_args"):
        raise ConfigError("model.extra.audio_augment_args is set but model.extra.audio_augment is not true: "
                          "set audio_augment: true to use them")
    lr, audio_lr, audio_batch = (SharedOptions.value(extra, k) for k in ("joint_lr", "joint_audio_lr", "joint_audio_batch"))
    for key, v in (("joint_lr", lr), ("joint_audio_lr", audio_lr)):
        if v is not None and not 0 < v < 1:
            raise ConfigError(f"model.extra.{key} must be in (0, 1), got {v}")
    if audio_batch is not None and audio_batch < 2:
        raise ConfigError(f"model.extra.joint_audio_batch must be >= 2 (a contrastive batch), got {audio_batch}")
    return JointOptions(dim=int(extra.get("joint_dim", 256)), minutes=float(extra.get("joint_minutes", 3.0)),
                        steps=int(extra.get("joint_steps", 1500)), audio_steps=int(extra.get("joint_audio_steps", 2000)),
                        batch_size=int(extra.get("joint_batch", 128)),
                        lr=lr, audio_lr=audio_lr, audio_batch_size=audio_batch, heads=str(extra.get("joint_heads", "linear")),
                        seed=seed, encoders=enc, audio_augment=augment,
                        positives=str(SharedOptions.value(extra, "joint_positives")))


def dataset_features(space: JointSpace, ds: MemoryDataset, modalities: list[str], keep_tokens: bool,
                     cache_dir=None, log: Callable[[str], None] = print) -> dict[str, dict[str, torch.Tensor]]:
    """Joint-space features of every item for each modality ({m: {"pooled", ["tokens", "mask"]}})."""
    out = {}
    for m in modalities:
        if m == "image":
            enc = space.encoders["image"]
            col = {"image": torch.cat([enc.prepare(ds.columns["image"][i : i + 4096])["image"]
                                       for i in range(0, len(ds), 4096)])}
        elif m == "label":
            col = {"labels": ds.columns["label"]}
        else:
            col = prepared_column(space.encoders[m], ds.columns[m], cache_dir, keep_tokens=keep_tokens, log=log)
        out[m] = encode_column(space, m, col, keep_tokens=keep_tokens)
    return out


def joint_bf16(cfg: Config) -> bool:
    """Whether the joint space trains under bf16 autocast: train.bf16 as the GAN reads it (auto: where the CPU
    runs bf16 natively, AVX512-BF16 or AMX; elsewhere bf16 is emulated and slower). The joint space trains on
    the CPU."""
    return use_bf16(cfg.train.bf16, "cpu")


def make_multimodal_conditioner(cfg: Config, ds: MemoryDataset, run_dir: str | Path, log: Callable[[str], None] | None = None,
                                fit: bool = True, budget: Budget | None = None) -> MultimodalConditioner:
    log = log or (lambda m: print(m, file=sys.stderr))
    run_dir = Path(run_dir)
    budget = budget or Budget.plan(cfg, run_dir)
    ex = cfg.model.extra
    mods = list(cfg.model.condition)
    for m in mods:
        col = "label" if m == "label" else m
        if not ds.has(col):
            raise ValueError(f"condition {m!r} needs a {col!r} column; dataset {ds.info.name!r} has {list(ds.columns)}")
    joint_dir = run_dir / "joint"
    if ex.get("joint"):
        space = JointSpace.from_pretrained(ex["joint"])
        log(f"joint space: {ex['joint']} ({space.id})")
    elif (joint_dir / "config.json").exists():
        space = JointSpace.from_pretrained(joint_dir)
        log(f"joint space: {joint_dir} ({space.id})")
    elif not fit:
        raise FileNotFoundError(f"{joint_dir}: no joint space to load; under torchrun rank 0 trains and saves it "
                                f"before the other ranks build their conditioner")
    else:
        # the conditions and the labels, once each (condition [label, text] already names the label)
        want = ex.get("joint_modalities") or list(dict.fromkeys(
            mods + (["label"] if ds.has("label") and ds.info.num_classes >= 2 else [])))
        hub = hub_of(ds)
        budget.begin("joint")
        opts = joint_options(ex, cfg.train.seed)
        opts.minutes = budget.minutes_for("joint")
        opts.bf16 = joint_bf16(cfg)
        log(f"training the joint space on {', '.join([hub] + [m for m in want if m != hub])}"
            f"{f' for at most {opts.minutes:.1f} min' if opts.minutes else ''} ...")
        space, report = fit_joint_space(ds, joint_dir, list(want), opts, log=log, progress=cfg.train.progress,
                                        deadline=(lambda: budget.deadline("joint")) if budget.timed else None)
        log(f"joint space saved to {joint_dir} ({space.id}) in {report['seconds']:.0f}s "
            f"({report['prepare_seconds']:.0f}s preparing features, cached for later runs)")
    space.requires_grad_(False)
    budget.begin("features")
    cond = MultimodalConditioner(mods, space.config, num_classes=cfg.model.num_classes, fusion=cfg.model.fusion,
                                 fusion_args=ex.get("fusion_args") or {}, dropout=float(ex.get("modality_dropout", 0.3)),
                                 retrieval_alpha=float(ex.get("retrieval_alpha", 0.5)),
                                 noise=float(ex.get("cond_noise", 0.0)))
    cond.joint.load_state_dict(space.state_dict())
    feats = dataset_features(cond.joint, ds, mods, cond.wants_tokens, log=log)
    if fit and latest_checkpoint(run_dir) is None:
        # the fusion lands on the paired item's embedding in the space's hub: the image, or the clip for sound data
        hub = cond.joint.hub
        target = dataset_features(cond.joint, ds, [hub], False, log=log)[hub]["pooled"]
        scale = float(space.logit_scale.exp().clamp(max=100))
        cond.fusion.requires_grad_(True)
        groups = positive_groups(ds, hub, str(SharedOptions.value(ex, "joint_positives")))
        rep = fit_fusion(cond.fusion, feats, target, groups, scale, steps=int(ex.get("fusion_steps", 1500)),
                         p_drop=cond.dropout, minutes=budget.minutes_for("features"), seed=cfg.train.seed, log=log)
        cond.fusion.requires_grad_(False)
        log(f"fusion {cfg.model.fusion!r} fitted: {json.dumps(rep)}")
    cond.attach_features(feats)
    return cond


def with_spoken_captions(ds: MemoryDataset, seed: int = 0, log: Callable[[str], None] = print) -> MemoryDataset:
    """A dataset with captions but no audio gets them spoken by espeak-ng (cached in .mmgan-cache/speech),
    so `mmgan train --data shapes --set condition=[text,audio]` works on the built-ins."""
    if ds.has("audio") or not ds.has("text"):
        return ds
    log(f"speaking {len(ds)} captions of {ds.info.name!r} with espeak-ng (cached in {cache_root() / 'speech'}) ...")
    return with_speech(ds, cache_root() / "speech", seed=seed)


def make_conditioner(cfg: Config, ds: MemoryDataset, run_dir: Path, fit: bool = True,
                     log: Callable[[str], None] | None = None, budget: Budget | None = None) -> Conditioner:
    """The conditioner a run trains with: a family that reads its source raw gets it prepared by the
    source's codec (conditioning.source); labels alone need no fitting; text, audio or image conditions
    bring the joint space and the fusion (make_multimodal_conditioner; fit=False loads what was fitted),
    within their share of `budget`."""
    mods = list(cfg.model.condition)
    if VOICE in mods:
        return make_voice_conditioner(cfg, ds, run_dir, fit, log, budget)
    if reads(cfg.model.family):
        return SourceConditioner.for_config(cfg, ds.info.class_names if "label" in mods else ())
    if needs_conditioner_fit(cfg):
        return make_multimodal_conditioner(cfg, ds, run_dir, log, fit=fit, budget=budget)
    return Conditioner(mods, cfg.model.num_classes)


def make_voice_conditioner(cfg: Config, ds: MemoryDataset, run_dir: Path, fit: bool = True,
                           log: Callable[[str], None] | None = None, budget: Budget | None = None) -> VoiceConditioner:
    """A voice condition: the other conditions' conditioner (make_conditioner without voice), then the speaker
    encoder (model.extra.voice_encoder, else RUN/voice when resuming, else fitted on the data's clips and
    speakers within its share of the budget), then every training clip's voice, from which training draws
    each row's reference (conditioning.voice)."""
    log = log or (lambda m: print(m, file=sys.stderr))
    run_dir = Path(run_dir)
    budget = budget or Budget.plan(cfg, run_dir)
    ex = cfg.model.extra
    inner_cfg = copy.deepcopy(cfg)
    inner_cfg.model.condition = [m for m in cfg.model.condition if m != VOICE]
    inner = make_conditioner(inner_cfg, ds, run_dir, fit=fit, log=log, budget=budget)
    voice_dir = run_dir / "voice"
    if ex.get("voice_encoder"):
        enc, enc_cfg = load_voice_encoder(ex["voice_encoder"])
        log(f"speaker encoder: {ex['voice_encoder']}")
    elif (voice_dir / "config.json").exists():
        enc, enc_cfg = load_voice_encoder(voice_dir)
        log(f"speaker encoder: {voice_dir}")
    elif not fit:
        raise FileNotFoundError(f"{voice_dir}: no speaker encoder to load; under torchrun rank 0 trains and saves "
                                f"it before the other ranks build their conditioner")
    else:
        budget.begin("voice")
        opts = VoiceOptions(dim=int(SharedOptions.value(ex, "voice_dim")), steps=int(SharedOptions.value(ex, "voice_steps")),
                            minutes=float(SharedOptions.value(ex, "voice_minutes")), seed=cfg.train.seed)
        deadline = budget.deadline("voice")
        limit = f" for at most {(deadline - time.time()) / 60:.1f} min" if math.isfinite(deadline) else ""
        log(f"training the speaker encoder on {len(ds)} clips of {len(set(ds.columns['speaker']))} speakers{limit} ...")
        enc, report = fit_voice_encoder(ds, voice_dir, opts, log=log, progress=cfg.train.progress,
                                        deadline=deadline if math.isfinite(deadline) else None)
        enc_cfg = opts.encoder_config()
        log(f"speaker encoder saved to {voice_dir}: held-out clips' speaker accuracy {report['held_out_accuracy']} "
            f"(chance {report['chance']:.3f}), {report['steps']} steps in {report['seconds']:.0f}s")
    cond = VoiceConditioner(cfg.model.condition, cfg.model.num_classes, inner=inner, encoder=enc_cfg,
                            dropout=float(SharedOptions.value(ex, "voice_dropout")), encoder_module=enc)
    feats = prepared_column(cond.encoder, ds.columns["audio"], log=log)
    cond.attach_voices(voice_table(cond.encoder, feats), ds.columns["speaker"])
    return cond
