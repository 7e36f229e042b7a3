"""Super-resolution: `srresnet` (the PSNR model, pixel L1 loss) and `esrgan` (its GAN twin).

Both families build the same generator, so a GAN run can start from a PSNR run (ESRGAN's recipe:
model.extra.init_from) and the two can be blended weight by weight (network interpolation,
`mmgan interpolate PSNR_RUN GAN_RUN --alpha 0.8`). Layout (Ledig et al. 2017; Wang et al. 2018),
no batch norm anywhere (it brings artefacts and ties a pixel to its batch):

    LR (b, c, h, w) -> conv 3x3 -> body -> conv 3x3 (+ head: long skip) -> log2(scale) x [nearest x2,
    conv, LeakyReLU] -> conv, LeakyReLU, conv -> (b, c, h s, w s)  (+ bicubic(LR) when extra.skip)

  body "rrdb"  residual-in-residual dense blocks (ESRGAN): 3 dense blocks of 5 convs each (growth
               channels, LeakyReLU 0.2), residuals scaled by 0.2
  body "res"   SRResNet's residual blocks (conv, ReLU, conv), without their batch norm (as in EDSR)

extra.skip adds the bicubic upsampling of the input, so the network learns only the missing detail:
at a few minutes on a CPU this is what lets a small model beat bicubic at once (ESRGAN has no such
skip; turn it off for the paper's network).

Training (phases "upscale", mmgan.losses.upscale): each batch of clean images gives random
`patch`-pixel HR crops and their LR inputs made on the fly by `degrade` (mmgan.data.degrade).
srresnet: pixel L1 only (its discriminator is built but never trained). esrgan: L1 x pixel_weight +
perceptual (the in-project feature network's conv features, L1) x perceptual_weight + relativistic
average GAN x adversarial_weight (ESRGAN's 1e-2 / 1 / 5e-3).

Inference: `G.upscale(lr)` (any size; the Pipeline tiles big images); G(z) without an image returns a
preview of stored examples: [bicubic, model, original] per example.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..config import ModelConfig
from ..data.degrade import bicubic_down, bicubic_up, parse_kinds
from ..model_options import Options, option
from ..registry import register
from .base import ConfigModule
from .examples import ExampleSlots

SCALES = (2, 3, 4, 8)


@dataclass(frozen=True)
class UpscaleOptions(Options):
    scale: int = option(4, "upscaling factor: 2, 3, 4 or 8")
    body: str = option("rrdb", "generator body: rrdb (ESRGAN's dense blocks) or res (SRResNet's residual blocks)",
                       choices=("rrdb", "res"))
    blocks: int = option(3, "blocks of the body")
    growth: int = option(16, "rrdb: growth channels of each dense block")
    skip: bool = option(True, "add the bicubic upsampling of the input (the network learns the residual)")
    patch: int = option(0, "side of the HR training crops (0 = the image side, at most 64; a multiple of scale)")
    degrade: str = option("bicubic", "how LR inputs are made: a comma list of bicubic, blur, noise, jpeg, or "
                          "second-order (mmgan.data.degrade)")
    examples: int = option(8, "stored HR crops that G(z) previews")
    pixel_weight: float = option(None, "weight of the pixel L1 loss (unset: 1 for srresnet, ESRGAN's 1e-2 for esrgan)")
    perceptual_weight: float = option(1.0, "esrgan: weight of the perceptual loss in the in-project features")
    adversarial_weight: float = option(5e-3, "esrgan: weight of the relativistic average GAN loss")
    init_from: str = option("", "a run whose generator G starts from (esrgan: the PSNR run, same generator options)")


def make_layer(block, n: int) -> nn.Sequential:
    return nn.Sequential(*[block() for _ in range(n)])


class DenseBlock(nn.Module):
    """Five 3x3 convs, each seeing the input and every earlier output; residual scaled by 0.2."""

    def __init__(self, ch: int, growth: int):
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv2d(ch + i * growth, growth if i < 4 else ch, 3, 1, 1) for i in range(5))
        for conv in self.convs:                          # ESRGAN: small init keeps the deep residual stack stable
            nn.init.kaiming_normal_(conv.weight, a=0.2)
            conv.weight.data.mul_(0.1)
            nn.init.zeros_(conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = [x]
        for i, conv in enumerate(self.convs):
            y = conv(torch.cat(feats, 1))
            if i < 4:
                feats.append(F.leaky_relu(y, 0.2))
        return x + 0.2 * y


class RRDB(nn.Module):
    def __init__(self, ch: int, growth: int):
        super().__init__()
        self.blocks = nn.Sequential(*(DenseBlock(ch, growth) for _ in range(3)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + 0.2 * self.blocks(x)


class ResBlock(nn.Module):
    def __init__(self, ch: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(ch, ch, 3, 1, 1), nn.ReLU(True), nn.Conv2d(ch, ch, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class SRGenerator(ConfigModule, ExampleSlots):
    phases = "upscale"           # the step logic the trainer uses
    upscales = True              # the Pipeline passes images to upscale() (tiled)
    bf16_auto = False            # pixel accuracy is the point: float32 unless bf16 is asked for

    def __init__(self, channels: int, scale: int = 4, width: int = 32, blocks: int = 3, body: str = "rrdb",
                 growth: int = 16, skip: bool = True, patch: int = 32, examples: int = 8):
        super().__init__(channels=channels, scale=scale, width=width, blocks=blocks, body=body, growth=growth,
                         skip=skip, patch=patch, examples=examples)
        if scale not in SCALES:
            raise ValueError(f"upscale: model.extra.scale must be one of {SCALES}, got {scale}")
        if body not in ("rrdb", "res"):
            raise ValueError(f"upscale: model.extra.body must be rrdb or res, got {body!r}")
        if patch % scale:
            raise ValueError(f"upscale: the HR patch ({patch} px) must be a multiple of the scale ({scale})")
        self.channels, self.scale, self.skip, self.patch = channels, scale, skip, patch
        self.head = nn.Conv2d(channels, width, 3, 1, 1)
        block = (lambda: RRDB(width, growth)) if body == "rrdb" else (lambda: ResBlock(width))
        self.body = make_layer(block, blocks)
        self.body_end = nn.Conv2d(width, width, 3, 1, 1)
        steps = [2] * int(math.log2(scale)) if scale != 3 else [3]
        self.factors = steps
        self.ups = nn.ModuleList(nn.Conv2d(width, width, 3, 1, 1) for _ in steps)
        self.tail = nn.Sequential(nn.Conv2d(width, width, 3, 1, 1), nn.LeakyReLU(0.2, True),
                                  nn.Conv2d(width, channels, 3, 1, 1))
        if skip:                                   # start as the bicubic baseline exactly
            nn.init.zeros_(self.tail[-1].weight)
            nn.init.zeros_(self.tail[-1].bias)
        self.make_slots(examples, channels, patch, "examples_hr")

    @property
    def receptive_radius(self) -> int:
        """LR pixels of context each output pixel sees on each side (an upper bound): tiles need this
        much margin for tiled inference to equal whole-image inference."""
        per_block = 15 if self.config["body"] == "rrdb" else 2
        return 1 + self.config["blocks"] * per_block + 1 + len(self.factors) + 2

    def upscale(self, x: torch.Tensor) -> torch.Tensor:
        """LR (b, c, h, w) in [-1, 1] -> (b, c, h s, w s); not clamped (the loss sees the raw output)."""
        feat = self.head(x)
        feat = feat + self.body_end(self.body(feat))
        for f, conv in zip(self.factors, self.ups):
            feat = F.leaky_relu(conv(F.interpolate(feat, scale_factor=f, mode="nearest")), 0.2)
        out = self.tail(feat)
        return out + bicubic_up(x, self.scale) if self.skip else out

    def preview(self, b: int) -> torch.Tensor:
        """b images: [bicubic, model, original] for the stored examples (cycled), at the HR size."""
        k = -(-b // 3)
        hr = self.cycled_examples(k)
        lr = bicubic_down(hr, self.scale)
        out = torch.stack([bicubic_up(lr, self.scale), self.upscale(lr).clamp(-1, 1), hr], dim=1)
        return out.reshape(3 * k, *hr.shape[1:])[:b]

    def forward(self, z: torch.Tensor | None = None, c: torch.Tensor | None = None, image: torch.Tensor | None = None,
                **_) -> torch.Tensor:
        if image is not None:
            return self.upscale(image)
        if z is None:
            raise ValueError("upscale: pass image= (LR images) or z (a preview of stored examples)")
        return self.preview(z.shape[0])


class SRDiscriminator(ConfigModule):
    """A VGG-style judge of HR patches without batch norm: conv, then stride-2 convs (width doubling,
    at most 8x) down to 4 px or less, a 1-channel conv and the mean: one logit per image."""

    def __init__(self, channels: int, resolution: int, width: int = 32, spectral_norm: bool = False, cond_dim: int = 0):
        super().__init__(channels=channels, resolution=resolution, width=width, spectral_norm=spectral_norm,
                         cond_dim=cond_dim)
        sn = nn.utils.spectral_norm if spectral_norm else (lambda m: m)
        layers: list[nn.Module] = [sn(nn.Conv2d(channels, width, 3, 1, 1)), nn.LeakyReLU(0.2, True)]
        ch, size, i = width, resolution, 0
        while size > 4:
            nxt = width * min(2 ** (i + 1), 8)
            layers += [sn(nn.Conv2d(ch, nxt, 4, 2, 1)), nn.LeakyReLU(0.2, True)]
            ch, size, i = nxt, size // 2, i + 1
        layers.append(sn(nn.Conv2d(ch, 1, 3, 1, 1)))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None):
        return self.net(x).flatten(1).mean(1), None                     # (b,), no aux head


def patch_size(cfg: ModelConfig, o: UpscaleOptions) -> int:
    if o.patch:
        return o.patch
    side = min(int(cfg.resolution) or 64, 64)
    return max(o.scale, side // o.scale * o.scale)


def _build(cfg: ModelConfig, with_discriminator: bool, adversarial: bool, family: str):
    if cfg.pack > 1:
        raise ValueError(f"{family} does not support model.pack > 1")
    o = UpscaleOptions.read(cfg.extra)
    parse_kinds(o.degrade)                                 # fail at build time on a bad spec
    if cfg.resolution and o.patch > cfg.resolution:
        raise ValueError(f"{family}: model.extra.patch={o.patch} is larger than the training images "
                         f"({cfg.resolution} px)")
    p = patch_size(cfg, o)
    g = SRGenerator(cfg.channels, o.scale, cfg.g_width, o.blocks, o.body, o.growth, o.skip, p, o.examples)
    pixel = o.pixel_weight if o.pixel_weight is not None else (1e-2 if adversarial else 1.0)
    g.loss_options = {"adversarial": adversarial, "pixel_weight": pixel, "degrade": o.degrade,
                      "perceptual_weight": o.perceptual_weight if adversarial else 0.0,
                      "adversarial_weight": o.adversarial_weight}
    g.wants_features = adversarial and o.perceptual_weight > 0     # the trainer hands the phases a feature network
    g.init_from = o.init_from
    if not with_discriminator:
        return g, None
    return g, SRDiscriminator(cfg.channels, p, cfg.d_width, cfg.spectral_norm, cfg.cond_dim)


@register("model", "srresnet", options=UpscaleOptions)
def build_srresnet(cfg: ModelConfig, with_discriminator: bool = True):
    """The PSNR model: pixel L1 loss; its discriminator is built (the trainer wants one) but never trained."""
    return _build(cfg, with_discriminator, adversarial=False, family="srresnet")


@register("model", "esrgan", options=UpscaleOptions)
def build_esrgan(cfg: ModelConfig, with_discriminator: bool = True):
    """The GAN twin: L1 + perceptual + relativistic average GAN, started from a PSNR run (extra.init_from)."""
    return _build(cfg, with_discriminator, adversarial=True, family="esrgan")
