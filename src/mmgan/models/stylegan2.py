"""StyleGAN2, compact (Karras et al. 2020), for 8 to 64 pixel images, with label or multimodal conditions.

G: z (+ embedded condition vector c) -> mapping MLP -> w -> synthesis from a learned s0 x s0
constant: per level two modulated/demodulated 3x3 convolutions with noise inputs, and a skip
ToRGB output summed across levels (resolution = s0 * 2^k, s0 in 4..7, as in dcgan).
Style mixing while training (two latents, a random crossover layer), truncation toward the
running mean w (`G(z, c, truncation=0.7)`), optional path-length regularization (phases
"stylegan2"). D: residual blocks, minibatch-std, projection on c.

Options (model.extra): w_dim (256), mapping_layers (4), max_width (256), mixing_prob (0.9),
pl_weight (0 = off; StyleGAN2 uses 2), pl_every (4), mbstd (true). Widths: g_width / d_width
channels at the highest resolution, doubling going down, capped at max_width.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn as nn

from .. import distributed
from ..config import ModelConfig
from ..model_options import Options, option
from ..registry import register
from .base import ConfigModule
from .dcgan import plan
from .layers import pack
from .style_layers import DBlock, DEpilogue, EqualConv2d, MappingNetwork, StyleLayer, ToRGB, level_widths


@dataclass(frozen=True)
class StyleGAN2Options(Options):
    phases: ClassVar[str] = "stylegan2"    # its step logic (loss.phases; resolve() writes it)
    w_dim: int = option(256, "size of the intermediate latent w")
    mapping_layers: int = option(4, "layers of the mapping network z -> w")
    max_width: int = option(256, "channel cap of G and D (widths double going down from g_width / d_width)")
    mixing_prob: float = option(0.9, "probability of style mixing while training")
    pl_weight: float = option(0.0, "path-length regularization weight (0 = off; StyleGAN2 uses 2; phases stylegan2)")
    pl_every: int = option(4, "path-length regularization interval in steps (phases stylegan2)")
    mbstd: bool = option(True, "minibatch standard deviation in D")


class StyleGAN2Generator(ConfigModule):
    phases = StyleGAN2Options.phases        # the step logic the trainer uses
    truncation_in_w = True          # the Pipeline passes `truncation` here instead of scaling z

    def __init__(self, z_dim: int, channels: int, resolution: int, width: int = 32, cond_dim: int = 0,
                 w_dim: int = 256, mapping_layers: int = 4, max_width: int = 256, mixing_prob: float = 0.9,
                 w_avg_beta: float = 0.995):
        super().__init__(z_dim=z_dim, channels=channels, resolution=resolution, width=width, cond_dim=cond_dim,
                         w_dim=w_dim, mapping_layers=mapping_layers, max_width=max_width, mixing_prob=mixing_prob,
                         w_avg_beta=w_avg_beta)
        self.z_dim, self.cond_dim, self.mixing_prob, self.w_avg_beta = z_dim, cond_dim, mixing_prob, w_avg_beta
        s0, k = plan(resolution)
        ch = level_widths(width, k + 1, max_width)
        self.mapping = MappingNetwork(z_dim, cond_dim, w_dim, mapping_layers)
        self.const = nn.Parameter(torch.randn(1, ch[0], s0, s0))
        self.layers = nn.ModuleList([StyleLayer(ch[0], ch[0], w_dim, s0, seed=0)])
        self.to_rgb = nn.ModuleList([ToRGB(ch[0], channels, w_dim)])
        for i in range(1, k + 1):
            r = s0 * 2 ** i
            self.layers.append(StyleLayer(ch[i - 1], ch[i], w_dim, r, seed=2 * i - 1, up=True))
            self.layers.append(StyleLayer(ch[i], ch[i], w_dim, r, seed=2 * i))
            self.to_rgb.append(ToRGB(ch[i], channels, w_dim))
        self.num_ws = len(self.layers) + 1                         # conv layers, then the last ToRGB
        self.register_buffer("w_avg", torch.zeros(w_dim))
        self.register_buffer("pl_mean", torch.zeros(()))           # path-length target (phases "stylegan2")

    # ---- the two halves ----------------------------------------------------------------------
    def ws(self, z: torch.Tensor, c: torch.Tensor | None = None, truncation: float = 1.0,
           mix_z: torch.Tensor | None = None, mix_layer: int | None = None) -> torch.Tensor:
        """Per-layer styles (b, num_ws, w_dim): mapping, running mean, truncation and style mixing."""
        w = self.mapping(z, c)
        if self.training:
            with torch.no_grad():                              # the global batch's mean under torchrun
                self.w_avg.lerp_(distributed.mean(w.detach().float().mean(0)), 1 - self.w_avg_beta)
        if truncation != 1.0:
            w = self.w_avg.to(w.dtype).lerp(w, truncation)
        ws = w[:, None].repeat(1, self.num_ws, 1)
        if mix_z is None and self.training and self.mixing_prob > 0 and torch.rand(()) < self.mixing_prob:
            mix_z, mix_layer = torch.randn_like(z), int(torch.randint(1, self.num_ws, ()))
        if mix_z is not None:
            w2 = self.mapping(mix_z, c)
            if truncation != 1.0:
                w2 = self.w_avg.to(w2.dtype).lerp(w2, truncation)
            cut = self.num_ws // 2 if mix_layer is None else mix_layer
            ws[:, cut:] = w2[:, None]
        return ws

    def synthesis(self, ws: torch.Tensor) -> torch.Tensor:
        b = ws.shape[0]
        x = self.const.expand(b, -1, -1, -1).to(ws.dtype)
        x = self.layers[0](x, ws[:, 0])
        img = self.to_rgb[0](x, ws[:, 1])
        for i in range(1, len(self.to_rgb)):
            x = self.layers[2 * i - 1](x, ws[:, 2 * i - 1])
            x = self.layers[2 * i](x, ws[:, 2 * i])
            img = self.to_rgb[i](x, ws[:, 2 * i + 1], skip=img)
        return torch.tanh(img)                                        # (b, c, res, res)

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None, truncation: float = 1.0,
                mix_z: torch.Tensor | None = None, mix_layer: int | None = None, **_) -> torch.Tensor:
        return self.synthesis(self.ws(z, c, truncation, mix_z, mix_layer))


class StyleGAN2Discriminator(ConfigModule):
    def __init__(self, channels: int, resolution: int, width: int = 32, cond_dim: int = 0, max_width: int = 256,
                 mbstd: bool = True, pack_size: int = 1):
        super().__init__(channels=channels, resolution=resolution, width=width, cond_dim=cond_dim,
                         max_width=max_width, mbstd=mbstd, pack_size=pack_size)
        s0, k = plan(resolution)
        ch = list(reversed(level_widths(width, k + 1, max_width)))  # highest resolution first
        self.m = pack_size
        self.from_rgb = EqualConv2d(channels * pack_size, ch[0], 1, act=True)
        self.blocks = nn.Sequential(*[DBlock(ch[i], ch[i + 1]) for i in range(k)])
        self.epilogue = DEpilogue(ch[-1], s0, cond_dim * pack_size, mbstd_group=4 if mbstd else 0)

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None):
        x = pack(x, self.m)                                          # (b/m, m*c, h, w)
        cp = pack(c, self.m) if (c is not None and self.epilogue.proj is not None) else None
        return self.epilogue(self.blocks(self.from_rgb(x)), cp), None


def generator_options(cfg: ModelConfig) -> dict:
    o = StyleGAN2Options.read(cfg.extra)
    return dict(w_dim=o.w_dim, mapping_layers=o.mapping_layers, max_width=o.max_width, mixing_prob=o.mixing_prob)


def loss_options(cfg: ModelConfig) -> dict:
    """Training hints the family's phases read from the generator (model.extra, not architecture)."""
    o = StyleGAN2Options.read(cfg.extra)
    return {"pl_weight": o.pl_weight, "pl_every": o.pl_every}


@register("model", "stylegan2", options=StyleGAN2Options)
def build_stylegan2(cfg: ModelConfig, with_discriminator: bool = True):
    g = StyleGAN2Generator(cfg.z_dim, cfg.channels, cfg.resolution, cfg.g_width, cfg.cond_dim, **generator_options(cfg))
    g.loss_options = loss_options(cfg)
    if not with_discriminator:
        return g, None
    o = StyleGAN2Options.read(cfg.extra)
    d = StyleGAN2Discriminator(cfg.channels, cfg.resolution, cfg.d_width, cfg.cond_dim, o.max_width, mbstd=o.mbstd,
                               pack_size=cfg.pack)
    return g, d
