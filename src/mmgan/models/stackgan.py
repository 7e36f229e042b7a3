"""Multi-stage text-to-image GAN in the StackGAN++ / AttnGAN style (Zhang et al. 2017/2018, Xu et al. 2018).

G refines a low-resolution image into higher ones in `stages` steps (64 px with 3 stages: 16, 32, 64):
  stage 0   conditioning augmentation (CA: c -> N(mu, sigma) -> c_hat), [z, c, c_hat] -> fc -> s0 x s0
            map -> up-blocks to the first stage's size
  stage i   word-level attention (each pixel attends to the word tokens, AttnGAN; residual, a no-op
            at init), its own CA, a residual block and an up-block, both modulated by [z, c, c_hat_i]
The blocks are DF-GAN's (mmgan.models.dfgan.UpBlock: FiLM from the condition in every block, which
sees the sentence vector as DF-GAN's do), which is what lets a small multi-stage model learn in a few
hundred steps; the original StackGAN concatenated c_hat planes once per stage. Each stage has its own ToRGB; G(z, c, tokens=...,
token_mask=...) returns the last image and G(..., return_stages=True) all of them. Without tokens
(label conditions) the condition vector is the single "word". The KL term of every CA is kept in
`G.kl` for the phases.

D holds one discriminator per stage (mmgan.models.dfgan.DFDiscriminator at the stage's size: residual
down-blocks, then a joint head that judges the (image, condition) pair).
D(x, c) with one image judges its downsampled pyramid and D(list, c) G's stage outputs, returning the
mean over stages, or one logit per stage with per_stage=True. Phases "multistage" (mmgan.losses.multistage) give
every stage its own matching-aware loss and add the CA's KL.

Options (model.extra): stages (3), ca_dim (64), kl_weight (1.0), mismatch_weight (1.0; 0 = off),
attn_heads (4), g_norm ("batch" or "none", as dfgan), cond_proj (64).
Widths: g_width channels at the output resolution, doubling per level down to s0 (capped at 8x);
each stage discriminator has d_width channels at its input.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn as nn

from ..config import ModelConfig
from ..model_options import Options, option
from ..registry import register
from .base import ConfigModule
from .dcgan import plan
from .dfgan import CrossAttention2d, DFDiscriminator, UpBlock, to_rgb, widths
from .style_layers import resize_to


@dataclass(frozen=True)
class StackGANOptions(Options):
    phases: ClassVar[str] = "multistage"    # its step logic (loss.phases; resolve() writes it)
    stages: int = option(3, "generator stages, each doubling the image (3 at 64 px: 16, 32, 64)")
    ca_dim: int = option(64, "size of the conditioning augmentation c_hat")
    kl_weight: float = option(1.0, "weight of the conditioning augmentation's KL term (phases multistage)")
    mismatch_weight: float = option(1.0, "weight of mismatched (image, condition) pairs in D's loss (0 = off; "
                                         "phases multistage)")
    attn_heads: int = option(4, "heads of the word-level attention of every refinement stage")
    g_norm: str = option("batch", "G's FiLM modulates batch-normalized features (batch) or raw ones (none)",
                         choices=("batch", "none"))
    cond_proj: int = option(64, "channels every stage discriminator projects the condition to")


class CondAugment(nn.Module):
    """c -> (mu, log sigma^2) -> c_hat = mu + sigma * eps while training, mu in eval mode (so a seed
    fixes the image); KL(N(mu, sigma^2) || N(0, I)) per dimension, averaged over dimensions and batch
    (as StackGAN's reference code; summed over dimensions it would drown the condition in noise).
    Unit-norm conditions are scaled by sqrt(cond_dim) first, so mu starts at unit scale, and sigma
    starts at `init_std` (0.1): noise as large as the signal would drown the condition early in
    training, and the KL term raises sigma where that costs the generator nothing."""

    def __init__(self, cond_dim: int, ca_dim: int, init_std: float = 0.1):
        super().__init__()
        self.fc = nn.Linear(cond_dim, 2 * ca_dim)
        self.scale = math.sqrt(max(cond_dim, 1))
        with torch.no_grad():
            self.fc.bias[ca_dim:].fill_(2 * math.log(init_std))

    def forward(self, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.fc(c * self.scale).chunk(2, dim=1)
        logvar = logvar.clamp(-10, 10)
        kl = 0.5 * (mu.square() + logvar.exp() - 1 - logvar).mean()
        if not self.training:
            return mu, kl
        return mu + torch.randn_like(mu) * (0.5 * logvar).exp(), kl


def stage_sizes(resolution: int, stages: int) -> tuple[int, int, list[int]]:
    """(s0, doublings k, the image size of every stage); the first stage is at least s0 x s0."""
    s0, k = plan(resolution)
    if stages < 1 or stages - 1 > k:
        raise ValueError(f"stackgan: {resolution} px allows at most {k + 1} stages (model.extra.stages={stages})")
    return s0, k, [resolution // 2 ** (stages - 1 - i) for i in range(stages)]


class StackGenerator(ConfigModule):
    phases = StackGANOptions.phases        # the step logic the trainer uses

    def __init__(self, z_dim: int, channels: int, resolution: int, width: int = 32, cond_dim: int = 0,
                 stages: int = 3, ca_dim: int = 64, heads: int = 4, norm: str = "batch"):
        super().__init__(z_dim=z_dim, channels=channels, resolution=resolution, width=width, cond_dim=cond_dim,
                         stages=stages, ca_dim=ca_dim, heads=heads, norm=norm)
        s0, k, self.stage_res = stage_sizes(resolution, stages)
        ch = widths(width, k)                                          # channels at s0, 2 s0, ..., resolution
        self.cond_dim, self.stages, self.s0, self.ch0 = cond_dim, stages, s0, ch[0]
        n0 = k - (stages - 1)                                          # up-blocks inside stage 0
        self.first = [n0 + i for i in range(stages)]                   # level index of each stage's image
        film = z_dim + (cond_dim + ca_dim if cond_dim else 0)          # every block is modulated by [z, c, c_hat]
        self.ca = nn.ModuleList([CondAugment(cond_dim, ca_dim) for _ in range(stages)]) if cond_dim else None
        self.fc = nn.Linear(film, ch[0] * s0 * s0)
        self.init_ups = nn.ModuleList([UpBlock(ch[i], ch[i + 1], film, norm) for i in range(n0)])
        lv = self.first[:-1]                                           # refinement i starts at level lv[i]
        self.attn = nn.ModuleList([CrossAttention2d(ch[j], cond_dim, heads) for j in lv]) if cond_dim else None
        self.res = nn.ModuleList([UpBlock(ch[j], ch[j], film, norm, up=False) for j in lv])
        self.ups = nn.ModuleList([UpBlock(ch[j], ch[j + 1], film, norm) for j in lv])
        self.to_rgb = nn.ModuleList([to_rgb(ch[j], channels, norm) for j in self.first])
        self.kl = torch.zeros(())

    def _film(self, z: torch.Tensor, c: torch.Tensor | None, i: int, kls: list) -> torch.Tensor:
        """What stage i's blocks are modulated by: [z, c (scaled as dfgan's), c_hat_i (the stage's CA)]."""
        if not self.cond_dim:
            return z
        c_hat, kl = self.ca[i](c)
        kls.append(kl)
        return torch.cat([z, c.to(z.dtype) * self.ca[i].scale, c_hat.to(z.dtype)], dim=1)

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None, tokens: torch.Tensor | None = None,
                token_mask: torch.Tensor | None = None, return_stages: bool = False, **_):
        kls: list[torch.Tensor] = []
        if self.cond_dim:
            if c is None:
                raise ValueError("this generator is conditional: pass a condition vector c")
            if tokens is None:                                         # the condition is the one "word"
                tokens, token_mask = c[:, None, :], None
            if tokens.shape[-1] != self.cond_dim:
                raise ValueError(f"stackgan: word tokens have {tokens.shape[-1]} features, the condition "
                                 f"vector {self.cond_dim}; they must match")
        zc = self._film(z, c, 0, kls)
        h = self.fc(zc).view(z.shape[0], self.ch0, self.s0, self.s0)
        for block in self.init_ups:
            h = block(h, zc)
        images = [self.to_rgb[0](h)]
        for i in range(1, self.stages):
            if self.cond_dim:
                h = self.attn[i - 1](h, tokens, token_mask)
            zc = self._film(z, c, i, kls)
            h = self.ups[i - 1](self.res[i - 1](h, zc), zc)
            images.append(self.to_rgb[i](h))
        self.kl = torch.stack(kls).sum() if kls else z.new_zeros(())
        return images if return_stages else images[-1]


class StackDiscriminator(ConfigModule):
    def __init__(self, channels: int, resolution: int, width: int = 32, cond_dim: int = 0, stages: int = 3,
                 spectral_norm: bool = False, cond_proj: int = 64):
        super().__init__(channels=channels, resolution=resolution, width=width, cond_dim=cond_dim, stages=stages,
                         spectral_norm=spectral_norm, cond_proj=cond_proj)
        s0, _, self.stage_res = stage_sizes(resolution, stages)
        self.ds = nn.ModuleList([DFDiscriminator(channels, r, width, cond_dim, cond_proj, spectral_norm, base=s0)
                                 for r in self.stage_res])

    def forward(self, x, c: torch.Tensor | None = None, per_stage: bool = False):
        """x: G's list of stage images, or one image (D judges its pyramid). Returns (logits, None):
        the mean over stages (b,), or with per_stage=True one row per stage (stages, b)."""
        xs = x if isinstance(x, (list, tuple)) else [resize_to(x, r) for r in self.stage_res]
        if len(xs) != len(self.ds):
            raise ValueError(f"stackgan D takes one image or {len(self.ds)} stage images, got {len(xs)}")
        logits = torch.stack([d(xi, c)[0] for d, xi in zip(self.ds, xs)])
        return (logits if per_stage else logits.mean(0)), None


def loss_options(cfg: ModelConfig) -> dict:
    o = StackGANOptions.read(cfg.extra)
    return {"kl_weight": o.kl_weight, "mismatch_weight": o.mismatch_weight}


@register("model", "stackgan", options=StackGANOptions)
def build_stackgan(cfg: ModelConfig, with_discriminator: bool = True):
    if cfg.pack > 1:
        raise ValueError("stackgan does not support model.pack > 1")
    o = StackGANOptions.read(cfg.extra)
    g = StackGenerator(cfg.z_dim, cfg.channels, cfg.resolution, cfg.g_width, cfg.cond_dim, o.stages, o.ca_dim,
                       o.attn_heads, o.g_norm)
    g.loss_options = loss_options(cfg)
    if not with_discriminator:
        return g, None
    d = StackDiscriminator(cfg.channels, cfg.resolution, cfg.d_width, cfg.cond_dim, o.stages, cfg.spectral_norm,
                           o.cond_proj)
    return g, d
