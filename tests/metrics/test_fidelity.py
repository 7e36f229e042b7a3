"""metrics.fidelity: PSNR/SSIM on Y with a border crop."""
from __future__ import annotations

import math

import torch

from mmgan.metrics.fidelity import psnr_y, ssim_y, to_y


def test_known_values():
    x = torch.zeros(2, 3, 16, 16)
    assert torch.allclose(to_y(x), torch.full((2, 1, 16, 16), 16 + 0.5 * 219.0), atol=1e-3)   # mid-grey
    y = x + 0.1                                       # every channel up by 0.05 of the range: Y up by 0.05 * 219
    assert abs(float(psnr_y(y, x)[0]) - 20 * math.log10(255 / (0.05 * 219))) < 1e-3
    grey = torch.zeros(1, 1, 16, 16)
    assert abs(float(psnr_y(grey + 0.1, grey)[0]) - 20 * math.log10(255 / (0.05 * 255))) < 1e-3   # grey is Y
    assert torch.allclose(ssim_y(x, x), torch.ones(2))
    noisy = (x + 0.3 * torch.randn(x.shape, generator=torch.Generator().manual_seed(0))).clamp(-1, 1)
    assert float(ssim_y(noisy, x)[0]) < 0.9
    assert psnr_y(noisy, x, border=2).shape == (2,)
