"""Exponential moving average of the generator's weights (Karras et al.)."""
from __future__ import annotations

import copy

import torch
import torch.nn as nn


def make_ema(G: nn.Module) -> nn.Module:
    ema = copy.deepcopy(G).eval()
    for p in ema.parameters():
        p.requires_grad_(False)
    return ema


@torch.no_grad()
def update_ema(ema: nn.Module, G: nn.Module, decay: float) -> None:
    params = list(ema.parameters())
    if params:
        torch._foreach_lerp_(params, [p.detach() for p in G.parameters()], 1.0 - decay)
    buffers = list(ema.buffers())
    if buffers:
        torch._foreach_copy_(buffers, list(G.buffers()))
