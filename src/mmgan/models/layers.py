"""Building blocks shared by the model families.

Shape legend: b batch, c channels, h/w spatial, d features, m pack size.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from .. import distributed


class BatchNorm(nn.modules.batchnorm._BatchNorm):
    """BatchNorm (1-D or 2-D input) that, with several processes (torchrun), normalises with the statistics of
    the global batch: sums are all-reduced differentiably (distributed.sum_with_grad).
    Unlike nn.SyncBatchNorm it runs on CPU (gloo) as well, so N processes reproduce one process
    with the same global batch. State-dict compatible with nn.BatchNorm1d/2d."""

    def _check_input_dim(self, x):
        if x.dim() not in (2, 3, 4):
            raise ValueError(f"expected 2-D, 3-D or 4-D input, got {x.dim()}-D")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and distributed.collective()):
            return super().forward(x)
        dims = [0] + list(range(2, x.dim()))
        shape = (1, -1) + (1,) * (x.dim() - 2)
        n_local = x.numel() // x.shape[1]
        stats = torch.cat([x.sum(dims), (x * x).sum(dims), x.new_tensor([float(n_local)])])
        stats = distributed.sum_with_grad(stats)
        c = x.shape[1]
        n = stats[-1]
        mean = stats[:c] / n
        var = (stats[c : 2 * c] / n - mean * mean).clamp_min(0)
        with torch.no_grad():
            self.num_batches_tracked.add_(1)
            m = self.momentum
            self.running_mean.mul_(1 - m).add_(mean.detach(), alpha=m)
            self.running_var.mul_(1 - m).add_(var.detach() * n / (n - 1).clamp_min(1), alpha=m)
        y = (x - mean.view(shape)) / torch.sqrt(var.view(shape) + self.eps)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y


def maybe_sn(module: nn.Module, enabled: bool) -> nn.Module:
    return nn.utils.parametrizations.spectral_norm(module) if enabled else module


class CondBatchNorm(nn.Module):
    """BatchNorm whose scale and shift come from the condition vector (identity at init).

    With a one-hot label as condition this is class-conditional batch-norm; with a text or fused
    embedding it is FiLM on normalized features.
    """

    def __init__(self, num_features: int, cond_dim: int, dims: int = 2, norm: str = "bn"):
        super().__init__()
        if norm not in ("bn", "none"):
            raise ValueError(f"generator norm must be bn or none, got {norm!r}")
        self.cond_dim = cond_dim
        self.bn = BatchNorm(num_features, affine=cond_dim == 0) if norm == "bn" else nn.Identity()
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


def is_channels_last(t: torch.Tensor) -> bool:
    """True for a 4-D tensor laid out channels_last (and not also plain contiguous)."""
    return t.dim() == 4 and not t.is_contiguous() and t.is_contiguous(memory_format=torch.channels_last)


def like(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """x in the memory format of a conv weight. Elementwise backward kernels (ReLU, LeakyReLU, BN)
    fall off their fast path, up to 10x slower on CPU, when an activation and its gradient differ in
    layout; a freshly viewed (b, c, h, w) tensor feeding channels_last convs is such a case."""
    return x.contiguous(memory_format=torch.channels_last) if is_channels_last(weight) else x


class _FlattenKeepLayout(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.shape, ctx.cl = x.shape, is_channels_last(x)
        return x.reshape(x.shape[0], -1)

    @staticmethod
    def backward(ctx, g):
        g = g.reshape(ctx.shape)
        return g.contiguous(memory_format=torch.channels_last) if ctx.cl else g


def flatten(x: torch.Tensor) -> torch.Tensor:
    """x.flatten(1) in (c, h, w) order whatever the layout, whose gradient comes back in x's own layout
    (plain flatten hands a channels_last activation a contiguous gradient: see `like`)."""
    return _FlattenKeepLayout.apply(x) if is_channels_last(x) else x.flatten(1)


def couples_batch(module: nn.Module) -> bool:
    """True when some layer mixes samples of a batch (BatchNorm statistics, minibatch std), so that
    D(cat([a, b])) differs from cat([D(a), D(b)])."""
    return any(isinstance(m, (nn.modules.batchnorm._BatchNorm, MinibatchStd)) for m in module.modules())


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


def judge(h: torch.Tensor, cp: torch.Tensor | None, head: nn.Module, proj: nn.Module | None,
          aux: nn.Module | None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """A discriminator's outputs from its flattened features h (b, f): the realism logit (b,) plus, with a
    projection head, the projection of the packed condition cp; and the AC-GAN classifier's logits (None
    without that head)."""
    out = head(h).squeeze(1)
    if proj is not None:
        if cp is None:
            raise ValueError("this discriminator is conditional: pass c")
        out = out + proj(h, cp)
    return out, (aux(h) if aux is not None else None)

