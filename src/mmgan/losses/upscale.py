"""Phases "upscale": the step of the super-resolution families (mmgan.models.upscale).

Each batch of clean images becomes (LR, HR) pairs on the fly: a random `patch`-pixel crop of each
image (and a random horizontal flip) is the HR target, `degrade(HR)` (mmgan.data.degrade; bicubic,
blur, noise, JPEG or Real-ESRGAN's second-order chain) its input. The degradations draw from the
phases' own generator, seeded from the run's seed, so a run is repeatable.

  srresnet (G.loss_options["adversarial"] false): the PSNR model
    D:  nothing (the discriminator rests)
    G:  pixel_weight * |G(LR) - HR|_1
  esrgan: the GAN twin (Wang et al. 2018), relativistic average discriminator (Jolicoeur-Martineau 2018)
    D:  BCE(D(HR) - mean D(SR), 1) + BCE(D(SR) - mean D(HR), 0), halved
    G:  pixel_weight * L1 + perceptual_weight * |phi(SR) - phi(HR)|_1
        + adversarial_weight * (BCE(D(HR) - mean D(SR), 0) + BCE(D(SR) - mean D(HR), 1)) / 2
    phi: the conv features (before activation) of the in-project feature network the trainer hands in
    (`features=`, mmgan.training.pretrained): VGG weights cannot be fetched here.
The G phase reuses the D phase's batch and its super-resolved images (one G forward a step).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .. import distributed as dist
from ..data.degrade import degrade, parse_kinds
from ..registry import register
from .phases import GANLoss, frozen


def relativistic_d(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """RaGAN's D loss: reals more real than the average fake, fakes less real than the average real."""
    ones, zeros = torch.ones_like(real), torch.zeros_like(fake)
    return 0.5 * (F.binary_cross_entropy_with_logits(real - fake.mean(), ones)
                  + F.binary_cross_entropy_with_logits(fake - real.mean(), zeros))


def relativistic_g(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """RaGAN's G loss: the symmetric counterpart (G gains from both terms; reals detached by the caller)."""
    ones, zeros = torch.ones_like(real), torch.zeros_like(fake)
    return 0.5 * (F.binary_cross_entropy_with_logits(real - fake.mean(), zeros)
                  + F.binary_cross_entropy_with_logits(fake - real.mean(), ones))


class PerceptualLoss(nn.Module):
    """Mean |phi(x) - phi(y)| in a frozen feature extractor phi: images (b, c, h, w) -> feature maps."""

    def __init__(self, phi: nn.Module):
        super().__init__()
        self.phi = phi.eval()
        for p in self.phi.parameters():
            p.requires_grad_(False)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            target = self.phi(y)
        return (self.phi(x) - target).abs().mean()


def random_crops(x: torch.Tensor, patch: int, gen: torch.Generator) -> torch.Tensor:
    """One random patch x patch crop per image, each flipped left-right with probability 1/2."""
    b, _, h, w = x.shape
    if patch > h or patch > w:
        raise ValueError(f"upscale: the training images ({h}x{w}) are smaller than the HR patch ({patch} px); "
                         f"set model.extra.patch or data.resolution")
    top = torch.randint(0, h - patch + 1, (b,), generator=gen).tolist()
    left = torch.randint(0, w - patch + 1, (b,), generator=gen).tolist()
    flip = (torch.rand(b, generator=gen) < 0.5).tolist()
    crops = [x[i, :, t:t + patch, l:l + patch] for i, (t, l) in enumerate(zip(top, left))]
    return torch.stack([c.flip(-1) if f else c for c, f in zip(crops, flip)]).float().contiguous()


@register("phases", "upscale")
class UpscaleLoss(GANLoss):
    def __init__(self, G, D, cfg, z_dim, pack=1, autocast=None, features: nn.Module | None = None, **kw):
        super().__init__(G, D, cfg, z_dim, pack, autocast=autocast, **kw)
        self.g, self.d = G, D
        if not getattr(G, "upscales", False):
            raise ValueError("phases 'upscale' need a super-resolution generator (model.family=srresnet or esrgan)")
        opts = getattr(G, "loss_options", {}) or {}
        self.adversarial = bool(opts.get("adversarial", False))
        self.pixel_weight = float(opts.get("pixel_weight", 1.0))
        self.perceptual_weight = float(opts.get("perceptual_weight", 0.0))
        self.adversarial_weight = float(opts.get("adversarial_weight", 5e-3))
        self.kinds = parse_kinds(opts.get("degrade", "bicubic"))
        if cfg.r1_gamma > 0 or cfg.mode_seeking > 0 or cfg.n_critic != 1:
            raise ValueError("phases 'upscale' take no loss.r1_gamma, loss.mode_seeking or loss.n_critic other than 1")
        self.perceptual = None
        if self.perceptual_weight > 0:
            if features is None:
                raise ValueError("esrgan's perceptual loss needs a feature network (the trainer builds one; "
                                 "set model.extra.perceptual_weight=0 to train without it)")
            self.perceptual = PerceptualLoss(features)
        # the degradations' own random stream, drawn from the run's seeded global RNG
        self.gen = torch.Generator().manual_seed(int(torch.randint(0, 2 ** 31 - 1, ())))
        self._pair: tuple[torch.Tensor, torch.Tensor] | None = None
        self._kept: torch.Tensor | None = None

    def pairs(self, real: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Clean images (b, c, H, W) -> (LR (b, c, p / s, p / s), HR (b, c, p, p)) on real's device."""
        hr = random_crops(real.detach().cpu(), self.g.patch, self.gen)
        lr = degrade(hr, self.g.scale, self.kinds, self.gen)
        return lr.to(real.device), hr.to(real.device)

    def wants_reg(self, step: int) -> bool:
        return False

    def accumulate(self, phase, real, c, labels, step, **cond_kw):
        self.step = step
        if phase == "D":
            lr, hr = self._pair = self.pairs(real)
            if not self.g.examples_full:
                self.g.remember_examples(hr)
                dist.broadcast_state(self.g, buffers_only=True)      # under torchrun: rank 0's examples everywhere
            return self.d_main(lr, hr) if self.adversarial else {}
        if phase == "G":
            pair, self._pair = self._pair, None
            lr, hr = pair if pair is not None else self.pairs(real)
            return self.g_main(lr, hr)
        raise ValueError(f"unknown phase {phase!r}")

    def sr(self, lr: torch.Tensor) -> torch.Tensor:
        with self.autocast():
            return self.g.upscale(lr).float()

    def judge(self, x: torch.Tensor) -> torch.Tensor:
        with self.autocast():
            return self.d(x)[0].float()

    def d_main(self, lr: torch.Tensor, hr: torch.Tensor) -> dict[str, torch.Tensor]:
        sr = self.sr(lr)                                   # with its graph: the G phase backpropagates into it
        self._kept = sr
        logits = self.judge(torch.cat([hr, sr.detach()]))  # one pass: D has no batch-coupled layer
        r, f = logits.chunk(2)
        loss = relativistic_d(r, f)
        loss.backward()
        return {"loss/D": loss.detach(), "D/real": r.detach().mean(), "D/fake": f.detach().mean()}

    def g_main(self, lr: torch.Tensor, hr: torch.Tensor) -> dict[str, torch.Tensor]:
        sr, self._kept = (self._kept if self._kept is not None else self.sr(lr)), None
        pixel = (sr - hr).abs().mean()
        total, stats = self.pixel_weight * pixel, {"loss/G_pixel": pixel.detach()}
        if self.perceptual is not None:
            perc = self.perceptual(sr, hr)
            total = total + self.perceptual_weight * perc
            stats["loss/G_perceptual"] = perc.detach()
        if self.adversarial:
            with frozen(self.D):                            # no gradient for D's weights in the G step
                r, f = self.judge(torch.cat([hr, sr])).chunk(2)
            adv = relativistic_g(r.detach(), f)
            total = total + self.adversarial_weight * adv
            stats["loss/G"] = adv.detach()
        total.backward()
        return stats
