"""Building blocks shared by the model families.

Shape legend: b batch, c channels, h/w spatial, d features, m pack size.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


def maybe_sn(module: nn.Module, enabled: bool) -> nn.Module:
    return nn.utils.parametrizations.spectral_norm(module) if enabled else module


class CondBatchNorm(nn.Module):
    """BatchNorm whose scale and shift come from the condition vector (identity at init).

    With a one-hot label as condition this is class-conditional batch-norm; with a text or fused
    embedding it is FiLM on normalized features.
    """

    def __init__(self, num_features: int, cond_dim: int, dims: int = 2):
        super().__init__()
        bn = nn.BatchNorm2d if dims == 2 else nn.BatchNorm1d
        self.cond_dim = cond_dim
        self.bn = bn(num_features, affine=cond_dim == 0)
        if cond_dim:
            self.gamma = nn.Linear(cond_dim, num_features)
            self.beta = nn.Linear(cond_dim, num_features)
            for lin in (self.gamma, self.beta):
                nn.init.zeros_(lin.weight)
                nn.init.zeros_(lin.bias)

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        x = self.bn(x)
        if not self.cond_dim:
            return x
        if c is None:
            raise ValueError("this generator is conditional: pass a condition vector c")
        shape = (x.shape[0], -1) + (1,) * (x.dim() - 2)
        return x * (1 + self.gamma(c).view(shape)) + self.beta(c).view(shape)


class MinibatchStd(nn.Module):
    """Append the mean std across a group of samples as one extra feature (ProGAN/StyleGAN)."""

    def __init__(self, group_size: int = 4):
        super().__init__()
        self.group_size = group_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = x.shape[0]
        g = min(self.group_size, b)
        while b % g:
            g -= 1
        y = x.reshape(g, -1, *x.shape[1:])              # (g, b/g, ...)
        y = y.float().var(dim=0, unbiased=False).add(1e-8).sqrt()
        y = y.flatten(1).mean(dim=1)                     # (b/g,)
        y = y.repeat(g).to(x.dtype)                      # (b,)
        y = y.view(b, 1, *([1] * (x.dim() - 2))).expand(b, 1, *x.shape[2:])
        return torch.cat([x, y], dim=1)


def pack(x: torch.Tensor, m: int) -> torch.Tensor:
    """PacGAN: (b, c, ...) -> (b/m, m*c, ...) concatenating m consecutive samples."""
    if m == 1:
        return x
    b = x.shape[0]
    if b % m:
        raise ValueError(f"batch size {b} is not divisible by the pack size {m}")
    return x.reshape(b // m, m * x.shape[1], *x.shape[2:])


class Projection(nn.Module):
    """Projection discriminator head (Miyato & Koyama 2018): <embed(c), features>."""

    def __init__(self, cond_dim: int, feat_dim: int, sn: bool):
        super().__init__()
        self.embed = maybe_sn(nn.Linear(cond_dim, feat_dim, bias=False), sn)

    def forward(self, feats: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return (self.embed(c) * feats).sum(dim=1)
