"""Restoration: family `restorer`, one model for inpainting, denoising and JPEG artefact removal.

Generator (DeepFill v2's gated convolutions, Yu et al. 2019): every layer is a GatedConv2d, whose
features pass through a learned soft gate per pixel and channel, so the network learns by itself
which pixels are valid (a plain conv treats the zeros in a hole as data; partial convs use a hard
rule). Input: the damaged image with its holes zeroed and the mask (1 = hole) as one more channel;
for denoising and JPEG alone the mask channel is all zeros. Layout (b batch, c channels, w g_width):

    (b, c + 1, h, w) -> gated 5x5 w -> gated 3x3 /2 2w -> gated 2w -> gated 3x3 /2 4w
      -> gated 4w at each of `dilations` (2, 4, 8: a wide view to fill big holes) -> gated 4w
      -> x2 nearest, gated 2w (+ the /2 encoder features) -> gated 2w
      -> x2 nearest, gated w (+ the full-size encoder features) -> gated w/2 -> conv c
    out = damaged + that (zero at init: the model starts as the identity)

One stage, not DeepFill's coarse-to-fine pair, and no contextual attention (small images, CPU
budgets); additive encoder skips (U-Net) keep fine detail for denoising, which DeepFill did not need.
Any size: inputs are padded to a multiple of 4 (reflect) and cropped back. A model trained on holes
only (degrade=mask) pastes the known pixels back, so only the hole changes.

Discriminator: SN-PatchGAN (DeepFill v2): 5x5 stride-2 spectral-norm convs on (image, mask) down to
4 px or less; every element of the last feature map is one hinge-loss output (a dense patch GAN).

Training (phases "restore", mmgan.losses.restore): random `patch`-pixel crops of clean images, damaged
on the fly by mmgan.data.degrade.damage (noise, JPEG, free-form or box holes: `degrade`). G: L1 x
l1_weight (hole pixels count hole_weight times) + hinge GAN x adversarial_weight; D: hinge.

Inference: `G.restore(damaged, mask)` (any size; the Pipeline tiles big images); G(z) without an image
returns a preview of stored examples: [damaged, restored, original] per example.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..config import ModelConfig
from ..data.degrade import apply_mask, damage, parse_restore_kinds, seeded
from ..data.masks import MASK_KINDS
from ..model_options import Options, option
from ..registry import register
from .base import ConfigModule
from .examples import ExampleSlots

MULTIPLE = 4              # two stride-2 stages


@dataclass(frozen=True)
class RestoreOptions(Options):
    degrade: str = option("noise,jpeg,mask", "what the model learns to undo: a comma list of noise, jpeg, mask "
                          "(each training image gets a random non-empty subset; mmgan.data.degrade.damage)")
    masks: str = option("strokes,boxes", "hole shapes for degrade=mask: strokes (DeepFill v2's free-form), boxes")
    dilations: list = option([2, 4, 8], "dilation of each gated conv in the bottleneck (wider = bigger holes)")
    patch: int = option(0, "side of the training crops (0 = the image side, at most 64; a multiple of 4)")
    examples: int = option(8, "stored clean crops that G(z) previews")
    l1_weight: float = option(1.0, "weight of the L1 reconstruction loss")
    hole_weight: float = option(1.0, "weight of hole pixels in the L1 loss relative to the others (1: DeepFill v2's plain L1; "
                                "Liu et al. 2018 use 6, which cost denoising and inpainting PSNR at CPU budgets here)")
    adversarial_weight: float = option(0.01, "weight of the SN-PatchGAN hinge loss for G (DeepFill v2 uses 1 over "
                                       "long runs; small keeps PSNR high at CPU budgets; 0 = L1 only, D rests)")


class GatedConv2d(nn.Module):
    """DeepFill v2's gated convolution: ELU(conv_f(x)) * sigmoid(conv_g(x)), one conv for both halves."""

    def __init__(self, cin: int, cout: int, k: int = 3, stride: int = 1, dilation: int = 1):
        super().__init__()
        self.conv = nn.Conv2d(cin, 2 * cout, k, stride, dilation * (k - 1) // 2, dilation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f, g = self.conv(x).chunk(2, 1)
        return F.elu(f) * torch.sigmoid(g)


class Restorer(ConfigModule, ExampleSlots):
    phases = "restore"         # the step logic the trainer uses
    restores = True            # the Pipeline passes images (and masks) to restore() (tiled)
    bf16_auto = False          # pixel accuracy is the point: float32 unless bf16 is asked for

    def __init__(self, channels: int, width: int = 32, dilations: tuple = (2, 4, 8), patch: int = 32,
                 degrade: str = "noise,jpeg,mask", masks: str = "strokes,boxes", examples: int = 8):
        super().__init__(channels=channels, width=width, dilations=list(dilations), patch=patch, degrade=degrade,
                         masks=masks, examples=examples)
        if patch % MULTIPLE:
            raise ValueError(f"restorer: the training patch ({patch} px) must be a multiple of {MULTIPLE}")
        self.channels, self.patch = channels, patch
        self.kinds = parse_restore_kinds(degrade)
        self.mask_kinds = tuple(k.strip() for k in masks.split(",") if k.strip())
        if not self.mask_kinds or any(k not in MASK_KINDS for k in self.mask_kinds):
            raise ValueError(f"restorer: model.extra.masks={masks!r}; valid: a comma list of {', '.join(MASK_KINDS)}")
        self.fills_holes = "mask" in self.kinds
        self.keep_known = self.kinds == ("mask",)        # holes only: the known pixels are exact already
        w = width
        self.enc0 = GatedConv2d(channels + 1, w, 5)
        self.enc1 = nn.Sequential(GatedConv2d(w, 2 * w, 3, 2), GatedConv2d(2 * w, 2 * w))
        self.enc2 = GatedConv2d(2 * w, 4 * w, 3, 2)
        self.mid = nn.Sequential(*(GatedConv2d(4 * w, 4 * w, 3, dilation=int(d)) for d in dilations),
                                 GatedConv2d(4 * w, 4 * w))
        self.dec1 = nn.ModuleList([GatedConv2d(4 * w, 2 * w), GatedConv2d(2 * w, 2 * w)])
        self.dec0 = nn.ModuleList([GatedConv2d(2 * w, w), GatedConv2d(w, max(1, w // 2))])
        self.out = nn.Conv2d(max(1, w // 2), channels, 3, 1, 1)
        nn.init.zeros_(self.out.weight)                   # start as the identity (holes: mid-grey)
        nn.init.zeros_(self.out.bias)
        self.make_slots(examples, channels, patch, "examples_clean")

    @property
    def receptive_radius(self) -> int:
        """Input pixels of context each output pixel sees on each side (an upper bound, a multiple of 4):
        tiles need this much margin for tiled inference to equal whole-image inference."""
        r = 2 + 1 + 2 + 2                                       # enc0, enc1 (stride 2 then at /2), enc2
        r += 4 * sum(int(d) for d in self.config["dilations"]) + 4   # the bottleneck at /4
        r += 2 + 2 + 1 + 1 + 1 + 2 * MULTIPLE                    # decoder, output conv, upsampling and padding slack
        return -(-r // MULTIPLE) * MULTIPLE

    def restore(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Damaged images (b, c, h, w) in [-1, 1] and masks (b, 1, h, w), 1 = hole (None: no holes) ->
        restored (b, c, h, w); not clamped (the loss sees the raw output)."""
        b, _, h, w = x.shape
        mask = torch.zeros(b, 1, h, w, device=x.device, dtype=x.dtype) if mask is None else mask.to(x.dtype)
        x = apply_mask(x, mask)
        ph, pw = -h % MULTIPLE, -w % MULTIPLE
        inp = torch.cat([x, mask], 1)
        if ph or pw:
            inp = F.pad(inp, (0, pw, 0, ph), mode="reflect" if min(h, w) > max(ph, pw) else "replicate")
        f0 = self.enc0(inp)                                   # (b, w, H, W)
        f1 = self.enc1(f0)                                    # (b, 2w, H/2, W/2)
        y = self.mid(self.enc2(f1))                           # (b, 4w, H/4, W/4)
        y = self.dec1[0](F.interpolate(y, scale_factor=2, mode="nearest")) + f1
        y = self.dec1[1](y)
        y = self.dec0[0](F.interpolate(y, scale_factor=2, mode="nearest")) + f0
        y = self.out(self.dec0[1](y))[:, :, :h, :w]
        out = x + y
        return mask * out + (1 - mask) * x if self.keep_known else out

    def damaged_examples(self, k: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """k stored examples, damaged the same way every time (seed 0): (damaged, mask, clean)."""
        clean = self.cycled_examples(k)
        damaged, mask = damage(clean.cpu(), self.kinds, seeded(0), self.mask_kinds)
        return damaged.to(clean.device), mask.to(clean.device), clean

    def preview(self, b: int) -> torch.Tensor:
        """b images: [damaged, restored, original] for the stored examples (cycled)."""
        k = -(-b // 3)
        damaged, mask, clean = self.damaged_examples(k)
        out = torch.stack([damaged, self.restore(damaged, mask).clamp(-1, 1), clean], dim=1)
        return out.reshape(3 * k, *clean.shape[1:])[:b]

    def forward(self, z: torch.Tensor | None = None, c: torch.Tensor | None = None, image: torch.Tensor | None = None,
                mask: torch.Tensor | None = None, **_) -> torch.Tensor:
        if image is not None:
            return self.restore(image, mask)
        if z is None:
            raise ValueError("restorer: pass image= (damaged images, and mask= for holes) or z (a preview)")
        return self.preview(z.shape[0])


class PatchDiscriminator(ConfigModule):
    """SN-PatchGAN: (b, c + 1, h, w) image and mask -> (b, n) logits, one per element of the last map."""

    def __init__(self, channels: int, resolution: int, width: int = 32, layers: int = 6):
        super().__init__(channels=channels, resolution=resolution, width=width, layers=layers)
        sn = nn.utils.spectral_norm
        mods: list[nn.Module] = []
        ch, size, i = channels + 1, resolution, 0
        while i == 0 or (size > 4 and i < layers):
            nxt = width * min(2 ** i, 4)
            mods += [sn(nn.Conv2d(ch, nxt, 5, 2, 2)), nn.LeakyReLU(0.2, True)]
            ch, size, i = nxt, (size + 1) // 2, i + 1
        self.net = nn.Sequential(*mods[:-1])             # the last map's elements are the outputs

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None):
        return self.net(x).flatten(1), None              # (b, n), no aux head


def patch_size(cfg: ModelConfig, o: RestoreOptions) -> int:
    if o.patch:
        return o.patch
    side = min(int(cfg.resolution) or 64, 64)
    return max(MULTIPLE, side // MULTIPLE * MULTIPLE)


@register("model", "restorer", options=RestoreOptions)
def build_restorer(cfg: ModelConfig, with_discriminator: bool = True):
    """Inpainting + denoising + JPEG artefact removal: gated-conv generator, SN-PatchGAN discriminator."""
    if cfg.pack > 1:
        raise ValueError("restorer does not support model.pack > 1")
    o = RestoreOptions.read(cfg.extra)
    if cfg.resolution and o.patch > cfg.resolution:
        raise ValueError(f"restorer: model.extra.patch={o.patch} is larger than the training images "
                         f"({cfg.resolution} px)")
    p = patch_size(cfg, o)
    g = Restorer(cfg.channels, cfg.g_width, tuple(o.dilations), p, o.degrade, o.masks, o.examples)
    g.loss_options = {"l1_weight": o.l1_weight, "hole_weight": o.hole_weight,
                      "adversarial_weight": o.adversarial_weight}
    if not with_discriminator:
        return g, None
    return g, PatchDiscriminator(cfg.channels, p, cfg.d_width)
