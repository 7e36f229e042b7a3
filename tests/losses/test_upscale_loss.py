"""Phases "upscale": the PSNR step trains G alone; the GAN step trains D (relativistic) and G
(L1 + perceptual + adversarial)."""
from __future__ import annotations

import torch
import torch.nn as nn

from mmgan.config import LossConfig, ModelConfig
from mmgan.losses.upscale import UpscaleLoss, random_crops, relativistic_d, relativistic_g
from mmgan.models import build_gan


def _parts(family: str):
    torch.manual_seed(0)
    cfg = ModelConfig(family=family, channels=1, resolution=16, g_width=8, d_width=8,
                      extra={"scale": 2, "blocks": 1, "growth": 4, "patch": 8, "degrade": "blur,noise"})
    G, D = build_gan(cfg)
    phi = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU())
    return G, D, UpscaleLoss(G, D, LossConfig(), 8, features=phi if G.wants_features else None)


def test_psnr_step_leaves_d_alone():
    G, D, loss = _parts("srresnet")
    real = torch.rand(4, 1, 16, 16) * 2 - 1
    assert loss.accumulate("D", real, None, None, 0) == {}
    stats = loss.accumulate("G", real, None, None, 0)
    assert set(stats) == {"loss/G_pixel"}
    assert all(p.grad is None for p in D.parameters())
    assert all(p.grad is not None for p in G.parameters())
    assert G.examples_full is False and int(G.examples_n) == 4        # the preview slots fill from batches


def test_gan_step_trains_both():
    G, D, loss = _parts("esrgan")
    real = torch.rand(4, 1, 16, 16) * 2 - 1
    d = loss.accumulate("D", real, None, None, 0)
    assert {"loss/D", "D/real", "D/fake"} <= set(d)
    assert all(p.grad is not None for p in D.parameters())
    assert all(p.grad is None for p in G.parameters())
    D.zero_grad(set_to_none=True)
    g = loss.accumulate("G", real, None, None, 0)
    assert {"loss/G", "loss/G_pixel", "loss/G_perceptual"} <= set(g)
    assert all(p.grad is not None for p in G.parameters())
    assert all(p.grad is None for p in D.parameters())                # D frozen in the G step
    assert abs(loss.pixel_weight - 1e-2) < 1e-12                      # ESRGAN's weight unless given


def test_relativistic_losses_and_crops():
    r, f = torch.tensor([3.0, 2.0]), torch.tensor([-2.0, -3.0])
    assert relativistic_d(r, f) < relativistic_d(f, r)
    assert relativistic_g(r, f) > relativistic_g(f, r)
    g = torch.Generator().manual_seed(0)
    x = torch.arange(2 * 16 * 16, dtype=torch.float32).reshape(2, 1, 16, 16)
    a = random_crops(x, 8, g)
    assert a.shape == (2, 1, 8, 8)
    assert torch.equal(a, random_crops(x, 8, torch.Generator().manual_seed(0)))
