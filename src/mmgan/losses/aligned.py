"""The "aligned" phases: the matching-aware phases for a generator that aligns words to time (ttsgan).

D is the matching phases' (real-matched, fake and mismatched pairs; MA-GP when loss.ma_gp > 0). The G
step differs in one thing: G draws each sample with the timing of the real clip paired with its
condition (`G.timing_of(real)`: where its speech starts and how long it lasts), so loss.recon compares
words said at the same moments, and G's own duration loss (`G.aux_loss`: its predicted length against
the real one) is added. Fakes for D keep the timing G draws from z, as at generation time.
"""
from __future__ import annotations

import torch

from ..registry import register
from .matching import MatchingAwareLoss


@register("phases", "aligned")
class AlignedLoss(MatchingAwareLoss):
    EXTRA_OPTIONS = ("recon",)

    def __init__(self, G, D, cfg, z_dim: int, pack: int = 1, autocast=None, conditioner=None, **kw):
        super().__init__(G, D, cfg, z_dim, pack, autocast, conditioner, **kw)
        if not hasattr(G, "timing_of"):
            raise ValueError(f"loss.phases='aligned' needs a generator that aligns words to time (ttsgan); "
                             f"{type(G).__name__} has no timing: use loss.phases=matching")

    def paired_inputs(self, target: torch.Tensor) -> dict:
        return {"timing": self.G.timing_of(target)}

    def generator_terms(self) -> dict[str, torch.Tensor]:
        return {"length": self.G.aux_loss}
