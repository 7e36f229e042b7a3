"""DCGAN (Radford et al. 2016) for 8 to 64 pixel images, with label or embedding conditions.

Generator: z -> linear -> (s0 x s0) -> ConvTranspose(4, 2, 1) blocks doubling the size -> image,
where resolution = s0 * 2^k with s0 in 4..7 (16, 28, 32, 64 ...). Widths halve going up and the
last block has `g_width` channels before the output layer, so mnist (28 px) with g_width 64 is
z -> 128@7 -> 64@14 -> 1@28. The discriminator mirrors it.

`model.extra.s0` starts from a smaller map and halves the sides rounding up, as TensorFlow's 'SAME'
padding does: s0=2 at 28 px is the DCGAN of PacGAN's Stacked MNIST experiments, z -> 512@2 -> 256@4 ->
128@7 -> 64@14 -> 3@28 with a 4-conv discriminator (an odd side is reached by a 3x3 stride-2 layer).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from ..config import ModelConfig
from ..model_options import Options, SharedOptions, option
from ..registry import register
from .base import ConfigModule
from .layers import BatchNorm, CondBatchNorm, MinibatchStd, Projection, flatten, judge, like, maybe_sn, pack


@dataclass(frozen=True)
class DCGANOptions(Options):
    s0: int = option(0, "side of the first map (0 = the resolution halved down to 4..7); smaller sides halve "
                        "rounding up, e.g. 2 at 28 px (PacGAN's DCGAN)")
    gradient_penalty: bool = option(False, "D trains under a per-sample gradient penalty: d_norm auto means none")
    # d_norm, which dcgan reads too, is one of the SharedOptions: resolution writes it for every family


def plan(resolution: int) -> tuple[int, int]:
    """(start size s0, number of doublings k) with resolution = s0 * 2**k, s0 in 4..7, k >= 1."""
    k, s = 0, resolution
    while s > 7 and s % 2 == 0:
        s //= 2
        k += 1
    if not 4 <= s <= 7 or k < 1:
        raise ValueError(f"dcgan cannot make {resolution}x{resolution} images: use a size s0*2^k with "
                         f"s0 in 4..7 (8, 14, 16, 28, 32, 56, 64, ...); set data.resolution")
    return s, k


def sizes(resolution: int, s0: int = 0) -> list[int]:
    """Feature-map sides from the first level up to the image. s0=0: s0 * 2^i as plan() chooses; a
    given s0: the image side halved, rounding up, until it reaches s0 (28 -> 14 -> 7 -> 4 -> 2)."""
    if not s0:
        start, k = plan(resolution)
        return [start * 2 ** i for i in range(k + 1)]
    out = [resolution]
    while out[-1] > s0:
        out.append((out[-1] + 1) // 2)
    if out[-1] != s0 or len(out) < 2:
        raise ValueError(f"dcgan: model.extra.s0={s0} is not reached by halving {resolution} (rounding up): "
                         f"{' -> '.join(map(str, out))}; use one of those sides, or 0 for the default")
    return out[::-1]


def up(c_in: int, c_out: int, side: int, bias: bool = False) -> nn.ConvTranspose2d:
    """A stride-2 transposed conv that ends at this side: from side/2 (4x4), or from (side+1)/2 for an
    odd side (3x3)."""
    return nn.ConvTranspose2d(c_in, c_out, 4 if side % 2 == 0 else 3, 2, 1, bias=bias)


def down(c_in: int, c_out: int, side: int, bias: bool) -> nn.Conv2d:
    """A stride-2 conv from side to ceil(side / 2): 4x4 on even sides, 3x3 on odd ones."""
    return nn.Conv2d(c_in, c_out, 4 if side % 2 == 0 else 3, 2, 1, bias=bias)


def widths(base: int, k: int, cap: int = 8) -> list[int]:
    """Channel widths from the s0 level up to the last hidden level: base*2^(k-1) ... base."""
    return [base * min(2 ** (k - 1 - i), cap) for i in range(k)]


class DCGANGenerator(ConfigModule):
    def __init__(self, z_dim: int, channels: int, resolution: int, width: int = 64, cond_dim: int = 0,
                 g_cond: str = "cbn", s0: int = 0):
        super().__init__(z_dim=z_dim, channels=channels, resolution=resolution, width=width,
                         cond_dim=cond_dim, g_cond=g_cond, **({"s0": s0} if s0 else {}))
        self.z_dim, self.cond_dim, self.g_cond = z_dim, cond_dim, g_cond
        side = sizes(resolution, s0)
        s0, k = side[0], len(side) - 1
        ch = widths(width, k)
        self.s0, self.ch0 = s0, ch[0]
        bn_cond = cond_dim if g_cond == "cbn" else 0
        in_dim = z_dim + (cond_dim if g_cond == "concat" else 0)
        self.fc = nn.Linear(in_dim, ch[0] * s0 * s0, bias=False)
        self.norms = nn.ModuleList([CondBatchNorm(ch[0], bn_cond)])
        self.ups = nn.ModuleList()
        for i in range(1, k):
            self.ups.append(up(ch[i - 1], ch[i], side[i]))
            self.norms.append(CondBatchNorm(ch[i], bn_cond))
        self.out = up(ch[-1], channels, side[-1], bias=True)

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None, **_) -> torch.Tensor:
        h = torch.cat([z, c], dim=1) if self.cond_dim and self.g_cond == "concat" else z
        first = self.ups[0] if len(self.ups) else self.out
        h = like(self.fc(h).view(z.shape[0], self.ch0, self.s0, self.s0), first.weight)
        h = torch.relu(self.norms[0](h, c))
        for up, norm in zip(self.ups, self.norms[1:]):
            h = torch.relu(norm(up(h), c))
        return torch.tanh(self.out(h))                   # (b, c, res, res)


class DCGANDiscriminator(ConfigModule):
    def __init__(self, channels: int, resolution: int, width: int = 64, cond_dim: int = 0,
                 d_cond: str = "projection", num_classes: int = 0, acgan: bool = False,
                 spectral_norm: bool = False, mbstd: bool = False, pack_size: int = 1, norm: str = "bn",
                 aux_twin: bool = False, s0: int = 0):
        super().__init__(channels=channels, resolution=resolution, width=width, cond_dim=cond_dim,
                         d_cond=d_cond, num_classes=num_classes, acgan=acgan, spectral_norm=spectral_norm,
                         mbstd=mbstd, pack_size=pack_size, norm=norm, aux_twin=aux_twin, **({"s0": s0} if s0 else {}))
        side = sizes(resolution, s0)[::-1]              # image side first
        s0, k = side[-1], len(side) - 1
        ch = list(reversed(widths(width, k)))           # base ... base*2^(k-1)
        self.m, self.d_cond = pack_size, d_cond
        self.cond_dim = cond_dim if d_cond != "none" else 0
        in_ch = channels * pack_size
        if self.cond_dim and d_cond == "concat":
            in_ch += cond_dim * pack_size                # condition broadcast as extra planes
        layers: list[nn.Module] = []
        for i, c_out in enumerate(ch):
            layers.append(maybe_sn(down(in_ch, c_out, side[i], bias=norm != "bn" or i == 0), spectral_norm))
            if i > 0 and norm == "bn":
                layers.append(BatchNorm(c_out))
            layers.append(nn.LeakyReLU(0.2))
            in_ch = c_out
        if mbstd:
            layers.append(MinibatchStd())
            in_ch += 1
        self.body = nn.Sequential(*layers)
        feat = in_ch * s0 * s0                           # DCGAN's head: the last feature map, flattened
        self.head = maybe_sn(nn.Linear(feat, 1), spectral_norm)
        self.proj = Projection(cond_dim * pack_size, feat, spectral_norm) if self.cond_dim and d_cond == "projection" else None
        aux_out = num_classes * (2 if aux_twin else 1)      # TAC-GAN: [classifier | twin classifier]
        self.aux = maybe_sn(nn.Linear(feat, aux_out), spectral_norm) if acgan and num_classes else None

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None):
        x = pack(x, self.m)                              # (b/m, m*c, h, w)
        cp = pack(c, self.m) if (c is not None and self.cond_dim) else None
        if self.d_cond == "concat" and cp is not None:
            planes = cp[:, :, None, None].expand(-1, -1, *x.shape[2:]).to(x.dtype)
            x = torch.cat([x, planes], dim=1)
        h = flatten(self.body(x))                        # (b/m, c*s0*s0)
        return judge(h, cp, self.head, self.proj, self.aux)


def d_norm(cfg: ModelConfig, loss_name: str = "") -> str:
    """BatchNorm in D unless a per-sample gradient penalty or spectral norm makes it harmful."""
    norm = SharedOptions.value(cfg.extra, "d_norm")
    if norm != "auto":
        return norm
    return "none" if (cfg.spectral_norm or DCGANOptions.value(cfg.extra, "gradient_penalty")) else "bn"


@register("model", "dcgan", options=DCGANOptions)
def build_dcgan(cfg: ModelConfig, with_discriminator: bool = True):
    s0 = DCGANOptions.read(cfg.extra).s0
    g = DCGANGenerator(cfg.z_dim, cfg.channels, cfg.resolution, cfg.g_width, cfg.cond_dim, cfg.g_cond, s0)
    if not with_discriminator:
        return g, None
    d = DCGANDiscriminator(cfg.channels, cfg.resolution, cfg.d_width, cfg.cond_dim, cfg.d_cond, cfg.num_classes,
                           cfg.acgan, cfg.spectral_norm, cfg.mbstd, cfg.pack, d_norm(cfg), cfg.acgan_twin, s0)
    return g, d
