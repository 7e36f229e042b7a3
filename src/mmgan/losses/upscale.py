"""Phases "upscale": the step of the super-resolution families (mmgan.models.upscale).

Each batch of clean images becomes (LR, HR) pairs on the fly (mmgan.losses.paired, shared with the
restoration family): a random `patch`-pixel crop of each image is the HR target, `degrade(HR)`
(mmgan.data.degrade; bicubic, blur, noise, JPEG or Real-ESRGAN's second-order chain) its input.

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

from ..data.degrade import degrade, parse_kinds, random_crops  # noqa: F401 (random_crops: its old home)
from ..registry import register
from .paired import PairedPhases
from .phases import frozen


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


@register("phases", "upscale")
class UpscaleLoss(PairedPhases):
    name = "upscale"

    def __init__(self, G, D, cfg, z_dim, pack=1, autocast=None, features: nn.Module | None = None, **kw):
        if not getattr(G, "upscales", False):
            raise ValueError("phases 'upscale' need a super-resolution generator (model.family=srresnet or esrgan)")
        super().__init__(G, D, cfg, z_dim, pack, autocast=autocast, **kw)
        opts = getattr(G, "loss_options", {}) or {}
        self.adversarial = bool(opts.get("adversarial", False))
        self.pixel_weight = float(opts.get("pixel_weight", 1.0))
        self.perceptual_weight = float(opts.get("perceptual_weight", 0.0))
        self.adversarial_weight = float(opts.get("adversarial_weight", 5e-3))
        self.kinds = parse_kinds(opts.get("degrade", "bicubic"))
        self.perceptual = None
        if self.perceptual_weight > 0:
            if features is None:
                raise ValueError("esrgan's perceptual loss needs a feature network (the trainer builds one; "
                                 "set model.extra.perceptual_weight=0 to train without it)")
            self.perceptual = PerceptualLoss(features)

    def corrupt(self, hr: torch.Tensor) -> tuple[tuple, torch.Tensor]:
        return (degrade(hr, self.g.scale, self.kinds, self.gen),), hr

    def run(self, lr: torch.Tensor) -> torch.Tensor:
        return self.g.upscale(lr)

    def d_loss(self, inputs, hr, sr) -> dict[str, torch.Tensor]:
        logits = self.judge(torch.cat([hr, sr.detach()]))  # one pass: D has no batch-coupled layer
        r, f = logits.chunk(2)
        loss = relativistic_d(r, f)
        loss.backward()
        return {"loss/D": loss.detach(), "D/real": r.detach().mean(), "D/fake": f.detach().mean()}

    def g_loss(self, inputs, hr, sr) -> dict[str, torch.Tensor]:
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
