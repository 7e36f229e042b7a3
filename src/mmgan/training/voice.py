"""fit_voice_encoder: the speaker encoder of a voice condition (mmgan.conditioning.voice), trained on
the run's own clips and saved to RUN/voice/ (config.json + model.safetensors).

    encoder, report = fit_voice_encoder(ds, run_dir / "voice", VoiceOptions(dim=128, minutes=1.5))

The encoder is audio-cnn over log-mels normalised per clip (one mean and std: the voice's spectral shape
and pitch stay, the level goes), trained as a d-vector: an additive-margin softmax over the training
speakers (AM-softmax, Wang et al. 2018: cosine logits, scale 16, margin 0.2) on its pooled output, so
that voices are compared by cosine, as the conditioner uses them, and unseen voices fall between
the ones it learned rather than onto them. A tenth of each speaker's clips is held out: the report
gives the held-out speaker accuracy (nearest speaker centroid by cosine) beside chance.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F

from ..conditioning.features import prepared_column, take
from ..conditioning.voice import speaker_groups, voice_table
from ..models.base import load_weights, save_json, save_weights
from ..registry import build
from ..utils import cosine_lr
from .progress import BudgetBar

SCALE, MARGIN = 16.0, 0.2
HELD_OUT = 0.1


@dataclass
class VoiceOptions:
    dim: int = 128
    width: int = 64
    minutes: float = 1.5
    steps: int = 800
    batch_size: int = 128
    lr: float = 2e-3
    seed: int = 0

    def encoder_config(self) -> dict:
        return {"name": "audio-cnn", "dim": self.dim, "width": self.width, "n_mels": 48, "hop_ms": 20.0,
                "max_seconds": 10.0, "norm": "clip"}


def load_voice_encoder(folder: str | Path):
    """(encoder, its config) from a folder fit_voice_encoder wrote."""
    folder = Path(folder)
    cfg_path = folder / "config.json"
    if not cfg_path.is_file():
        raise FileNotFoundError(f"{folder}: no speaker encoder here (config.json missing); a run with a voice "
                                f"condition writes one to RUN/voice")
    cfg = json.loads(cfg_path.read_text())["encoder"]
    enc = build("encoder", cfg["name"], **{k: v for k, v in cfg.items() if k != "name"})
    load_weights(enc, folder / "model.safetensors")
    return enc.eval(), cfg


def fit_voice_encoder(ds, out_dir: str | Path, opts: VoiceOptions, log: Callable[[str], None] = print,
                      progress: bool = True, deadline: float | None = None):
    """Train the speaker encoder on ds's audio and speaker columns; save it to out_dir. Returns
    (encoder, report) with the held-out speaker accuracy, the speakers, steps and seconds."""
    speakers = list(ds.columns["speaker"])
    sid, order, start, count, names = speaker_groups(speakers)
    if len(names) < 2:
        raise ValueError(f"a voice condition needs clips of at least 2 speakers to learn voices from; dataset "
                         f"{ds.info.name!r} has {len(names)} ({', '.join(names)})")
    cfg = opts.encoder_config()
    enc = build("encoder", cfg["name"], **{k: v for k, v in cfg.items() if k != "name"})
    t0 = time.time()
    feats = prepared_column(enc, ds.columns["audio"], keep_tokens=True, log=log)
    prep_s = time.time() - t0
    g = torch.Generator().manual_seed(opts.seed)
    held = torch.zeros(len(speakers), dtype=torch.bool)
    for s in range(len(names)):                        # a tenth of each speaker's clips (one of 3 to 19)
        rows = order[start[s]: start[s] + count[s]]
        k = max(1, int(len(rows) * HELD_OUT)) if len(rows) >= 3 else 0
        if k:
            held[rows[torch.randperm(len(rows), generator=g)[:k]]] = True
    train_idx = torch.nonzero(~held).flatten()
    head = torch.nn.Parameter(F.normalize(torch.randn(len(names), opts.dim, generator=g), dim=-1))
    optim = torch.optim.AdamW(list(enc.parameters()) + [head], lr=opts.lr, weight_decay=1e-4)
    enc.train()
    step, losses = 0, []
    bar = BudgetBar(opts.steps, (deadline - time.time()) if deadline else float("inf"), desc="speaker encoder",
                    enabled=progress)
    while step < opts.steps and (deadline is None or time.time() < deadline):
        for group in optim.param_groups:
            group["lr"] = cosine_lr(step, opts.steps, opts.lr, warmup=min(50, opts.steps // 10))
        idx = train_idx[torch.randint(len(train_idx), (min(opts.batch_size, len(train_idx)),), generator=g)]
        emb = F.normalize(enc(take(feats, idx)).pooled, dim=-1)
        cos = emb @ F.normalize(head, dim=-1).t()
        logits = SCALE * (cos - MARGIN * F.one_hot(sid[idx], len(names)))
        loss = F.cross_entropy(logits, sid[idx])
        optim.zero_grad(set_to_none=True)
        loss.backward()
        optim.step()
        losses.append(loss.item())
        step += 1
        bar.update(1)
        if step % 50 == 0:
            bar.set_postfix(loss=f"{sum(losses[-50:]) / 50:.3f}")
            if not progress:
                log(f"  speaker encoder step {step}: loss {sum(losses[-50:]) / 50:.3f}")
    bar.close()
    enc.eval().requires_grad_(False)
    acc = _held_out_accuracy(enc, feats, sid, held, len(names))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    save_weights(enc, out / "model.safetensors")
    report = {"speakers": len(names), "clips": len(speakers), "held_out_clips": int(held.sum()),
              "held_out_accuracy": acc, "chance": 1 / len(names), "steps": step,
              "final_loss": round(sum(losses[-50:]) / max(1, len(losses[-50:])), 4),
              "seconds": round(time.time() - t0, 1), "prepare_seconds": round(prep_s, 1)}
    save_json({"encoder": cfg, "speakers": names, "report": report}, out / "config.json")
    return enc, report


def _held_out_accuracy(enc, feats, sid: torch.Tensor, held: torch.Tensor, n_speakers: int) -> float | None:
    """Held-out clips given the speaker whose training clips' mean voice is nearest by cosine."""
    if not held.any():
        return None
    table = voice_table(enc, feats)
    centroids = torch.zeros(n_speakers, table.shape[1]).index_add_(0, sid[~held], table[~held])
    pred = (table[held] @ F.normalize(centroids, dim=-1).t()).argmax(1)
    return round(float((pred == sid[held]).float().mean()), 4)
