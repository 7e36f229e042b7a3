"""Phases "ctc": the recogniser's step (mmgan.models.recognizer), CTC loss on perturbed speech.

Each batch pairs clips (the source column: file paths, Sounds or (b, samples) waveforms at 16 kHz) with
their transcripts as token ids ((b, L) int64, 0-padded: the target in the generator's units).
  G:  raw log-mels of the clips (G.features) -> AudioAugment (speed, pitch, room, gain, noise, then
      the model's normalization, then SpecAugment; mmgan.encoders.audio_augment) -> G.encode ->
      CTC loss (blank 0, mean over the batch of per-clip losses divided by transcript length;
      an impossible alignment, more labels than frames, counts as zero instead of infinity)
  D:  nothing (the family has no discriminator).
Augmentation settings come from the generator's `loss_options` (model.extra.augment; {"off": true}: none).
Statistics: loss/G (the CTC loss) and G/cer (greedy character error rate on the batch, before the update).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..encoders.audio_augment import AudioAugment
from ..modalities.sound import read_wave
from ..registry import register
from .phases import GANLoss


def edit_distance(a: list, b: list) -> int:
    """Levenshtein distance between two sequences (insertions, deletions, substitutions cost 1)."""
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


class ClipCache:
    """Clips by path, read once (mono, resampled to the model's rate) and kept as 16-bit samples."""

    def __init__(self, sample_rate: int):
        self.sample_rate, self.clips = sample_rate, {}

    def wave(self, item: Any) -> np.ndarray:
        if isinstance(item, (str, Path)):
            key = str(item)
            if key not in self.clips:
                x = read_wave(key, self.sample_rate)
                self.clips[key] = (np.clip(x, -1, 1) * 32767).astype(np.int16)
            return self.clips[key].astype(np.float32) / 32767
        if isinstance(item, tuple) and len(item) == 2:                 # a Sound: (waveform, rate)
            if int(item[1]) != self.sample_rate:
                raise ValueError(f"clips must be at {self.sample_rate} Hz, got {item[1]} Hz")
            item = item[0]
        return np.asarray(item.detach().cpu() if torch.is_tensor(item) else item, np.float32).reshape(-1)

    def batch(self, items: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """Clips -> ((b, samples) zero-padded waveforms, (b,) lengths)."""
        if torch.is_tensor(items) and items.dim() == 2:
            return items.float(), torch.full((items.shape[0],), items.shape[1])
        waves = [self.wave(it) for it in items]
        n = max(len(w) for w in waves)
        out = torch.zeros(len(waves), n)
        for i, w in enumerate(waves):
            out[i, :len(w)] = torch.from_numpy(w)
        return out, torch.tensor([len(w) for w in waves])


def augmenter(opts: dict | None) -> AudioAugment | None:
    opts = dict(opts or {})
    if opts.pop("off", False):
        return None
    return AudioAugment.from_dict(opts, where="model.extra.augment")


@register("phases", "ctc")
class CTCLoss(GANLoss):
    def __init__(self, G, D, cfg, z_dim, pack=1, autocast=None, **kw):
        super().__init__(G, D, cfg, z_dim, pack, autocast=autocast, **kw)
        if not getattr(G, "transcribes", False):
            raise ValueError("phases 'ctc' need a speech recogniser (model.family=recognizer)")
        self.speech_augment = augmenter((getattr(G, "loss_options", {}) or {}).get("augment"))
        self.clips = ClipCache(G.sample_rate)
        self.gen = torch.Generator().manual_seed(20240)

    def wants_reg(self, step: int) -> bool:
        return False

    def accumulate(self, phase, real, c, labels, step, source=None, **_):
        self.step = step
        if phase == "D":
            return {}
        if phase != "G":
            raise ValueError(f"unknown phase {phase!r}")
        if source is None:
            raise ValueError("phases 'ctc' need the clips of the batch (source=...) beside their transcripts")
        waves, lengths = self.clips.batch(source)
        return self.g_main(waves.to(real.device), lengths.to(real.device), real)

    def features(self, waves: torch.Tensor, lengths: torch.Tensor, train: bool = True) -> dict:
        raw = self.G.features(waves, lengths)
        if train and self.speech_augment is not None:
            return self.speech_augment(raw, self.G.normalize, self.G.sample_rate, self.G.hop_ms, g=self.gen)
        return self.G.normalize(raw)

    def g_main(self, waves: torch.Tensor, lengths: torch.Tensor, targets: torch.Tensor) -> dict[str, torch.Tensor]:
        """waves (b, samples), lengths (b,), targets (b, L) token ids 0-padded -> one CTC step's gradients."""
        targets = targets.long()
        target_lengths = (targets != 0).sum(1)
        if bool((target_lengths == 0).any()):
            raise ValueError("phases 'ctc': a clip with an empty transcript reached the step (bad rows are "
                             "dropped when the data is read)")
        with self.autocast():
            log_probs, out_lengths = self.G.encode(self.features(waves, lengths))
        log_probs = log_probs.float()
        loss = F.ctc_loss(log_probs.transpose(0, 1), targets, out_lengths, target_lengths, blank=0,
                          reduction="mean", zero_infinity=True)
        loss.backward()
        return {"loss/G": loss.detach(), "G/cer": torch.tensor(self.cer(log_probs.detach(), out_lengths, targets))}

    @staticmethod
    def cer(log_probs: torch.Tensor, lengths: torch.Tensor, targets: torch.Tensor) -> float:
        """Greedy character error rate of a batch (edits / reference characters)."""
        best = log_probs.argmax(-1).cpu()
        edits = chars = 0
        for b, n, t in zip(best, lengths.tolist(), targets.cpu()):
            path = b[:n].tolist()
            hyp = [k for i, k in enumerate(path) if k != 0 and (i == 0 or k != path[i - 1])]
            ref = [k for k in t.tolist() if k != 0]
            edits, chars = edits + edit_distance(hyp, ref), chars + len(ref)
        return edits / max(1, chars)
