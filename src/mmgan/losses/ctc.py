"""Phases "ctc": the recogniser's step (mmgan.models.recognizer), CTC loss on perturbed speech.

Each batch pairs clips (cond_kw["source"]: (b, samples) waveforms at 16 kHz, zero-padded, from the
source conditioner, mmgan.conditioning.source) with their transcripts as token ids (`real`, (b, T): the
text codec's characters, EOS, PAD). CTC's targets are the ids before EOS; its blank is PAD (0).
  G:  raw log-mels of the clips (G.features) -> AudioAugment (speed, pitch, room, gain, noise, then
      the model's normalization, then SpecAugment; mmgan.encoders.audio_augment) -> G.encode ->
      CTC loss (blank 0, mean over the batch of per-clip losses divided by transcript length;
      an impossible alignment, more labels than frames, counts as zero instead of infinity)
  D:  nothing (the family has no discriminator).
Augmentation settings come from the generator's `loss_options` (model.extra.augment; {"off": true}: none).
Statistics: loss/G (the CTC loss) and G/cer (greedy character error rate on the batch, before the update).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..encoders.audio_augment import AudioAugment
from ..modalities.text import EOS, PAD
from ..models.recognizer import trimmed_lengths
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
        return self.g_main(source.float(), None, real)

    def features(self, waves: torch.Tensor, lengths: torch.Tensor | None, train: bool = True) -> dict:
        raw = self.G.features(waves, lengths)
        if train and self.speech_augment is not None:
            return self.speech_augment(raw, self.G.normalize, self.G.sample_rate, self.G.hop_ms, g=self.gen)
        return self.G.normalize(raw)

    def g_main(self, waves: torch.Tensor, lengths: torch.Tensor | None, tokens: torch.Tensor) -> dict[str, torch.Tensor]:
        """waves (b, samples), lengths (b,) samples (None: up to the last non-zero sample), tokens (b, T)
        ids (characters, EOS, PAD) -> one CTC step's gradients."""
        targets = torch.where(tokens > EOS, tokens, PAD).long()             # characters only (UNK kept)
        target_lengths = (targets != PAD).sum(1)
        if bool((target_lengths == 0).any()):
            raise ValueError("phases 'ctc': a clip with an empty transcript reached the step (bad rows are "
                             "dropped when the data is read)")
        if lengths is None:
            lengths = trimmed_lengths(waves)
        waves = waves[:, :max(1, int(lengths.max()))]                     # the padding past the longest clip: time only
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
            hyp = [k for i, k in enumerate(path) if k != PAD and (i == 0 or k != path[i - 1])]
            ref = [k for k in t.tolist() if k != PAD]
            edits, chars = edits + edit_distance(hyp, ref), chars + len(ref)
        return edits / max(1, chars)
