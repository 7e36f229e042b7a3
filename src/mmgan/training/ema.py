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
    for pe, p in zip(ema.parameters(), G.parameters()):
        pe.lerp_(p.detach(), 1.0 - decay)
    for be, b in zip(ema.buffers(), G.buffers()):
        be.copy_(b)
