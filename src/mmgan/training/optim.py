"""Optimizers."""
from __future__ import annotations

import torch


def adam(params, lr: float, betas: tuple[float, float]) -> torch.optim.Adam:
    """Adam with the fused kernel (CUDA and CPU: one pass over each tensor, ~4x faster than foreach on
    CPU), falling back to foreach where fused is not supported (other devices, dtypes)."""
    params = list(params)
    try:
        return torch.optim.Adam(params, lr=lr, betas=betas, fused=True)
    except (RuntimeError, ValueError):
        return torch.optim.Adam(params, lr=lr, betas=betas, foreach=True)
