"""Progressive growing (Karras et al. 2018, ProGAN): training starts at s0 x s0 and fades in each
doubling of the resolution until the full size (resolution = s0 * 2^k, s0 in 4..7, as in dcgan).

Both networks hold every level from the start and expose their current `stage` (0 = s0 x s0) and
fade `alpha` (buffers, saved with the weights). The phases "progressive" set them from the
training step before every phase, so the loop stays generic:
  - G renders at the current stage, blending the upsampled previous level's output while a new
    level fades in, and returns images at the full resolution (nearest upsampling), so the
    Pipeline, sample grids and metrics always see full-size images;
  - D average-pools whatever it gets (full-size reals, full-size fakes) to the current stage and
    fades its new input level in the same way, so reals are downsampled inside D.

Schedule (model.extra): stage_steps (steps per stage, an int or a list per stage; default 1000)
and fade_steps (steps of the fade at the start of each new stage; default half a stage).
Equalized learning rate, pixel norm in G, minibatch-std in D, label/multimodal conditions by
concatenating an embedded c to z (G) and projection (D).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn as nn

from ..config import ModelConfig
from ..model_options import Options, option
from ..registry import register
from .base import ConfigModule
from .dcgan import plan
from .layers import pack
from .style_layers import DEpilogue, EqualConv2d, EqualLinear, down2, level_widths, normalize_2nd_moment, \
    pixel_norm, resize_to


@dataclass(frozen=True)
class ProgressiveOptions(Options):
    phases: ClassVar[str] = "progressive"    # its step logic (loss.phases; resolve() writes it)
    stage_steps: int | list[int] = option(1000, "training steps per stage: one for every stage, or a list "
                                                "with one per stage")
    fade_steps: int = option(-1, "steps of the fade-in at the start of each new stage (-1 = half a stage)")
    max_width: int = option(256, "channel cap of G and D (widths double going down from g_width / d_width)")
    mbstd: bool = option(True, "minibatch standard deviation in D")


def stage_at(step: int, levels: int, stage_steps, fade_steps: int) -> tuple[int, float]:
    """(stage, alpha) at a training step: stage i lasts stage_steps[i] steps; it fades in over its
    first fade_steps steps (alpha 0 -> 1); the last stage lasts for ever."""
    lengths = list(stage_steps) if isinstance(stage_steps, (list, tuple)) else [int(stage_steps)] * levels
    lengths = (lengths + [lengths[-1]] * levels)[:levels]
    stage, start = 0, 0
    while stage < levels - 1 and step >= start + lengths[stage]:
        start += lengths[stage]
        stage += 1
    if stage == 0 or fade_steps <= 0:
        return stage, 1.0
    return stage, min(1.0, (step - start) / fade_steps)


class _Staged(ConfigModule):
    """What G and D share: the stage/alpha buffers and the schedule."""

    def _init_stage(self, levels: int, stage_steps, fade_steps: int):
        self.levels, self.stage_steps, self.fade_steps = levels, stage_steps, fade_steps
        self.register_buffer("stage", torch.zeros((), dtype=torch.long))
        self.register_buffer("alpha", torch.ones(()))

    def set_stage(self, stage: int, alpha: float = 1.0) -> None:
        if not 0 <= stage < self.levels:
            raise ValueError(f"stage must be in 0..{self.levels - 1}, got {stage}")
        self.stage.fill_(int(stage))
        self.alpha.fill_(float(alpha))

    def set_step(self, step: int) -> None:
        self.set_stage(*stage_at(step, self.levels, self.stage_steps, self.fade_steps))

    @property
    def current_resolution(self) -> int:
        return self.s0 * 2 ** int(self.stage)


class ProgressiveGenerator(_Staged):
    phases = ProgressiveOptions.phases        # the step logic the trainer uses

    def __init__(self, z_dim: int, channels: int, resolution: int, width: int = 16, cond_dim: int = 0,
                 max_width: int = 256, stage_steps=1000, fade_steps: int = -1):
        fade = int(fade_steps) if fade_steps >= 0 else _first(stage_steps) // 2
        super().__init__(z_dim=z_dim, channels=channels, resolution=resolution, width=width, cond_dim=cond_dim,
                         max_width=max_width, stage_steps=stage_steps, fade_steps=fade)
        self.s0, k = plan(resolution)
        self.resolution, self.cond_dim = resolution, cond_dim
        ch = level_widths(width, k + 1, max_width)
        self._init_stage(k + 1, stage_steps, fade)
        self.embed = EqualLinear(cond_dim, z_dim) if cond_dim else None
        in_dim = z_dim * (2 if cond_dim else 1)
        self.fc = EqualLinear(in_dim, ch[0] * self.s0 * self.s0, act=True)
        self.conv0 = EqualConv2d(ch[0], ch[0], 3, act=True)
        self.blocks = nn.ModuleList([nn.ModuleList([EqualConv2d(ch[i - 1], ch[i], 3, act=True),
                                                    EqualConv2d(ch[i], ch[i], 3, act=True)]) for i in range(1, k + 1)])
        self.to_rgb = nn.ModuleList([EqualConv2d(c, channels, 1) for c in ch])
        self.ch0 = ch[0]

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None, **_) -> torch.Tensor:
        x = normalize_2nd_moment(z)
        if self.cond_dim:
            if c is None:
                raise ValueError("this generator is conditional: pass a condition vector c")
            x = torch.cat([x, normalize_2nd_moment(self.embed(c.to(x.dtype)))], dim=1)
        h = pixel_norm(self.fc(x).view(z.shape[0], self.ch0, self.s0, self.s0))
        h = pixel_norm(self.conv0(h))
        stage, alpha = int(self.stage), float(self.alpha)
        prev = h
        for block in self.blocks[:stage]:
            prev = h
            h = nn.functional.interpolate(h, scale_factor=2, mode="nearest")
            for conv in block:
                h = pixel_norm(conv(h))
        img = self.to_rgb[stage](h)
        if stage > 0 and alpha < 1.0:                                 # fade the new level in
            old = nn.functional.interpolate(self.to_rgb[stage - 1](prev), scale_factor=2, mode="nearest")
            img = old.lerp(img, alpha)
        return torch.tanh(resize_to(img, self.resolution))           # (b, c, res, res) at every stage


class ProgressiveDiscriminator(_Staged):
    def __init__(self, channels: int, resolution: int, width: int = 16, cond_dim: int = 0, max_width: int = 256,
                 stage_steps=1000, fade_steps: int = -1, pack_size: int = 1, mbstd: bool = True):
        fade = int(fade_steps) if fade_steps >= 0 else _first(stage_steps) // 2
        super().__init__(channels=channels, resolution=resolution, width=width, cond_dim=cond_dim,
                         max_width=max_width, stage_steps=stage_steps, fade_steps=fade, pack_size=pack_size,
                         mbstd=mbstd)
        self.s0, k = plan(resolution)
        ch = level_widths(width, k + 1, max_width)                   # lowest resolution first
        self._init_stage(k + 1, stage_steps, fade)
        self.m = pack_size
        self.from_rgb = nn.ModuleList([EqualConv2d(channels * pack_size, c, 1, act=True) for c in ch])
        # blocks[i-1] takes level i (s0*2^i) down to level i-1
        self.blocks = nn.ModuleList([nn.Sequential(EqualConv2d(ch[i], ch[i], 3, act=True),
                                                   EqualConv2d(ch[i], ch[i - 1], 3, act=True, stride=2))
                                     for i in range(1, k + 1)])
        self.epilogue = DEpilogue(ch[0], self.s0, cond_dim * pack_size, mbstd_group=4 if mbstd else 0)

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None):
        stage, alpha = int(self.stage), float(self.alpha)
        x = resize_to(pack(x, self.m), self.current_resolution)     # reals and fakes alike, to this stage
        h = self.from_rgb[stage](x)
        if stage > 0:
            h = self.blocks[stage - 1](h)
            if alpha < 1.0:                                            # fade the new input level in
                h = self.from_rgb[stage - 1](down2(x)).lerp(h, alpha)
            for block in reversed(self.blocks[: stage - 1]):
                h = block(h)
        cp = pack(c, self.m) if (c is not None and self.epilogue.proj is not None) else None
        return self.epilogue(h, cp), None


def _first(stage_steps) -> int:
    return int(stage_steps[0] if isinstance(stage_steps, (list, tuple)) else stage_steps)


def schedule(cfg: ModelConfig) -> dict:
    o = ProgressiveOptions.read(cfg.extra)
    return dict(stage_steps=o.stage_steps, fade_steps=o.fade_steps)


@register("model", "progressive", options=ProgressiveOptions)
def build_progressive(cfg: ModelConfig, with_discriminator: bool = True):
    o = ProgressiveOptions.read(cfg.extra)
    g = ProgressiveGenerator(cfg.z_dim, cfg.channels, cfg.resolution, cfg.g_width, cfg.cond_dim, o.max_width,
                             **schedule(cfg))
    if not with_discriminator:
        return g, None
    d = ProgressiveDiscriminator(cfg.channels, cfg.resolution, cfg.d_width, cfg.cond_dim, o.max_width, **schedule(cfg),
                                 pack_size=cfg.pack, mbstd=o.mbstd)
    return g, d
