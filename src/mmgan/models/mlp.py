"""The classic fully connected GAN (Goodfellow et al. 2014), for vectors and small images.

G: z -> 256 -> 512 -> 1024 -> data (ReLU, tanh out); D: data -> 1024 -> 512 -> 256 -> 1 (LeakyReLU).
`model.extra.g_out: linear` drops the tanh (vector data is then modelled in its own units).
`model.extra.d_fourier: N` feeds D random Fourier features [sin Bx, cos Bx] of its input (N frequencies,
scales log-spaced up to `d_fourier_scale`; Tancik et al. 2020) so it resolves narrow structure in
low-dimensional data: the rejection-sampling critic of vector data uses it (mmgan.sampling.drs).
Conditions: G takes them by conditional batch-norm or concatenation to z; D by projection or
concatenation; an optional auxiliary classifier head (AC-GAN).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn

from ..config import ModelConfig
from ..model_options import Options, option
from ..registry import register
from .base import ConfigModule
from .layers import CondBatchNorm, MinibatchStd, Projection, judge, maybe_sn, pack


@dataclass(frozen=True)
class MLPOptions(Options):
    g_norm: str = option("bn", "generator normalization: bn (conditional batch-norm) or none", choices=("bn", "none"))
    g_out: str = option("tanh", "generator output: tanh, or linear (vector data modelled in its own units)",
                        choices=("tanh", "linear"))
    d_fourier: int = option(0, "D reads this many random Fourier features of its input (0 = off)")
    d_fourier_scale: float = option(100.0, "highest frequency of d_fourier, per data unit")
    data_scale: float = option(1.0, "vector data are scaled by this for training and back after sampling; "
                                    "resolution sets it (0.9 / the data's peak under tanh, 1 for linear)")


class MLPGenerator(ConfigModule):
    def __init__(self, z_dim: int, out_shape: list, hidden: list, cond_dim: int = 0, g_cond: str = "cbn",
                 norm: str = "bn", out: str = "tanh"):
        if out not in ("tanh", "linear"):
            raise ValueError(f"model.extra.g_out must be tanh or linear, got {out!r}")
        super().__init__(z_dim=z_dim, out_shape=list(out_shape), hidden=list(hidden), cond_dim=cond_dim, g_cond=g_cond,
                         norm=norm, out=out)
        self.out_act = out
        self.z_dim, self.out_shape, self.cond_dim, self.g_cond = z_dim, tuple(out_shape), cond_dim, g_cond
        in_dim = z_dim + (cond_dim if g_cond == "concat" else 0)
        bn_cond = cond_dim if g_cond == "cbn" else 0
        self.linears = nn.ModuleList()
        self.norms = nn.ModuleList()
        for h in hidden:
            self.linears.append(nn.Linear(in_dim, h))
            self.norms.append(CondBatchNorm(h, bn_cond, dims=1, norm=norm))
            in_dim = h
        self.out = nn.Linear(in_dim, math.prod(out_shape))

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None, **_) -> torch.Tensor:
        h = torch.cat([z, c], dim=1) if self.cond_dim and self.g_cond == "concat" else z
        for lin, norm in zip(self.linears, self.norms):
            h = torch.relu(norm(lin(h), c))
        y = self.out(h)
        return (torch.tanh(y) if self.out_act == "tanh" else y).view(z.shape[0], *self.out_shape)


class MLPDiscriminator(ConfigModule):
    def __init__(self, in_shape: list, hidden: list, cond_dim: int = 0, d_cond: str = "projection",
                 num_classes: int = 0, acgan: bool = False, spectral_norm: bool = False,
                 mbstd: bool = False, pack_size: int = 1, fourier: int = 0, fourier_scale: float = 100.0,
                 aux_twin: bool = False):
        super().__init__(in_shape=list(in_shape), hidden=list(hidden), cond_dim=cond_dim, d_cond=d_cond,
                         num_classes=num_classes, acgan=acgan, spectral_norm=spectral_norm, mbstd=mbstd,
                         pack_size=pack_size, fourier=fourier, fourier_scale=fourier_scale, aux_twin=aux_twin)
        self.m = pack_size
        self.cond_dim = cond_dim if d_cond != "none" else 0
        self.d_cond = d_cond
        in_dim = math.prod(in_shape)
        self.register_buffer("fourier", fourier_frequencies(in_dim, fourier, fourier_scale) if fourier else None)
        if fourier:
            in_dim = 2 * fourier
        in_dim *= pack_size
        if self.cond_dim and d_cond == "concat":
            in_dim += cond_dim * pack_size
        layers: list[nn.Module] = []
        for i, h in enumerate(hidden):
            if mbstd and i == len(hidden) - 1:
                layers.append(_FlatMbstd())
                in_dim += 1
            layers += [maybe_sn(nn.Linear(in_dim, h), spectral_norm), nn.LeakyReLU(0.2)]
            in_dim = h
        self.body = nn.Sequential(*layers)
        self.head = maybe_sn(nn.Linear(in_dim, 1), spectral_norm)
        self.proj = Projection(cond_dim * pack_size, in_dim, spectral_norm) if self.cond_dim and d_cond == "projection" else None
        aux_out = num_classes * (2 if aux_twin else 1)      # TAC-GAN: [classifier | twin classifier]
        self.aux = maybe_sn(nn.Linear(in_dim, aux_out), spectral_norm) if acgan and num_classes else None

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None):
        x = x.flatten(1)
        if self.fourier is not None:
            h = x.float() @ self.fourier
            x = torch.cat([h.sin(), h.cos()], dim=1)
        x = pack(x, self.m)                              # (b/m, m*d)
        cp = pack(c, self.m) if (c is not None and self.cond_dim) else None
        if self.d_cond == "concat" and cp is not None:
            x = torch.cat([x, cp], dim=1)
        h = self.body(x)
        return judge(h, cp, self.head, self.proj, self.aux)


def fourier_frequencies(dim: int, n: int, max_scale: float, seed: int = 0) -> torch.Tensor:
    """(dim, n) random directions with lengths log-spaced from 1 to max_scale (fixed seed: the same
    features every time a model is built; they are also saved with the weights)."""
    g = torch.Generator().manual_seed(seed)
    dirs = torch.randn(dim, n, generator=g)
    dirs = dirs / dirs.norm(dim=0, keepdim=True)
    return dirs * torch.logspace(0, math.log10(max_scale), n)


class _FlatMbstd(nn.Module):
    def __init__(self):
        super().__init__()
        self.inner = MinibatchStd()

    def forward(self, x):
        return self.inner(x.unsqueeze(-1)).squeeze(-1)


@register("model", "mlp", options=MLPOptions)
def build_mlp(cfg: ModelConfig, with_discriminator: bool = True):
    o = MLPOptions.read(cfg.extra)
    shape = [cfg.data_dim] if cfg.data_dim else [cfg.channels, cfg.resolution, cfg.resolution]
    g = MLPGenerator(cfg.z_dim, shape, cfg.g_hidden, cfg.cond_dim, cfg.g_cond, o.g_norm, o.g_out)
    if not with_discriminator:
        return g, None
    d = MLPDiscriminator(shape, cfg.d_hidden, cfg.cond_dim, cfg.d_cond, cfg.num_classes, cfg.acgan,
                         cfg.spectral_norm, cfg.mbstd, cfg.pack, o.d_fourier, o.d_fourier_scale, cfg.acgan_twin)
    return g, d
