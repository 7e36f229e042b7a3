"""Fidelity of restored images to their originals, the super-resolution literature's way: PSNR and SSIM
on the luma (Y of ITU-R BT.601 YCbCr, MATLAB's rgb2ycbcr: 16..235) with `border` pixels cropped from
every side (the scale factor, by convention). On RGB instead of Y, PSNR comes out about 2 dB lower on
colour photos (the chroma errors count), so say which when quoting numbers.

Images are (b, c, h, w) tensors in [-1, 1], c = 1 (grey: taken as Y itself) or 3. Returned per image.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def to_y(x: torch.Tensor) -> torch.Tensor:
    """(b, 3, h, w) or (b, 1, h, w) in [-1, 1] -> (b, 1, h, w) luma in 0..255 (BT.601; grey passes through)."""
    x = (x.float().clamp(-1, 1) + 1) / 2                                # 0..1
    if x.shape[1] == 1:
        return x * 255
    w = torch.tensor([65.481, 128.553, 24.966], device=x.device).view(1, 3, 1, 1)
    return 16 + (x * w).sum(1, keepdim=True)


def _crop(x: torch.Tensor, border: int) -> torch.Tensor:
    return x[..., border:x.shape[-2] - border, border:x.shape[-1] - border] if border > 0 else x


def psnr_y(x: torch.Tensor, ref: torch.Tensor, border: int = 0) -> torch.Tensor:
    """(b,) PSNR in dB of x against ref on Y (0..255), `border` pixels cropped."""
    if x.shape != ref.shape:
        raise ValueError(f"psnr_y: shapes differ, {tuple(x.shape)} vs {tuple(ref.shape)}")
    a, b = _crop(to_y(x), border), _crop(to_y(ref), border)
    mse = (a - b).pow(2).flatten(1).mean(1).clamp_min(1e-10)
    return 10 * torch.log10(255.0 ** 2 / mse)


def ssim_y(x: torch.Tensor, ref: torch.Tensor, border: int = 0) -> torch.Tensor:
    """(b,) SSIM (Wang et al. 2004: 11x11 Gaussian window, sigma 1.5, K1 0.01, K2 0.03, valid region) on Y."""
    if x.shape != ref.shape:
        raise ValueError(f"ssim_y: shapes differ, {tuple(x.shape)} vs {tuple(ref.shape)}")
    a, b = _crop(to_y(x), border).double(), _crop(to_y(ref), border).double()
    if min(a.shape[-2:]) < 11:
        raise ValueError(f"ssim_y: images of {tuple(a.shape[-2:])} px after the border crop; SSIM needs 11 px")
    t = torch.arange(11, dtype=torch.float64) - 5
    g = torch.exp(-t ** 2 / (2 * 1.5 ** 2))
    g = g / g.sum()
    win = (g[:, None] * g[None, :])[None, None]

    def blur(z):
        return F.conv2d(z, win)

    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mu_a, mu_b = blur(a), blur(b)
    var_a, var_b = blur(a * a) - mu_a ** 2, blur(b * b) - mu_b ** 2
    cov = blur(a * b) - mu_a * mu_b
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2))
    return s.flatten(1).mean(1).float()
