"""VoiceConditioner: speak in the voice of a reference clip (model.condition with `voice`).

A voice is what a speaker encoder hears in a clip whatever is said: a d-vector (Variani et al. 2014, the
speaker encoder of SV2TTS, Jia et al. 2018): an audio encoder (audio-cnn over per-clip normalised log-mels)
trained on the run's own clips to tell their speakers apart (training.voice.fit_voice_encoder); its
pooled output, L2-normalised, is the voice. It carries over to voices never heard in training, as a
d-vector does, because it was trained to separate many voices rather than to name a few.

The condition vector is [the other conditions' vector, the voice (dim)]: labels as one-hot, text or
speech as the multimodal conditioner fuses them (`inner`), so a voice joins any condition set:
    model.condition=[label, voice]   ->  cond = conditioner(labels=[7], voice=["ref.wav"])
    model.condition=[text, voice]    ->  cond = conditioner(text=["seven"], voice=["ref.wav"])
Training: each row's voice is the embedding of *another* clip of the same speaker (the dataset's
`speaker` column), drawn afresh every step, so the generator learns to take the voice from a reference
that says something else, as at generation. With probability `dropout` the voice is all zeros: the
same model then speaks in a voice of its own choosing when no reference is given. With loss.mismatch,
D also sees real clips under another row's voice (mismatched) as fakes, so it must check the voice.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..fusion.base import Cond
from ..registry import build
from .base import Conditioner, build_conditioner, register_conditioner
from .features import take

VOICE = "voice"


def speaker_groups(speakers: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, list[str]]:
    """(sid, order, start, count, names): each row's speaker id, the row indices sorted by speaker, where
    each speaker's rows begin in `order` and how many there are (both indexed by speaker id), and the
    speaker names by id."""
    names = sorted(set(speakers))
    ids = {name: i for i, name in enumerate(names)}
    sid = torch.tensor([ids[s] for s in speakers], dtype=torch.long)
    order = torch.argsort(sid, stable=True)
    count = torch.bincount(sid, minlength=len(names))
    start = torch.cumsum(count, 0) - count
    return sid, order, start, count, names


def other_clip_of_speaker(idx: torch.Tensor, sid: torch.Tensor, order: torch.Tensor, start: torch.Tensor,
                          count: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """For each row in idx, a random other row of the same speaker (the row itself when it is the
    speaker's only clip)."""
    s = sid[idx]
    c = count[s]
    r = (torch.rand(len(idx), generator=generator) * (c - 1).clamp_min(1)).long().clamp_max((c - 2).clamp_min(0))
    pick = order[start[s] + r]
    last = order[start[s] + c - 1]
    return torch.where(pick == idx, last, pick)       # r < c - 1 never lands on the last: it stands in for idx


@torch.no_grad()
def voice_table(enc: nn.Module, feats: dict[str, torch.Tensor], chunk: int = 512) -> torch.Tensor:
    """(n, dim) unit voice vectors of clips the speaker encoder prepared (enc.prepare), in chunks, on the
    encoder's device."""
    dev = next(enc.parameters()).device
    n = len(next(iter(feats.values())))
    return torch.cat([F.normalize(enc(take(feats, torch.arange(i, min(n, i + chunk)), dev)).pooled.float(), dim=-1)
                      for i in range(0, n, chunk)]) if n else torch.zeros(0, enc.dim, device=dev)


@register_conditioner
class VoiceConditioner(Conditioner):
    kind = "voice"

    def __init__(self, modalities: Sequence[str], num_classes: int = 0, inner: dict | Conditioner | None = None,
                 encoder: dict | None = None, dropout: float = 0.1, encoder_module: nn.Module | None = None):
        """inner: the other conditions' conditioner, or its saved config; encoder: the speaker encoder's config,
        and encoder_module the encoder itself when it is already built (training), else it is built from it."""
        mods = list(modalities)
        if VOICE not in mods:
            raise ValueError(f"a voice conditioner needs 'voice' among its conditions, got {mods}")
        if not encoder or "name" not in encoder:
            raise ValueError("a voice conditioner needs its speaker encoder's config ({'name': ..., options})")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"model.extra.voice_dropout must be in [0, 1), got {dropout!r}")
        super().__init__([m for m in mods if m == "label"], num_classes)
        self.modalities = mods
        self.inner = inner if isinstance(inner, Conditioner) else build_conditioner(
            inner or {"kind": "label", "modalities": [m for m in mods if m == "label"], "num_classes": num_classes})
        self.encoder_config = dict(encoder)
        self.encoder = encoder_module if encoder_module is not None else build(
            "encoder", encoder["name"], **{k: v for k, v in encoder.items() if k != "name"})
        self.encoder.requires_grad_(False)
        self.dropout = float(dropout)
        self._table: torch.Tensor | None = None          # (n, dim) voice of every training clip
        self._groups: tuple | None = None                # (sid, order, start, count)

    @property
    def voice_dim(self) -> int:
        return int(self.encoder.dim)

    @property
    def cond_dim(self) -> int:
        return self.inner.cond_dim + self.voice_dim

    @property
    def config(self) -> dict:
        return {"kind": self.kind, "modalities": self.modalities, "num_classes": self.num_classes,
                "inner": self.inner.config, "encoder": self.encoder_config, "dropout": self.dropout}

    # ---- voices ---------------------------------------------------------------------------------------
    @torch.no_grad()
    def embed(self, clips: Sequence[Any]) -> torch.Tensor:
        """Clips (paths, Sounds, 1-D arrays at the encoder's rate) -> (n, dim) unit voice vectors."""
        return voice_table(self.encoder, self.encoder.prepare(list(clips)))

    def attach_voices(self, table: torch.Tensor, speakers: Sequence[str]) -> None:
        """The training clips' voices (n, dim) and who speaks each: from_batch draws references from them."""
        if len(table) != len(speakers):
            raise ValueError(f"{len(table)} voices for {len(speakers)} speakers")
        sid, order, start, count, _ = speaker_groups(list(speakers))
        self._table, self._groups = table.float(), (sid, order, start, count)

    def _with_voice(self, cond: Cond, voice: torch.Tensor) -> Cond:
        vec = voice if cond.vec is None else torch.cat([cond.vec, voice.to(cond.vec.dtype)], -1)
        return Cond(vec=vec, tokens=cond.tokens, mask=cond.mask, labels=cond.labels, source=cond.source)

    def _inner(self, **inputs: Any) -> Cond:
        return self.inner(**inputs) if self.inner.modalities else Cond()

    # ---- the Conditioner interface ----------------------------------------------------------------
    def forward(self, voice: Any = None, **inputs: Any) -> Cond:
        """voice: one reference clip per sample (None: no reference, the voice the model picks itself)."""
        cond = self._inner(**inputs)
        n = len(voice) if voice is not None else _batch_size(cond, inputs)
        if voice is None:
            v = torch.zeros(n, self.voice_dim)
        else:
            v = self.embed(voice)
        dev = cond.vec.device if cond.vec is not None else next(self.encoder.parameters()).device
        return self._with_voice(cond, v.to(dev))

    def from_batch(self, batch: dict, device: torch.device) -> Cond:
        cond = self.inner.from_batch(batch, device) if self.inner.modalities else Cond()
        if self._table is None or "index" not in batch:
            if "speaker" not in batch or "audio" not in batch:
                raise ValueError("a voice condition in training needs the clips' voices (attach_voices) or the "
                                 "batch's audio")
            return self._with_voice(cond, self.embed(batch["audio"]).to(device))
        idx = batch["index"].cpu()
        sid, order, start, count = self._groups
        ref = other_clip_of_speaker(idx, sid, order, start, count) if self.training else idx
        v = self._table[ref]
        if self.training and self.dropout > 0:
            v = v * (torch.rand(len(v), 1) >= self.dropout).float()
        return self._with_voice(cond, v.to(device))

    def mismatched(self, vec: torch.Tensor) -> torch.Tensor:
        """Condition vectors for loss.mismatch, rolled by one row: odd rows take the next row's voice and keep
        their own other conditions (D learns that a right digit in the wrong voice is not real), even rows take
        the next row's whole condition (D keeps checking the digit too)."""
        k = self.inner.cond_dim
        rolled = vec.roll(1, 0)
        voice_only = torch.cat([vec[:, :k], rolled[:, k:]], 1)
        odd = (torch.arange(len(vec), device=vec.device) % 2 == 1).unsqueeze(1)
        return torch.where(odd, voice_only, rolled)

    def expand(self, n: int, **inputs: Any) -> dict[str, Any]:
        voice = inputs.pop("voice", None)
        inputs = self.inner.expand(n, **inputs)
        if voice is None:
            return inputs
        voice = [voice] if isinstance(voice, (str, Path)) or hasattr(voice, "waveform") else list(voice)
        if len(voice) == 1:
            voice = voice * n
        if len(voice) != n:
            raise ValueError(f"got {len(voice)} voice clips for {n} samples; give one clip or one per sample")
        return {**inputs, "voice": voice}

    def samples(self, n: int, inputs: dict) -> int:
        return self.inner.samples(n, {k: v for k, v in inputs.items() if k != "voice"})

    def sample_inputs(self, ds: Any, n: int) -> dict[str, Any]:
        """The training sample grid: the inner conditions' grid (a label per row of 8), each column in the
        voice of another speaker (the first clip of each of the data's first 8 speakers)."""
        if hasattr(self.inner, "sample_inputs"):
            inputs = self.inner.sample_inputs(ds, n)
        elif "label" in self.modalities:
            inputs = {"labels": torch.arange(n) // 8 % max(1, self.num_classes)}
        else:
            inputs = {}
        firsts: dict[str, Any] = {}
        for clip, who in zip(ds.columns["audio"], ds.columns["speaker"]):
            if who not in firsts:
                firsts[who] = clip
            if len(firsts) == 8:
                break
        refs = list(firsts.values())
        return {**inputs, "voice": [refs[i % 8 % len(refs)] for i in range(n)]}


def _batch_size(cond: Cond, inputs: dict) -> int:
    if cond.vec is not None:
        return len(cond.vec)
    for v in inputs.values():
        if v is not None and hasattr(v, "__len__"):
            return len(v)
    return 1
