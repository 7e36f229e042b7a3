"""Phases "progressive": the standard phases, with the generator and discriminator moved to the
stage and fade of the current step first (progressive growing). The networks resize their own
inputs and outputs, so the loop and the standard G/D/R1 logic stay unchanged."""
from __future__ import annotations

import torch

from ..registry import register
from .phases import GANLoss


@register("phases", "progressive")
class ProgressiveLoss(GANLoss):
    def __init__(self, G, D, cfg, z_dim, pack=1, autocast=None, **kw):
        super().__init__(G, D, cfg, z_dim, pack, autocast=autocast, **kw)
        self.nets = [m for m in (G, D) if hasattr(m, "set_step")]
        if not self.nets:
            raise ValueError("phases 'progressive' need a progressive model (model.family=progressive)")

    def accumulate(self, phase, real, c, labels, step, **cond_kw):
        for net in self.nets:
            net.set_step(step)
        stats = super().accumulate(phase, real, c, labels, step, **cond_kw)
        if phase == "G":
            net = self.nets[0]
            stats["progress/resolution"] = torch.tensor(float(net.current_resolution))
            stats["progress/alpha"] = net.alpha.detach().clone()
        return stats
