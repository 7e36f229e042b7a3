"""Phases "stylegan2": the standard phases plus StyleGAN2's lazy path-length regularization.

Every `pl_every` steps the G phase adds pl_weight * pl_every * (|J_w^T y| - a)^2, where y is an
image-space random direction scaled by 1/sqrt(h*w), J_w the Jacobian of the image with respect to
the per-layer styles, and a the running mean of the lengths (kept in the generator's `pl_mean`
buffer, so it is saved with the weights and resumes exactly). Weights come from the generator's
`loss_options` (model.extra pl_weight, pl_every); with pl_weight 0 these are the standard phases.
"""
from __future__ import annotations

import math

import torch

from .. import distributed as dist
from ..registry import register
from .phases import GANLoss


@register("phases", "stylegan2")
class PathLengthLoss(GANLoss):
    pl_decay = 0.01

    def __init__(self, G, D, cfg, z_dim, pack=1, autocast=None, **kw):
        super().__init__(G, D, cfg, z_dim, pack, autocast=autocast, **kw)
        self.net = G
        opts = getattr(self.net, "loss_options", {}) or {}
        self.pl_weight = float(opts.get("pl_weight", 0.0))
        self.pl_every = max(1, int(opts.get("pl_every", 4)))
        if self.pl_weight > 0 and not (hasattr(self.net, "ws") and hasattr(self.net, "synthesis")):
            raise ValueError("path-length regularization needs a style-based generator (ws + synthesis); "
                             "set model.extra.pl_weight=0")

    def accumulate(self, phase, real, c, labels, step, **cond_kw):
        stats = super().accumulate(phase, real, c, labels, step, **cond_kw)
        if phase == "G" and self.pl_weight > 0 and step % self.pl_every == 0:
            stats.update(self.path_length(real.shape[0], real.device, c))
        return stats

    def path_length(self, n: int, device, c) -> dict[str, torch.Tensor]:
        b = max(1, n // 2)                               # StyleGAN2 uses half the batch
        with self.autocast():
            ws = self.net.ws(self.z(b, device), c[:b] if c is not None else None)
            img = self.net.synthesis(ws).float()
        y = torch.randn_like(img) / math.sqrt(img.shape[2] * img.shape[3])
        (g,) = torch.autograd.grad((img * y).sum(), ws, create_graph=True)
        lengths = g.float().square().sum(2).mean(1).sqrt()      # (b,)
        with torch.no_grad():
            self.net.pl_mean.lerp_(dist.mean(lengths.mean()), self.pl_decay)   # global batch under torchrun
        penalty = (lengths - self.net.pl_mean).square().mean()
        (penalty * self.pl_weight * self.pl_every).backward()
        return {"reg/pl": penalty.detach(), "reg/pl_mean": self.net.pl_mean.detach().clone()}
