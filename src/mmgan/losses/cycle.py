"""Phases "cycle": the CycleGAN step (Zhu et al. 2017) for a generator holding both directions
(g_ab, g_ba) and a discriminator holding both PatchGANs (d_a, d_b) and the image pools.

A batch from a two-domain dataset is split by its domain label (0 = A, 1 = B):
  D:  per domain, the objective (LSGAN in the preset) on every patch: reals vs pooled past fakes
  G:  adversarial (fool d_b with g_ab(A), d_a with g_ba(B))
      + cycle_weight * (|g_ba(g_ab(A)) - A|_1 + |g_ab(g_ba(B)) - B|_1)
      + cycle_weight * identity_weight * (|g_ab(B) - B|_1 + |g_ba(A) - A|_1)
  Dreg: R1 on both discriminators' reals when loss.r1_gamma > 0.
Weights come from the generator's `loss_options` (model.extra cycle_weight, identity_weight).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .. import distributed as dist
from ..registry import register
from .phases import GANLoss, frozen


@register("phases", "cycle")
class CycleLoss(GANLoss):
    def __init__(self, G, D, cfg, z_dim, pack=1, autocast=None, **kw):
        super().__init__(G, D, cfg, z_dim, pack, autocast=autocast, **kw)
        self.g, self.d = G, D
        if not (hasattr(self.g, "g_ab") and hasattr(self.d, "d_a")):
            raise ValueError("phases 'cycle' need a two-direction model (model.family=cyclegan)")
        if self.obj.gradient_penalty:
            raise ValueError("cyclegan does not support loss.name=wgan-gp; use lsgan (the paper's) or hinge/ns")
        opts = getattr(self.g, "loss_options", {}) or {}
        self.cycle_weight = float(opts.get("cycle_weight", 10.0))
        self.identity_weight = float(opts.get("identity_weight", 0.5))

    @staticmethod
    def split(real: torch.Tensor, labels: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        if labels is None:
            raise ValueError("cyclegan trains on two domains labelled 0 (A) and 1 (B): use a domain dataset "
                             "(e.g. data.name=shapes-palette) with model.condition=[label]")
        labels = labels.to(real.device)
        return real[labels == 0], real[labels == 1]

    def accumulate(self, phase, real, c, labels, step, **cond_kw):
        a, b = self.split(real, labels)
        if not self.g.examples_full:
            self.g.remember_examples(a, b)
            dist.broadcast_state(self.g, buffers_only=True)   # under torchrun: rank 0's examples everywhere
        if phase == "D":
            return self.d_main(a, b)
        if phase == "Dreg":
            return self.d_reg_cycle(a, b)
        if phase == "G":
            return self.g_main(a, b)
        raise ValueError(f"unknown phase {phase!r}")

    def wants_reg(self, step: int) -> bool:
        return self.cfg.r1_gamma > 0 and step % max(1, self.cfg.r1_every) == 0

    def patch(self, x: torch.Tensor, domain: str) -> torch.Tensor:
        with self.autocast():
            return self.d.patch(self.augment(x), domain).float().flatten()

    def d_main(self, a, b) -> dict[str, torch.Tensor]:
        with torch.no_grad(), self.autocast():
            fake_b = self.g.g_ab(a).float() if len(a) else a
            fake_a = self.g.g_ba(b).float() if len(b) else b
        total, stats = torch.zeros((), device=a.device), {}
        for dom, real, fake in (("a", a, fake_a), ("b", b, fake_b)):
            if len(real) == 0 or len(fake) == 0:
                continue
            r, f = self.patch(real, dom), self.patch(self.d.pool(fake, dom), dom)
            loss = 0.5 * self.obj.d_loss(r, f)
            total = total + loss
            stats[f"loss/D_{dom}"] = loss.detach()
            stats[f"D/real_{dom}"], stats[f"D/fake_{dom}"] = r.detach().mean(), f.detach().mean()
        if total.requires_grad:
            total.backward()
        stats["loss/D"] = total.detach()
        return stats

    def d_reg_cycle(self, a, b) -> dict[str, torch.Tensor]:
        total = torch.zeros((), device=a.device)
        r1s = []
        for dom, real in (("a", a), ("b", b)):
            if len(real) == 0:
                continue
            x = real.detach().requires_grad_(True)
            (g,) = torch.autograd.grad(self.patch(x, dom).sum(), x, create_graph=True)
            r1 = g.flatten(1).pow(2).sum(1).mean()
            total = total + 0.5 * self.cfg.r1_gamma * max(1, self.cfg.r1_every) * r1
            r1s.append(r1.detach())
        if total.requires_grad:
            total.backward()
        return {"reg/r1": torch.stack(r1s).mean()} if r1s else {}

    def g_main(self, a, b) -> dict[str, torch.Tensor]:
        g = self.g
        adv, cyc, idt = (torch.zeros((), device=a.device) for _ in range(3))
        with self.autocast(), frozen(self.D):             # no gradient for D's weights in the G step
            for x, forward, back, judge in ((a, g.g_ab, g.g_ba, "b"), (b, g.g_ba, g.g_ab, "a")):
                if not len(x):
                    continue
                fake = forward(x)                                  # translated into the other domain
                adv = adv + self.obj.g_loss(self.patch(fake, judge))
                cyc = cyc + F.l1_loss(back(fake).float(), x)       # and back
                if self.identity_weight > 0:
                    idt = idt + F.l1_loss(back(x).float(), x)      # a domain's own images pass unchanged
        total = adv + self.cycle_weight * cyc + self.cycle_weight * self.identity_weight * idt
        total.backward()
        return {"loss/G": adv.detach(), "loss/G_cycle": cyc.detach(), "loss/G_identity": idt.detach()}
