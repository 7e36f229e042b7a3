"""GANsformer-style hybrid (Hudson & Zitnick 2021): a set of latent vectors and the image features
attend to each other (bipartite, "duplex" attention) inside a StyleGAN2 generator.

G: the stylegan2 generator (mapping, modulated convolutions, noise, style mixing, truncation in w)
plus k latents Y (b, k, d) made from the first layer's w and k learned component embeddings. At
every level up to `attn_max_res`, after the first convolution:
  latents <- image:  Y = Y + Attn(q = Y, k/v = pixels)          (latents gather what was drawn)
  image <- latents:  X = X * (1 + gamma(A)) + beta(A),  A = Attn(q = pixels, k/v = Y)
(multiplicative integration; gamma/beta start at zero, so each block starts as the identity).
Pixels carry a fixed 2-D sinusoidal position code in their queries and keys.
D: the stylegan2 residual discriminator with one bipartite attention block (learned latents) at
the first level at or below `d_attn_res`.

Options (model.extra): latents (8), attn_dim (64), attn_max_res (32), d_attn_res (16), plus the
stylegan2 options (w_dim, mapping_layers, max_width, mixing_prob, pl_weight, pl_every).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn

from ..config import ModelConfig
from ..model_options import option
from ..registry import register
from .base import ConfigModule
from .dcgan import plan
from .layers import pack
from .style_layers import DBlock, DEpilogue, EqualConv2d, EqualLinear, level_widths
from .stylegan2 import StyleGAN2Generator, StyleGAN2Options, generator_options, loss_options


@dataclass(frozen=True)
class GANsformerOptions(StyleGAN2Options):       # the stylegan2 options, and:
    latents: int = option(8, "number of latent vectors Y the image attends to")
    attn_dim: int = option(64, "size of the latents and of the attention")
    attn_max_res: int = option(32, "G has bipartite attention at every level up to this side")
    d_attn_res: int = option(16, "D's attention block sits at the first level at or below this side")


def position_code(res: int, dim: int = 16) -> torch.Tensor:
    """(1, dim, res, res) sinusoids of x and y at dim/4 frequencies."""
    f = dim // 4
    coords = (torch.arange(res, dtype=torch.float32) + 0.5) / res          # (res,)
    freqs = math.pi * 2.0 ** torch.arange(f, dtype=torch.float32)          # (f,)
    a = coords[:, None] * freqs[None]                                      # (res, f)
    enc = torch.cat([a.sin(), a.cos()], dim=1)                            # (res, 2f)
    ys = enc[:, None, :].expand(res, res, 2 * f)
    xs = enc[None, :, :].expand(res, res, 2 * f)
    return torch.cat([ys, xs], dim=2).permute(2, 0, 1)[None].contiguous()   # (1, 4f, res, res)


class BipartiteAttention(nn.Module):
    """Duplex attention between image features X (b, ch, h, w) and latents Y (b, k, d)."""

    def __init__(self, ch: int, latent_dim: int, resolution: int, attn_dim: int = 64, pos_dim: int = 16):
        super().__init__()
        self.register_buffer("pos", position_code(resolution, pos_dim), persistent=False)
        self.scale = 1 / math.sqrt(attn_dim)
        px = ch + pos_dim
        self.x_q, self.x_k, self.x_v = nn.Linear(px, attn_dim), nn.Linear(px, attn_dim), nn.Linear(ch, attn_dim)
        self.y_norm = nn.LayerNorm(latent_dim)
        self.y_q, self.y_k, self.y_v = (nn.Linear(latent_dim, attn_dim) for _ in range(3))
        self.y_out = nn.Linear(attn_dim, latent_dim)
        self.modulate = nn.Linear(attn_dim, 2 * ch)
        nn.init.zeros_(self.modulate.weight)
        nn.init.zeros_(self.modulate.bias)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b, ch, h, w = x.shape
        pix = x.flatten(2).transpose(1, 2)                                # (b, hw, ch)
        pos = self.pos.to(x.dtype).flatten(2).transpose(1, 2).expand(b, -1, -1)
        pix_pos = torch.cat([pix, pos], dim=2)                            # (b, hw, ch + pos)
        # latents <- image
        yn = self.y_norm(y)
        att = (self.y_q(yn) @ self.x_k(pix_pos).transpose(1, 2) * self.scale).softmax(-1)   # (b, k, hw)
        y = y + self.y_out(att @ self.x_v(pix))
        # image <- latents
        yn = self.y_norm(y)
        att = (self.x_q(pix_pos) @ self.y_k(yn).transpose(1, 2) * self.scale).softmax(-1)   # (b, hw, k)
        gamma, beta = self.modulate(att @ self.y_v(yn)).chunk(2, dim=2)  # (b, hw, ch) each
        x = x * (1 + gamma.transpose(1, 2).reshape(b, ch, h, w)) + beta.transpose(1, 2).reshape(b, ch, h, w)
        return x, y


class GANsformerGenerator(StyleGAN2Generator):
    def __init__(self, z_dim: int, channels: int, resolution: int, width: int = 32, cond_dim: int = 0,
                 latents: int = 8, attn_dim: int = 64, attn_max_res: int = 32, **style_options):
        super().__init__(z_dim, channels, resolution, width, cond_dim, **style_options)
        self.config.update(latents=latents, attn_dim=attn_dim, attn_max_res=attn_max_res)
        w_dim = self.mapping.net[-1].weight.shape[0]
        s0, k = plan(resolution)
        self.n_latents = latents
        self.components = nn.Parameter(torch.randn(latents, w_dim))      # what makes the latents differ
        self.to_latents = EqualLinear(w_dim, w_dim)
        # attention after the first conv of each level up to attn_max_res (level 0 is the constant's conv)
        self.attn = nn.ModuleDict()
        for i in range(k + 1):
            r = s0 * 2 ** i
            if r <= attn_max_res:
                ch = self.layers[2 * i - 1 if i else 0].conv.weight.shape[0]
                self.attn[str(i)] = BipartiteAttention(ch, w_dim, r, attn_dim)

    def latents(self, w: torch.Tensor) -> torch.Tensor:
        return self.to_latents(w)[:, None, :] + self.components[None].to(w.dtype)   # (b, k, d)

    def synthesis(self, ws: torch.Tensor) -> torch.Tensor:
        b = ws.shape[0]
        y = self.latents(ws[:, 0])
        x = self.const.expand(b, -1, -1, -1).to(ws.dtype)
        x = self.layers[0](x, ws[:, 0])
        if "0" in self.attn:
            x, y = self.attn["0"](x, y)
        img = self.to_rgb[0](x, ws[:, 1])
        for i in range(1, len(self.to_rgb)):
            x = self.layers[2 * i - 1](x, ws[:, 2 * i - 1])
            if str(i) in self.attn:
                x, y = self.attn[str(i)](x, y)
            x = self.layers[2 * i](x, ws[:, 2 * i])
            img = self.to_rgb[i](x, ws[:, 2 * i + 1], skip=img)
        return torch.tanh(img)


class GANsformerDiscriminator(ConfigModule):
    def __init__(self, channels: int, resolution: int, width: int = 32, cond_dim: int = 0, max_width: int = 256,
                 latents: int = 8, attn_dim: int = 64, d_attn_res: int = 16, mbstd: bool = True, pack_size: int = 1):
        super().__init__(channels=channels, resolution=resolution, width=width, cond_dim=cond_dim, max_width=max_width,
                         latents=latents, attn_dim=attn_dim, d_attn_res=d_attn_res, mbstd=mbstd, pack_size=pack_size)
        s0, k = plan(resolution)
        ch = list(reversed(level_widths(width, k + 1, max_width)))  # highest resolution first
        self.m = pack_size
        self.from_rgb = EqualConv2d(channels * pack_size, ch[0], 1, act=True)
        self.blocks = nn.ModuleList([DBlock(ch[i], ch[i + 1]) for i in range(k)])
        res = [resolution // 2 ** i for i in range(k + 1)]           # input size of blocks[i]; res[k] = s0
        self.attn_at = next((i for i in range(k + 1) if res[i] <= d_attn_res), k)
        self.latents = nn.Parameter(torch.randn(latents, attn_dim))
        self.attn = BipartiteAttention(ch[self.attn_at], attn_dim, res[self.attn_at], attn_dim)
        self.epilogue = DEpilogue(ch[-1], s0, cond_dim * pack_size, mbstd_group=4 if mbstd else 0)

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None):
        x = pack(x, self.m)
        h = self.from_rgb(x)
        for i, block in enumerate(self.blocks):
            if i == self.attn_at:
                h, _ = self.attn(h, self.latents[None].expand(h.shape[0], -1, -1).to(h.dtype))
            h = block(h)
        if self.attn_at == len(self.blocks):
            h, _ = self.attn(h, self.latents[None].expand(h.shape[0], -1, -1).to(h.dtype))
        cp = pack(c, self.m) if (c is not None and self.epilogue.proj is not None) else None
        return self.epilogue(h, cp), None


@register("model", "gansformer", options=GANsformerOptions)
def build_gansformer(cfg: ModelConfig, with_discriminator: bool = True):
    o = GANsformerOptions.read(cfg.extra)
    attn = dict(latents=o.latents, attn_dim=o.attn_dim)
    g = GANsformerGenerator(cfg.z_dim, cfg.channels, cfg.resolution, cfg.g_width, cfg.cond_dim,
                            attn_max_res=o.attn_max_res, **attn, **generator_options(cfg))
    g.loss_options = loss_options(cfg)
    if not with_discriminator:
        return g, None
    d = GANsformerDiscriminator(cfg.channels, cfg.resolution, cfg.d_width, cfg.cond_dim, o.max_width,
                                d_attn_res=o.d_attn_res, mbstd=o.mbstd, pack_size=cfg.pack, **attn)
    return g, d
