"""Multi-stage text-to-image GAN in the StackGAN++ / AttnGAN style (Zhang et al. 2017/2018, Xu et al. 2018).

G refines a low-resolution image into higher ones in `stages` steps (64 px with 3 stages: 16, 32, 64):
  stage 0   conditioning augmentation (CA: c -> N(mu, sigma) -> c_hat) and z -> fc -> s0 x s0 ->
            upsampling blocks (nearest x2, 3x3 conv, BN, GLU) -> the first image
  stage i   word-level attention (each pixel attends to the word tokens, AttnGAN), its own CA
            (c_hat planes), residual blocks, one upsampling block -> the next image
Each stage has its own 3x3 ToRGB; G(z, c, tokens=..., token_mask=...) returns the last image and
G(..., return_stages=True) all of them. Without tokens (label conditions) the condition vector is
the single "word". The KL term of every CA is kept in `G.kl` for the phases.

D holds one discriminator per stage (strided convs down to s0, an unconditional logit plus a
projection on c). D(x, c) with one image judges its downsampled pyramid; D([x16, x32, x64], c)
judges G's stage outputs; the logit is the mean over stages. Phases "multistage" (mmgan.losses.
multistage) feed G's stages to D and add the matching-aware term (real image, mismatched text) and
the CA's KL.

Options (model.extra): stages (3), ca_dim (64), kl_weight (1.0), mismatch_weight (1.0; 0 = off).
Widths: g_width channels in the refinement stages (16x that at s0 x s0, halving per upsampling);
d_width at each stage discriminator's top.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from ..config import ModelConfig
from ..losses import multistage as _phases  # noqa: F401  (registers phases "multistage")
from ..registry import register
from .base import ConfigModule
from .dcgan import plan
from .layers import BatchNorm, maybe_sn
from .style_layers import resize_to


class CondAugment(nn.Module):
    """c -> (mu, log sigma^2) -> c_hat = mu + sigma * eps while training, mu in eval mode (so a seed
    fixes the image); KL(N(mu, sigma^2) || N(0, I)) averaged over the batch."""

    def __init__(self, cond_dim: int, ca_dim: int):
        super().__init__()
        self.fc = nn.Linear(cond_dim, 2 * ca_dim)

    def forward(self, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.fc(c).chunk(2, dim=1)
        logvar = logvar.clamp(-10, 10)
        kl = 0.5 * (mu.square() + logvar.exp() - 1 - logvar).sum(1).mean()
        if not self.training:
            return mu, kl
        return mu + torch.randn_like(mu) * (0.5 * logvar).exp(), kl


def up_block(in_ch: int, out_ch: int) -> nn.Module:
    return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(in_ch, 2 * out_ch, 3, 1, 1, bias=False),
                         BatchNorm(2 * out_ch), nn.GLU(dim=1))


class ResBlock(nn.Module):
    def __init__(self, ch: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(ch, 2 * ch, 3, 1, 1, bias=False), BatchNorm(2 * ch), nn.GLU(dim=1),
                                  nn.Conv2d(ch, ch, 3, 1, 1, bias=False), BatchNorm(ch))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class WordAttention(nn.Module):
    """AttnGAN's attention: pixels (queries) attend to words; returns a word-context map."""

    def __init__(self, ch: int, word_dim: int):
        super().__init__()
        self.proj = nn.Linear(word_dim, ch, bias=False)

    def forward(self, h: torch.Tensor, words: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        b, ch, hh, ww = h.shape
        e = self.proj(words.to(h.dtype))                                  # (b, n, ch)
        q = h.flatten(2).transpose(1, 2)                                  # (b, hw, ch)
        logits = q @ e.transpose(1, 2)                                    # (b, hw, n)
        if mask is not None:
            logits = logits.masked_fill(~mask.bool()[:, None, :], float("-inf"))
        attn = logits.float().softmax(dim=-1).nan_to_num(0.0).to(h.dtype)  # a row with no words gives 0
        return (attn @ e).transpose(1, 2).reshape(b, ch, hh, ww)          # (b, ch, h, w)


class StackGenerator(ConfigModule):
    phases = "multistage"

    def __init__(self, z_dim: int, channels: int, resolution: int, width: int = 32, cond_dim: int = 0,
                 stages: int = 3, ca_dim: int = 64):
        super().__init__(z_dim=z_dim, channels=channels, resolution=resolution, width=width, cond_dim=cond_dim,
                         stages=stages, ca_dim=ca_dim)
        s0, k = plan(resolution)
        if stages < 1 or k - (stages - 1) < 0:
            raise ValueError(f"stackgan: {resolution} px allows at most {k + 1} stages (model.extra.stages={stages})")
        self.cond_dim, self.stages, self.s0 = cond_dim, stages, s0
        self.stage_res = [resolution // 2 ** (stages - 1 - i) for i in range(stages)]
        n_up = k - (stages - 1)                                       # upsamplings inside stage 0
        ch0 = width * 2 ** n_up
        self.ch0 = ch0
        ca = ca_dim if cond_dim else 0
        self.ca = nn.ModuleList([CondAugment(cond_dim, ca_dim) for _ in range(stages)]) if cond_dim else None
        self.fc = nn.Sequential(nn.Linear(z_dim + ca, 2 * ch0 * s0 * s0, bias=False),
                                BatchNorm(2 * ch0 * s0 * s0), nn.GLU(dim=1))
        self.init_ups = nn.Sequential(*[up_block(ch0 // 2 ** i, ch0 // 2 ** (i + 1)) for i in range(n_up)])
        self.attn = nn.ModuleList([WordAttention(width, cond_dim) for _ in range(stages - 1)]) if cond_dim else None
        self.joins = nn.ModuleList([nn.Sequential(nn.Conv2d(width * (2 if cond_dim else 1) + ca, 2 * width, 3, 1, 1,
                                                            bias=False), BatchNorm(2 * width), nn.GLU(dim=1))
                                    for _ in range(stages - 1)])
        self.refine = nn.ModuleList([nn.Sequential(ResBlock(width), ResBlock(width), up_block(width, width))
                                     for _ in range(stages - 1)])
        self.to_rgb = nn.ModuleList([nn.Conv2d(width, channels, 3, 1, 1) for _ in range(stages)])
        self.kl = torch.zeros(())

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None, tokens: torch.Tensor | None = None,
                token_mask: torch.Tensor | None = None, return_stages: bool = False, **_):
        kls = []
        if self.cond_dim:
            if c is None:
                raise ValueError("this generator is conditional: pass a condition vector c")
            if tokens is None:                                         # the condition is the one "word"
                tokens, token_mask = c[:, None, :], None
            if tokens.shape[-1] != self.cond_dim:
                raise ValueError(f"stackgan: word tokens have {tokens.shape[-1]} features, the condition "
                                 f"vector {self.cond_dim}; they must match")
            c_hat, kl = self.ca[0](c)
            kls.append(kl)
            x = torch.cat([z, c_hat.to(z.dtype)], dim=1)
        else:
            x = z
        h = self.fc(x).view(z.shape[0], self.ch0, self.s0, self.s0)
        h = self.init_ups(h)                                           # (b, width, r0, r0)
        images = [torch.tanh(self.to_rgb[0](h))]
        for i in range(1, self.stages):
            parts = [h]
            if self.cond_dim:
                parts.append(self.attn[i - 1](h, tokens, token_mask))
                c_hat, kl = self.ca[i](c)
                kls.append(kl)
                parts.append(c_hat[:, :, None, None].expand(-1, -1, *h.shape[2:]).to(h.dtype))
            h = self.refine[i - 1](self.joins[i - 1](torch.cat(parts, dim=1)))
            images.append(torch.tanh(self.to_rgb[i](h)))
        self.kl = torch.stack(kls).sum() if kls else z.new_zeros(())
        return images if return_stages else images[-1]


class StageDiscriminator(nn.Module):
    def __init__(self, channels: int, resolution: int, s0: int, width: int, cond_dim: int, sn: bool):
        super().__init__()
        layers: list[nn.Module] = [maybe_sn(nn.Conv2d(channels, width, 3, 1, 1), sn), nn.LeakyReLU(0.2)]
        ch, r = width, resolution
        while r > s0:
            nxt = min(ch * 2, width * 8)
            layers += [maybe_sn(nn.Conv2d(ch, nxt, 4, 2, 1), sn), nn.LeakyReLU(0.2)]
            ch, r = nxt, r // 2
        self.body = nn.Sequential(*layers)
        self.head = maybe_sn(nn.Conv2d(ch, 1, s0), sn)
        self.proj = maybe_sn(nn.Linear(cond_dim, ch, bias=False), sn) if cond_dim else None

    def forward(self, x: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        h = self.body(x)                                               # (b, ch, s0, s0)
        out = self.head(h).flatten()
        if self.proj is not None:
            if c is None:
                raise ValueError("this discriminator is conditional: pass c")
            out = out + (self.proj(c.to(h.dtype)) * h.sum(dim=(2, 3))).sum(1)
        return out


class StackDiscriminator(ConfigModule):
    def __init__(self, channels: int, resolution: int, width: int = 32, cond_dim: int = 0, stages: int = 3,
                 spectral_norm: bool = False):
        super().__init__(channels=channels, resolution=resolution, width=width, cond_dim=cond_dim, stages=stages,
                         spectral_norm=spectral_norm)
        s0, _ = plan(resolution)
        self.stage_res = [resolution // 2 ** (stages - 1 - i) for i in range(stages)]
        self.ds = nn.ModuleList([StageDiscriminator(channels, r, s0, width, cond_dim, spectral_norm)
                                 for r in self.stage_res])

    def forward(self, x, c: torch.Tensor | None = None):
        xs = x if isinstance(x, (list, tuple)) else [resize_to(x, r) for r in self.stage_res]
        if len(xs) != len(self.ds):
            raise ValueError(f"stackgan D takes one image or {len(self.ds)} stage images, got {len(xs)}")
        logits = torch.stack([d(xi, c) for d, xi in zip(self.ds, xs)])   # (stages, b)
        return logits.mean(0), None


def loss_options(cfg: ModelConfig) -> dict:
    return {"kl_weight": float(cfg.extra.get("kl_weight", 1.0)),
            "mismatch_weight": float(cfg.extra.get("mismatch_weight", 1.0))}


@register("model", "stackgan")
def build_stackgan(cfg: ModelConfig, with_discriminator: bool = True):
    if cfg.pack > 1:
        raise ValueError("stackgan does not support model.pack > 1")
    stages, ca = int(cfg.extra.get("stages", 3)), int(cfg.extra.get("ca_dim", 64))
    g = StackGenerator(cfg.z_dim, cfg.channels, cfg.resolution, cfg.g_width, cfg.cond_dim, stages, ca)
    g.loss_options = loss_options(cfg)
    if not with_discriminator:
        return g, None
    d = StackDiscriminator(cfg.channels, cfg.resolution, cfg.d_width, cfg.cond_dim, stages, cfg.spectral_norm)
    return g, d
