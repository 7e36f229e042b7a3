"""Layers shared by the style-based families (stylegan2, progressive, gansformer).

Equalized learning rate (Karras et al. 2018): weights are drawn from N(0, 1) and scaled by
1/sqrt(fan_in) at run time, so Adam updates every layer at the same speed. Modulated convolution
(StyleGAN2): a per-sample style scales the input channels, demodulation renormalizes the output.

Shape legend: b batch, c channels, h/w spatial, d features.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from .layers import MinibatchStd

SQRT2 = math.sqrt(2.0)


def lrelu(x: torch.Tensor) -> torch.Tensor:
    """Leaky ReLU with the gain that keeps unit variance (StyleGAN's bias_act 'lrelu')."""
    return F.leaky_relu(x, 0.2) * SQRT2


def normalize_2nd_moment(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    return x * (x.square().mean(dim=1, keepdim=True) + eps).rsqrt()


def pixel_norm(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """ProGAN's pixelwise feature normalization over channels."""
    return x * (x.square().mean(dim=1, keepdim=True) + eps).rsqrt()


def up2(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


def down2(x: torch.Tensor) -> torch.Tensor:
    return F.avg_pool2d(x, 2)


def resize_to(x: torch.Tensor, size: int) -> torch.Tensor:
    """Average-pool down or nearest-upsample to size x size (exact inverses for powers of two)."""
    s = x.shape[-1]
    if s == size:
        return x
    if s > size:
        if s % size:
            return F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        return F.avg_pool2d(x, s // size)
    if size % s:
        return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    return F.interpolate(x, scale_factor=size // s, mode="nearest")


class EqualLinear(nn.Module):
    def __init__(self, in_dim: int, out_dim: int, bias: bool = True, bias_init: float = 0.0, lr_mul: float = 1.0,
                 act: bool = False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_dim, in_dim) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_dim,), float(bias_init))) if bias else None
        self.scale, self.lr_mul, self.act = lr_mul / math.sqrt(in_dim), lr_mul, act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = self.bias * self.lr_mul if self.bias is not None else None
        x = F.linear(x, self.weight * self.scale, b)
        return lrelu(x) if self.act else x


class EqualConv2d(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, kernel: int, bias: bool = True, act: bool = False, stride: int = 1):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(out_ch)) if bias else None
        self.scale, self.pad, self.act, self.stride = 1 / math.sqrt(in_ch * kernel * kernel), kernel // 2, act, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.conv2d(x, self.weight * self.scale, self.bias, stride=self.stride, padding=self.pad)
        return lrelu(x) if self.act else x


class ModulatedConv2d(nn.Module):
    """StyleGAN2 modulated/demodulated convolution, in its non-fused form (one ordinary convolution
    for the whole batch: scale inputs by the style, convolve, scale outputs by the demodulation
    coefficient); mathematically the same as the grouped per-sample weights. `up=True` doubles the
    size with a 4x4 stride-2 transposed convolution (computed at the input size: 4x cheaper than
    upsampling first; even overlap, so no checkerboard)."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, style_dim: int, demodulate: bool = True,
                 up: bool = False):
        super().__init__()
        kernel = 4 if up else kernel
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, kernel, kernel))
        self.affine = EqualLinear(style_dim, in_ch, bias_init=1.0)    # styles start at 1
        self.scale, self.pad = 1 / math.sqrt(in_ch * kernel * kernel), kernel // 2
        self.demodulate, self.up = demodulate, up

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        s = self.affine(w)                                          # (b, in)
        weight = self.weight * self.scale                            # (out, in, k, k)
        x = x * s[:, :, None, None].to(x.dtype)
        if self.up:
            y = F.conv_transpose2d(x, weight.transpose(0, 1).to(x.dtype), stride=2, padding=1)
        else:
            y = F.conv2d(x, weight.to(x.dtype), padding=self.pad)   # (b, out, h, w)
        if self.demodulate:
            # sum over in, k, k of (weight * s)^2 = weight^2 summed over k, k, times s^2, summed over in
            d = (s.square() @ weight.square().sum(dim=(2, 3)).t() + 1e-8).rsqrt()   # (b, out)
            if self.up:
                d = d * 2                                            # each output sums ~1/4 of the taps
            y = y * d[:, :, None, None].to(y.dtype)
        return y


class NoiseInjection(nn.Module):
    """Per-pixel noise scaled by a learned strength. Random while training; a fixed map in eval mode,
    so a seed gives the same image every time (StyleGAN's noise_mode='const')."""

    def __init__(self, resolution: int, seed: int):
        super().__init__()
        self.strength = nn.Parameter(torch.zeros(()))
        g = torch.Generator().manual_seed(seed)
        self.register_buffer("const", torch.randn(1, 1, resolution, resolution, generator=g), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            noise = torch.randn(x.shape[0], 1, *x.shape[2:], device=x.device, dtype=x.dtype)
        else:
            noise = self.const.to(x.dtype)
        return x + self.strength * noise


class StyleLayer(nn.Module):
    """Modulated conv -> noise -> bias -> leaky ReLU."""

    def __init__(self, in_ch: int, out_ch: int, style_dim: int, resolution: int, seed: int, up: bool = False):
        super().__init__()
        self.conv = ModulatedConv2d(in_ch, out_ch, 3, style_dim, up=up)
        self.noise = NoiseInjection(resolution, seed)
        self.bias = nn.Parameter(torch.zeros(out_ch))

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return lrelu(self.noise(self.conv(x, w)) + self.bias[:, None, None])


class ToRGB(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, style_dim: int):
        super().__init__()
        self.conv = ModulatedConv2d(in_ch, out_ch, 1, style_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(out_ch))

    def forward(self, x: torch.Tensor, w: torch.Tensor, skip: torch.Tensor | None = None) -> torch.Tensor:
        y = self.conv(x, w) + self.bias[:, None, None]
        return y if skip is None else y + up2(skip)


class MappingNetwork(nn.Module):
    """z (+ an embedded condition vector, StyleGAN2-ADA style) -> w through an MLP with lr_mul 0.01."""

    def __init__(self, z_dim: int, cond_dim: int, w_dim: int, layers: int = 4, lr_mul: float = 0.01):
        super().__init__()
        self.cond_dim = cond_dim
        self.embed = EqualLinear(cond_dim, w_dim) if cond_dim else None
        dims = [z_dim + (w_dim if cond_dim else 0)] + [w_dim] * layers
        self.net = nn.Sequential(*[EqualLinear(a, b, lr_mul=lr_mul, act=True) for a, b in zip(dims[:-1], dims[1:])])

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        x = normalize_2nd_moment(z)
        if self.cond_dim:
            if c is None:
                raise ValueError("this generator is conditional: pass a condition vector c")
            x = torch.cat([x, normalize_2nd_moment(self.embed(c.to(x.dtype)))], dim=1)
        return self.net(x)                                           # (b, w_dim)


class DBlock(nn.Module):
    """StyleGAN2 residual discriminator block: a 3x3 conv, a 3x3 stride-2 conv (computed at the
    output size), and a 1x1 skip on the 2x average-pooled input."""

    def __init__(self, in_ch: int, out_ch: int):
        super().__init__()
        self.conv0 = EqualConv2d(in_ch, in_ch, 3, act=True)
        self.conv1 = EqualConv2d(in_ch, out_ch, 3, act=True, stride=2)
        self.skip = EqualConv2d(in_ch, out_ch, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv1(self.conv0(x))
        return (self.skip(down2(x)) + y) / SQRT2


class DEpilogue(nn.Module):
    """Minibatch-std -> 3x3 conv -> fc -> logit, with an optional projection on the condition."""

    def __init__(self, in_ch: int, size: int, cond_dim: int = 0, mbstd_group: int = 4):
        super().__init__()

        self.mbstd = MinibatchStd(mbstd_group) if mbstd_group else None
        self.conv = EqualConv2d(in_ch + (1 if mbstd_group else 0), in_ch, 3, act=True)
        self.fc = EqualLinear(in_ch * size * size, in_ch, act=True)
        self.out = EqualLinear(in_ch, 1)
        self.proj = EqualLinear(cond_dim, in_ch, bias=False) if cond_dim else None

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        if self.mbstd is not None:
            x = self.mbstd(x)
        h = self.fc(self.conv(x).flatten(1))                        # (b, d)
        out = self.out(h).squeeze(1)
        if self.proj is not None:
            if c is None:
                raise ValueError("this discriminator is conditional: pass c")
            out = out + (self.proj(c.to(h.dtype)) * h).sum(dim=1) / math.sqrt(h.shape[1])
        return out


def level_widths(base: int, levels: int, cap: int) -> list[int]:
    """Channels per resolution level, lowest first: base * 2^(levels-1-i), capped at `cap`."""
    return [min(base * 2 ** (levels - 1 - i), cap) for i in range(levels)]
