"""Adversarial objectives, registered under kind "loss". Each gives D and G losses from logits."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

from ..registry import register


@dataclass(frozen=True)
class Objective:
    name: str
    d_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]   # (real_logits, fake_logits) -> scalar
    g_loss: Callable[[torch.Tensor], torch.Tensor]                  # fake_logits -> scalar
    d_real: Callable[[torch.Tensor], torch.Tensor]                  # one-sided terms (matching-aware D)
    d_fake: Callable[[torch.Tensor], torch.Tensor]
    gradient_penalty: bool = False                                  # WGAN-GP adds its penalty on interpolates


def _ns() -> Objective:
    return Objective(
        "ns",
        d_loss=lambda r, f: F.softplus(-r).mean() + F.softplus(f).mean(),
        g_loss=lambda f: F.softplus(-f).mean(),
        d_real=lambda r: F.softplus(-r).mean(),
        d_fake=lambda f: F.softplus(f).mean(),
    )


def _hinge() -> Objective:
    return Objective(
        "hinge",
        d_loss=lambda r, f: F.relu(1 - r).mean() + F.relu(1 + f).mean(),
        g_loss=lambda f: -f.mean(),
        d_real=lambda r: F.relu(1 - r).mean(),
        d_fake=lambda f: F.relu(1 + f).mean(),
    )


def _wgan_gp() -> Objective:
    return Objective(
        "wgan-gp",
        d_loss=lambda r, f: f.mean() - r.mean(),
        g_loss=lambda f: -f.mean(),
        d_real=lambda r: -r.mean(),
        d_fake=lambda f: f.mean(),
        gradient_penalty=True,
    )


def _lsgan() -> Objective:
    return Objective(
        "lsgan",
        d_loss=lambda r, f: 0.5 * ((r - 1) ** 2).mean() + 0.5 * (f**2).mean(),
        g_loss=lambda f: 0.5 * ((f - 1) ** 2).mean(),
        d_real=lambda r: 0.5 * ((r - 1) ** 2).mean(),
        d_fake=lambda f: 0.5 * (f**2).mean(),
    )


register("loss", "ns")(_ns)
register("loss", "hinge")(_hinge)
register("loss", "wgan-gp")(_wgan_gp)
register("loss", "lsgan")(_lsgan)
