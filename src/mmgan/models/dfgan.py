"""DF-GAN (Tao et al. 2022) for 32 or 64 pixel images, conditioned on a fused condition vector.

Generator: [z, c] -> linear -> 4x4 map -> up-blocks doubling the size, each: upsample, then twice
(FiLM(z, c) -> LeakyReLU -> 3x3 conv), plus a shortcut. FiLM is DF-GAN's affine modulation: a
per-channel scale and shift predicted from the condition (identity at init). With attention on,
the feature maps at `attn_res` pixels attend to the condition's tokens (word-level cross-attention
as in AttnGAN; masked, residual, zero-init so it starts as a no-op).
Discriminator: 3x3 conv, down-blocks to 4x4, then DF-GAN's joint head: the condition, projected
and repeated over the 4x4 map, is concatenated with the image features, so one score judges the
(image, condition) pair -- what the matching-aware loss ("matching" phases) needs.

Widths: the generator has `g_width` channels at the output resolution, doubling per level down to
4x4 (capped at 8x); the discriminator mirrors it with `d_width`.
Shape legend: b batch, c channels, h/w spatial, d features, n tokens.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..config import ModelConfig
from ..model_options import Options, option
from ..registry import register
from .base import ConfigModule
from .layers import BatchNorm, maybe_sn


@dataclass(frozen=True)
class DFGANOptions(Options):
    attention: bool = option(None, "word-level cross-attention in G (unset: on with a cross_attention fusion of "
                                   "text, audio or image conditions)")
    attn_res: int = option(16, "feature-map side at which G attends to the condition tokens")
    attn_heads: int = option(4, "attention heads")
    g_norm: str = option("batch", "G's FiLM modulates batch-normalized features (batch) or raw ones (none, "
                                  "DF-GAN as published)", choices=("batch", "none"))
    cond_proj: int = option(64, "channels D projects the condition to for its joint head")


def levels(resolution: int) -> int:
    """Number of doublings from 4x4 to the resolution (32 -> 3, 64 -> 4)."""
    if resolution not in (16, 32, 64, 128):
        raise ValueError(f"dfgan makes 32 or 64 pixel images (also 16, 128), not {resolution}; set data.resolution")
    return doublings(resolution, 4)


def doublings(resolution: int, base: int) -> int:
    """k with resolution = base * 2^k (k >= 0), or a ValueError naming both sizes."""
    k = int(round(math.log2(max(resolution, 1) / max(base, 1))))
    if k < 0 or base * 2**k != resolution:
        raise ValueError(f"{resolution} px is not {base} px times a power of two")
    return k


def widths(base: int, k: int) -> list[int]:
    """Channels at 4x4, 8x8, ..., resolution: base * 2^k ... base, capped at base * 8."""
    return [base * min(2 ** (k - i), 8) for i in range(k + 1)]


class FiLM(nn.Module):
    """Affine modulation from a condition: x * (1 + gamma(c)) + beta(c), per channel; identity at init.

    norm="batch" modulates batch-normalized features (as conditional batch-norm does): on a small
    budget it keeps the generator out of tanh saturation early in training. "none" is DF-GAN as published.
    """

    def __init__(self, channels: int, cond_dim: int, hidden: int = 128, norm: str = "batch"):
        super().__init__()
        if norm not in ("batch", "none"):
            raise ValueError(f"dfgan norm must be 'batch' or 'none', got {norm!r}")
        self.norm = BatchNorm(channels, affine=False) if norm == "batch" else nn.Identity()
        self.net = nn.Sequential(nn.Linear(cond_dim, hidden), nn.ReLU(), nn.Linear(hidden, 2 * channels))
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.net(c).to(x.dtype)[:, :, None, None].chunk(2, dim=1)
        return self.norm(x) * (1 + gamma) + beta


class UpBlock(nn.Module):
    """Residual block: (upsample x2 unless up=False), then twice FiLM -> LeakyReLU -> 3x3 conv; shortcut."""

    def __init__(self, c_in: int, c_out: int, cond_dim: int, norm: str = "batch", up: bool = True):
        super().__init__()
        self.up = up
        self.film1, self.conv1 = FiLM(c_in, cond_dim, norm=norm), nn.Conv2d(c_in, c_out, 3, padding=1)
        self.film2, self.conv2 = FiLM(c_out, cond_dim, norm=norm), nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        if self.up:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        h = self.conv1(F.leaky_relu(self.film1(x, c), 0.2))
        h = self.conv2(F.leaky_relu(self.film2(h, c), 0.2))
        return self.skip(x) + h


def to_rgb(ch: int, channels: int, norm: str = "batch") -> nn.Sequential:
    """The output head: (batch-norm) -> LeakyReLU -> 3x3 conv to image channels -> tanh."""
    return nn.Sequential(BatchNorm(ch) if norm == "batch" else nn.Identity(), nn.LeakyReLU(0.2),
                         nn.Conv2d(ch, channels, 3, padding=1), nn.Tanh())


class CrossAttention2d(nn.Module):
    """Feature-map cells (queries) attend to condition tokens (keys/values), residual; a no-op at init."""

    def __init__(self, channels: int, token_dim: int, heads: int = 4, dim: int = 64):
        super().__init__()
        self.heads, self.dim = heads, dim
        self.norm = nn.GroupNorm(1, channels)
        self.q = nn.Conv2d(channels, heads * dim, 1, bias=False)
        self.kv = nn.Linear(token_dim, 2 * heads * dim, bias=False)
        self.out = nn.Conv2d(heads * dim, channels, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor, tokens: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        b, _, h, w = x.shape
        q = self.q(self.norm(x)).view(b, self.heads, self.dim, h * w).transpose(2, 3)      # (b, H, hw, d)
        k, v = self.kv(tokens.to(x.dtype)).view(b, -1, 2, self.heads, self.dim).permute(2, 0, 3, 1, 4)  # (b, H, n, d)
        bias = None if mask is None else (~mask)[:, None, None, :].to(q.dtype) * torch.finfo(q.dtype).min
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)                        # (b, H, hw, d)
        return x + self.out(a.transpose(2, 3).reshape(b, self.heads * self.dim, h, w))


class DFGenerator(ConfigModule):
    def __init__(self, z_dim: int, channels: int, resolution: int, width: int = 32, cond_dim: int = 0,
                 attention: bool = False, attn_res: int = 16, heads: int = 4, norm: str = "batch"):
        super().__init__(z_dim=z_dim, channels=channels, resolution=resolution, width=width, cond_dim=cond_dim,
                         attention=attention, attn_res=attn_res, heads=heads, norm=norm)
        k = levels(resolution)
        ch = widths(width, k)
        self.z_dim, self.cond_dim, self.ch0 = z_dim, cond_dim, ch[0]
        self.c_scale = math.sqrt(max(cond_dim, 1))          # unit-norm conditions -> entries on z's scale
        film_dim = z_dim + cond_dim                          # DF-GAN feeds [z, c] to every affine
        self.fc = nn.Linear(z_dim + cond_dim, ch[0] * 16)
        self.blocks = nn.ModuleList([UpBlock(a, b, film_dim, norm) for a, b in zip(ch[:-1], ch[1:])])
        self.attn = nn.ModuleDict()
        if attention:
            if not cond_dim:
                raise ValueError("dfgan cross-attention needs condition tokens (a multimodal condition)")
            for i, c_out in enumerate(ch[1:]):
                if 4 * 2 ** (i + 1) == attn_res:
                    self.attn[str(i)] = CrossAttention2d(c_out, cond_dim, heads)
            if not len(self.attn):
                raise ValueError(f"attn_res={attn_res} is not a generator level (8 .. {resolution})")
        self.to_rgb = to_rgb(ch[-1], channels, norm)

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None, tokens: torch.Tensor | None = None,
                token_mask: torch.Tensor | None = None, **_) -> torch.Tensor:
        if self.cond_dim:
            if c is None:
                raise ValueError("this generator is conditional: pass a condition vector c")
            zc = torch.cat([z, c.to(z.dtype) * self.c_scale], dim=1)
        else:
            zc = z
        h = self.fc(zc).view(z.shape[0], self.ch0, 4, 4)
        for i, block in enumerate(self.blocks):
            h = block(h, zc)
            if str(i) in self.attn:
                if tokens is None:
                    raise ValueError("this generator attends to condition tokens: use a cross_attention fusion")
                h = self.attn[str(i)](h, tokens, token_mask)
        return self.to_rgb(h)                                # (b, channels, res, res)


class DownBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, sn: bool):
        super().__init__()
        self.body = nn.Sequential(maybe_sn(nn.Conv2d(c_in, c_out, 4, 2, 1), sn), nn.LeakyReLU(0.2),
                                  maybe_sn(nn.Conv2d(c_out, c_out, 3, 1, 1), sn), nn.LeakyReLU(0.2))
        self.skip = maybe_sn(nn.Conv2d(c_in, c_out, 1), sn) if c_in != c_out else nn.Identity()
        self.gamma = nn.Parameter(torch.zeros(1))           # DF-GAN: the residual branch fades in

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.skip(F.avg_pool2d(x, 2)) + self.gamma * self.body(x)


class DFDiscriminator(ConfigModule):
    def __init__(self, channels: int, resolution: int, width: int = 32, cond_dim: int = 0, cond_proj: int = 64,
                 spectral_norm: bool = False, base: int = 4):
        super().__init__(channels=channels, resolution=resolution, width=width, cond_dim=cond_dim,
                         cond_proj=cond_proj, spectral_norm=spectral_norm, base=base)
        k = doublings(resolution, base)
        self.base = base
        ch = list(reversed(widths(width, k)))                # width ... at resolution -> base x base
        sn = spectral_norm
        self.cond_dim, self.c_scale = cond_dim, math.sqrt(max(cond_dim, 1))
        self.from_rgb = maybe_sn(nn.Conv2d(channels, ch[0], 3, 1, 1), sn)
        self.blocks = nn.Sequential(*[DownBlock(a, b, sn) for a, b in zip(ch[:-1], ch[1:])])
        self.proj = maybe_sn(nn.Linear(cond_dim, cond_proj), sn) if cond_dim else None
        joint = ch[-1] + (cond_proj if cond_dim else 0)
        self.head = nn.Sequential(maybe_sn(nn.Conv2d(joint, ch[-1] // 2, 3, 1, 1), sn), nn.LeakyReLU(0.2),
                                  maybe_sn(nn.Conv2d(ch[-1] // 2, 1, base, 1, 0), sn))

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None):
        return self.judge(self.features(x), c), None

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The image part: (b, channels, res, res) -> (b, C, base, base); no layer mixes samples."""
        return self.blocks(self.from_rgb(x))

    def judge(self, h: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        """The joint head: image features with a condition -> one score per pair (b,). One image's
        features can be judged against several conditions (the matching-aware loss's mismatched pairs)."""
        if self.proj is not None:
            if c is None:
                raise ValueError("this discriminator is conditional: pass c")
            cp = self.proj(c.to(h.dtype) * self.c_scale)[:, :, None, None].expand(-1, -1, self.base, self.base)
            h = torch.cat([h, cp], 1)
        return self.head(h).flatten()


@register("model", "dfgan", options=DFGANOptions)
def build_dfgan(cfg: ModelConfig, with_discriminator: bool = True):
    if cfg.pack != 1 or cfg.acgan or cfg.mbstd:
        raise ValueError("dfgan supports neither model.pack > 1, model.acgan nor model.mbstd")
    o = DFGANOptions.read(cfg.extra)
    multimodal = any(m in (cfg.condition or ()) for m in ("text", "audio", "image"))
    attention = (cfg.fusion == "cross_attention" and multimodal) if o.attention is None else o.attention
    g = DFGenerator(cfg.z_dim, cfg.channels, cfg.resolution, cfg.g_width, cfg.cond_dim, bool(attention),
                    o.attn_res, o.attn_heads, o.g_norm)
    if not with_discriminator:
        return g, None
    d = DFDiscriminator(cfg.channels, cfg.resolution, cfg.d_width, cfg.cond_dim, o.cond_proj, cfg.spectral_norm)
    return g, d
