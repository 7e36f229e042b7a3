"""metrics.fidelity: PSNR/SSIM on Y with a border crop."""
from __future__ import annotations

import math

import torch

from mmgan.metrics.fidelity import psnr_y, ssim_y, to_y


def test_known_values():
    x = torch.zeros(2, 3, 16, 16)
    assert torch.allclose(to_y(x), torch.full((2, 1, 16, 16), 16 + 0.5 * 219.0), atol=1e-3)
    y = x + 2 / 255 * 10 / 219 * 255 / 2 * 2        # Y moves by 10 grey levels... approximately
    p = psnr_y(y, x)
    assert p.shape == (2,) and abs(float(p[0]) - 20 * math.log10(255 / float((to_y(y) - to_y(x)).abs().mean()))) < 1e-3
    assert torch.allclose(ssim_y(x, x), torch.ones(2))
    noisy = (x + 0.3 * torch.randn_like(x)).clamp(-1, 1)
    assert float(ssim_y(noisy, x)[0]) < 0.9
    assert psnr_y(noisy, x, border=4).shape == (2,)
