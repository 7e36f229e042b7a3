"""PairedPhases: the shared step of the families that learn a mapping from damaged to clean images
(super-resolution: phases "upscale"; restoration: phases "restore").

Each batch of clean images becomes (input, target) pairs on the fly: a random `G.patch`-pixel crop of
each image (and a random horizontal flip; mmgan.data.degrade.random_crops) is the target, and the
subclass's `corrupt(target)` makes the generator's inputs from it (a downsampling, noise, JPEG, a
hole...). The corruptions draw from the phases' own generator, seeded from the run's seed, so a run is
repeatable. The D phase makes the pair, fills the generator's preview slots from it and (for an
adversarial family) trains D; the G phase reuses the pair and the D phase's generator output (one G
forward a step).

A subclass supplies: corrupt(target) -> (inputs tuple, target), run(*inputs) -> G's output,
d_loss(inputs, target, output) and g_loss(inputs, target, output) (each returns its stats and calls
backward itself).
"""
from __future__ import annotations

import torch

from .. import distributed as dist
from ..data.degrade import random_crops
from .phases import GANLoss


class PairedPhases(GANLoss):
    name = "paired"                      # the phases' name in error messages

    def __init__(self, G, D, cfg, z_dim, pack=1, autocast=None, **kw):
        super().__init__(G, D, cfg, z_dim, pack, autocast=autocast, **kw)
        self.g, self.d = G, D
        if cfg.r1_gamma > 0 or cfg.mode_seeking > 0 or cfg.n_critic != 1:
            raise ValueError(f"phases {self.name!r} take no loss.r1_gamma, loss.mode_seeking or loss.n_critic "
                             f"other than 1")
        self.adversarial = True
        # the corruptions' own random stream, drawn from the run's seeded global RNG
        self.gen = torch.Generator().manual_seed(int(torch.randint(0, 2 ** 31 - 1, ())))
        self._pair: tuple[tuple, torch.Tensor] | None = None
        self._kept: torch.Tensor | None = None

    # ---- what a subclass supplies ----------------------------------------------------------------
    def corrupt(self, target: torch.Tensor) -> tuple[tuple, torch.Tensor]:
        raise NotImplementedError

    def run(self, *inputs: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def d_loss(self, inputs: tuple, target: torch.Tensor, out: torch.Tensor) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def g_loss(self, inputs: tuple, target: torch.Tensor, out: torch.Tensor) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    # ---- the shared step -------------------------------------------------------------------------------
    def pairs(self, real: torch.Tensor) -> tuple[tuple, torch.Tensor]:
        """Clean images (b, c, H, W) -> (the generator's inputs, the (b, c, p, p) targets) on real's device."""
        target = random_crops(real.detach().cpu(), self.g.patch, self.gen)
        inputs, target = self.corrupt(target)
        return tuple(t.to(real.device) for t in inputs), target.to(real.device)

    def forward_g(self, inputs: tuple) -> torch.Tensor:
        with self.autocast():
            return self.run(*inputs).float()

    def judge(self, x: torch.Tensor, *extra: torch.Tensor) -> torch.Tensor:
        with self.autocast():
            return self.d(x, *extra)[0].float()

    def wants_reg(self, step: int) -> bool:
        return False

    def accumulate(self, phase, real, c, labels, step, **cond_kw):
        self.step = step
        if phase == "D":
            inputs, target = self._pair = self.pairs(real)
            if not self.g.examples_full:
                self.g.remember_examples(target)
                dist.broadcast_state(self.g, buffers_only=True)      # under torchrun: rank 0's examples everywhere
            if not self.adversarial:
                return {}
            out = self._kept = self.forward_g(inputs)    # with its graph: the G phase backpropagates into it
            return self.d_loss(inputs, target, out)
        if phase == "G":
            pair, self._pair = self._pair, None
            inputs, target = pair if pair is not None else self.pairs(real)
            out, self._kept = (self._kept if self._kept is not None else self.forward_g(inputs)), None
            return self.g_loss(inputs, target, out)
        raise ValueError(f"unknown phase {phase!r}")
