"""Layout helpers of models/layers.py."""
from __future__ import annotations

import torch

from mmgan.config import ModelConfig
from mmgan.models import build_gan
from mmgan.models.layers import flatten, is_channels_last, like

CL = torch.channels_last


def test_flatten_keeps_values_order_and_gradient_layout():
    x = torch.randn(3, 5, 4, 4).contiguous(memory_format=CL).requires_grad_(True)
    y = flatten(x)
    assert torch.equal(y, x.detach().contiguous().flatten(1))            # (c, h, w) order, whatever the layout
    w = torch.randn_like(y)
    (g,) = torch.autograd.grad((y * w).sum(), x)
    assert is_channels_last(g)                                             # the gradient comes back channels_last
    assert torch.equal(g, w.view(3, 5, 4, 4))
    # plain flatten would hand back a contiguous gradient: the slow case `flatten` avoids
    (g2,) = torch.autograd.grad((x.flatten(1) * w).sum(), x)
    assert not is_channels_last(g2)


def test_flatten_supports_double_backward():
    """R1 and MA-GP differentiate D's gradient: the custom flatten must be twice differentiable."""
    x = torch.randn(2, 3, 4, 4).contiguous(memory_format=CL).requires_grad_(True)
    y = flatten(torch.tanh(x)).pow(2).sum()
    (g,) = torch.autograd.grad(y, x, create_graph=True)
    (gg,) = torch.autograd.grad(g.pow(2).sum(), x)
    x2 = x.detach().contiguous().requires_grad_(True)
    (g_ref,) = torch.autograd.grad(torch.tanh(x2).flatten(1).pow(2).sum(), x2, create_graph=True)
    (gg_ref,) = torch.autograd.grad(g_ref.pow(2).sum(), x2)
    torch.testing.assert_close(gg.contiguous(), gg_ref)


def test_like_follows_the_weight_layout():
    x = torch.randn(2, 8, 3, 3)
    w_cl = torch.randn(8, 4, 4, 4).contiguous(memory_format=CL)
    assert is_channels_last(like(x, w_cl)) and torch.equal(like(x, w_cl), x)
    assert like(x, torch.randn(8, 4, 4, 4)) is x


def test_dcgan_channels_last_matches_contiguous():
    torch.manual_seed(0)
    G, D = build_gan(ModelConfig(family="dcgan", channels=1, resolution=28, z_dim=8, g_width=8, d_width=8))
    z = torch.randn(4, 8)
    ref_img, (ref_logit, _) = G(z), D(G(z))
    G.to(memory_format=CL), D.to(memory_format=CL)
    img = G(z)
    torch.testing.assert_close(img, ref_img, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(D(img)[0], ref_logit, rtol=1e-4, atol=1e-5)
