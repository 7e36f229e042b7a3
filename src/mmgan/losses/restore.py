"""Phases "restore": the step of the restoration family (mmgan.models.restore).

Pairs are made on the fly like super-resolution's (mmgan.losses.paired): random `patch`-pixel crops
of the clean images are the targets, `damage(target)` (mmgan.data.degrade: noise, JPEG, free-form or
box holes) with its mask the generator's inputs.

    D:  hinge (SN-PatchGAN, DeepFill v2): mean relu(1 - D(clean, m)) + mean relu(1 + D(restored, m)),
        every element of D's output map one patch's verdict
    G:  l1_weight * mean(|G(damaged, m) - clean| * (1 + (hole_weight - 1) m))
        + adversarial_weight * -mean D(restored, m)
        (hole pixels weigh hole_weight times the others: Liu et al. 2018's L_valid + 6 L_hole)
With adversarial_weight 0 the discriminator rests (an L1-only model).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..data.degrade import damage
from ..registry import register
from .paired import PairedPhases
from .phases import frozen


@register("phases", "restore")
class RestoreLoss(PairedPhases):
    name = "restore"

    def __init__(self, G, D, cfg, z_dim, pack=1, autocast=None, **kw):
        if not getattr(G, "restores", False):
            raise ValueError("phases 'restore' need a restoration generator (model.family=restorer)")
        super().__init__(G, D, cfg, z_dim, pack, autocast=autocast, **kw)
        opts = getattr(G, "loss_options", {}) or {}
        self.l1_weight = float(opts.get("l1_weight", 1.0))
        self.hole_weight = float(opts.get("hole_weight", 1.0))
        self.adversarial_weight = float(opts.get("adversarial_weight", 0.01))
        self.adversarial = self.adversarial_weight > 0

    def corrupt(self, clean: torch.Tensor) -> tuple[tuple, torch.Tensor]:
        damaged, mask = damage(clean, self.g.kinds, self.gen, self.g.mask_kinds)
        return (damaged, mask), clean

    def run(self, damaged: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.g.restore(damaged, mask)

    def d_loss(self, inputs, clean, out) -> dict[str, torch.Tensor]:
        mask = inputs[1]
        logits = self.judge(torch.cat([torch.cat([clean, mask], 1), torch.cat([out.detach(), mask], 1)]))
        r, f = logits.chunk(2)
        loss = F.relu(1 - r).mean() + F.relu(1 + f).mean()
        loss.backward()
        return {"loss/D": loss.detach(), "D/real": r.detach().mean(), "D/fake": f.detach().mean()}

    def g_loss(self, inputs, clean, out) -> dict[str, torch.Tensor]:
        mask = inputs[1]
        l1 = ((out - clean).abs() * (1 + (self.hole_weight - 1) * mask)).mean()
        total, stats = self.l1_weight * l1, {"loss/G_l1": l1.detach()}
        if self.adversarial:
            with frozen(self.D):                            # no gradient for D's weights in the G step
                adv = -self.judge(torch.cat([out, mask], 1)).mean()
            total = total + self.adversarial_weight * adv
            stats["loss/G"] = adv.detach()
        total.backward()
        return stats
