"""CycleGAN (Zhu et al. 2017): unpaired image-to-image translation between two domains A and B.

G is one module holding both directions (g_ab: A -> B, g_ba: B -> A), ResNet translators
(c7s1-w, two stride-2 downsamplings, residual blocks, two upsamplings, c7s1-C; instance norm);
D holds the two PatchGAN discriminators (d_a judges domain A, d_b domain B) and the two image
pools of past fakes (buffers, so they are saved with the checkpoint and a resumed run continues
exactly). Both live inside the trainer's saved modules, so checkpoints and resume work unchanged.

Training data: a two-domain dataset whose label is the domain (0 = A, 1 = B), e.g. the built-in
`shapes-palette` (warm <-> cool colours) or `mnist-rotated` (upright <-> rotated digits), with
model.condition=[label] so batches carry the domain. The phases "cycle" (mmgan.losses.cycle) own
the step: adversarial (LSGAN per patch), cycle-consistency and identity losses.

Inference: `G.translate(images, target)` (target domain index, 1 = A -> B); the Pipeline calls it
when given `image=` (`mmgan generate RUN --image in.png [--label cool]`, the label naming the
target domain). Called without images, G(z) returns a preview grid of stored examples:
[A, A->B, B, B->A] repeated, so sample grids during training show both directions.

Options (model.extra): res_blocks (6), downsamplings (2, the paper's), d_layers (PatchGAN depth;
2 up to 32 px, else 3), pool_size (50), examples (8), cycle_weight (10), identity_weight (0.5,
relative to cycle_weight).
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


@dataclass(frozen=True)
class CycleGANOptions(Options):
    phases: ClassVar[str] = "cycle"    # its step logic (loss.phases; resolve() writes it)
    res_blocks: int = option(6, "residual blocks of each translator")
    downsamplings: int = option(2, "stride-2 downsamplings of each translator (the paper's 2)")
    d_layers: int = option(0, "PatchGAN depth (0 = 2 up to 32 px, else 3)")
    pool_size: int = option(50, "past fakes each image pool keeps for D")
    examples: int = option(8, "stored examples of each domain that G(z) previews")
    cycle_weight: float = option(10.0, "weight of the cycle-consistency loss (phases cycle)")
    identity_weight: float = option(0.5, "weight of the identity loss, relative to cycle_weight (phases cycle)")


def _norm(ch: int) -> nn.Module:
    return nn.InstanceNorm2d(ch, affine=True)


class ResBlock(nn.Module):
    def __init__(self, ch: int):
        super().__init__()
        self.body = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(ch, ch, 3), _norm(ch), nn.ReLU(True),
                                  nn.ReflectionPad2d(1), nn.Conv2d(ch, ch, 3), _norm(ch))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResnetTranslator(nn.Module):
    """One direction: image (b, c, h, w) in [-1, 1] -> image of the same size."""

    def __init__(self, channels: int, width: int, blocks: int, downsamplings: int = 2):
        super().__init__()
        w = width
        layers = [nn.ReflectionPad2d(3), nn.Conv2d(channels, w, 7), _norm(w), nn.ReLU(True)]
        for i in range(downsamplings):
            layers += [nn.Conv2d(w * 2 ** i, w * 2 ** (i + 1), 3, 2, 1), _norm(w * 2 ** (i + 1)), nn.ReLU(True)]
        layers += [ResBlock(w * 2 ** downsamplings) for _ in range(blocks)]
        for i in reversed(range(downsamplings)):
            layers += [nn.ConvTranspose2d(w * 2 ** (i + 1), w * 2 ** i, 3, 2, 1, output_padding=1), _norm(w * 2 ** i),
                       nn.ReLU(True)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(w, channels, 7), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class CycleGenerator(ConfigModule):
    phases = CycleGANOptions.phases        # the step logic the trainer uses
    translates_images = True      # the Pipeline passes images to translate()

    def __init__(self, channels: int, resolution: int, width: int = 32, res_blocks: int = 6, examples: int = 8,
                 downsamplings: int = 2):
        super().__init__(channels=channels, resolution=resolution, width=width, res_blocks=res_blocks,
                         examples=examples, downsamplings=downsamplings)
        if resolution % 2 ** downsamplings:
            raise ValueError(f"cyclegan with {downsamplings} downsamplings needs a resolution divisible by "
                             f"{2 ** downsamplings}, got {resolution}; set data.resolution or extra.downsamplings")
        self.channels, self.resolution = channels, resolution
        self.g_ab = ResnetTranslator(channels, width, res_blocks, downsamplings)
        self.g_ba = ResnetTranslator(channels, width, res_blocks, downsamplings)
        # example inputs for previews (filled from the first training batches; saved with the weights)
        self.register_buffer("examples_a", torch.zeros(examples, channels, resolution, resolution))
        self.register_buffer("examples_b", torch.zeros(examples, channels, resolution, resolution))
        self.register_buffer("examples_n", torch.zeros(2, dtype=torch.long))

    def translate(self, x: torch.Tensor, target: torch.Tensor | int = 1) -> torch.Tensor:
        """Images to the target domain (1 = B: uses g_ab; 0 = A: uses g_ba), per sample."""
        target = torch.as_tensor(target, device=x.device).reshape(-1)
        if target.numel() == 1:
            target = target.expand(x.shape[0])
        if bool((target == 1).all()):
            return self.g_ab(x)
        if bool((target == 0).all()):
            return self.g_ba(x)
        out = torch.empty_like(x)
        to_b = target == 1
        out[to_b] = self.g_ab(x[to_b])
        out[~to_b] = self.g_ba(x[~to_b])
        return out

    @property
    def examples_full(self) -> bool:
        return bool((self.examples_n >= self.examples_a.shape[0]).all())

    @torch.no_grad()
    def remember_examples(self, a: torch.Tensor, b: torch.Tensor) -> None:
        """Fill the preview slots from training batches until full (a no-op afterwards)."""
        for i, (buf, x) in enumerate(((self.examples_a, a), (self.examples_b, b))):
            n = int(self.examples_n[i])
            take = min(buf.shape[0] - n, x.shape[0])
            if take > 0:
                buf[n:n + take] = x[:take].to(buf.dtype)
                self.examples_n[i] += take

    def preview(self, b: int) -> torch.Tensor:
        """b images: [A_j, A_j->B, B_j, B_j->A] for j = 0, 1, ... (examples cycled)."""
        k = -(-b // 4)
        idx = torch.arange(k, device=self.examples_a.device) % self.examples_a.shape[0]
        a, bb = self.examples_a[idx], self.examples_b[idx]
        out = torch.stack([a, self.g_ab(a), bb, self.g_ba(bb)], dim=1)
        return out.reshape(4 * k, *a.shape[1:])[:b]

    def forward(self, z: torch.Tensor | None = None, c: torch.Tensor | None = None, image: torch.Tensor | None = None,
                target: torch.Tensor | int | None = None, **_) -> torch.Tensor:
        if image is not None:
            return self.translate(image, 1 if target is None else target)
        if z is None:
            raise ValueError("cyclegan: pass image= (images to translate) or z (a preview of stored examples)")
        return self.preview(z.shape[0])


class PatchDiscriminator(nn.Module):
    """PatchGAN: a map of real/fake logits, one per overlapping patch."""

    def __init__(self, channels: int, width: int, layers: int):
        super().__init__()
        seq: list[nn.Module] = [nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        ch = width
        for i in range(1, layers):
            nxt = width * min(2 ** i, 8)
            seq += [nn.Conv2d(ch, nxt, 4, 2, 1), _norm(nxt), nn.LeakyReLU(0.2, True)]
            ch = nxt
        nxt = width * min(2 ** layers, 8)
        seq += [nn.Conv2d(ch, nxt, 4, 1, 1), _norm(nxt), nn.LeakyReLU(0.2, True), nn.Conv2d(nxt, 1, 4, 1, 1)]
        self.net = nn.Sequential(*seq)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)                                              # (b, 1, h', w')


class CycleDiscriminator(ConfigModule):
    def __init__(self, channels: int, resolution: int, width: int = 32, layers: int = 0, pool_size: int = 50,
                 cond_dim: int = 0):
        layers = layers or (2 if resolution <= 32 else 3)
        super().__init__(channels=channels, resolution=resolution, width=width, layers=layers, pool_size=pool_size,
                         cond_dim=cond_dim)
        self.d_a = PatchDiscriminator(channels, width, layers)
        self.d_b = PatchDiscriminator(channels, width, layers)
        self.pool_size = pool_size
        for dom in ("a", "b"):   # image pools of past fakes (Shrivastava et al. 2017)
            self.register_buffer(f"pool_{dom}", torch.zeros(pool_size, channels, resolution, resolution))
        self.register_buffer("pool_n", torch.zeros(2, dtype=torch.long))

    def patch(self, x: torch.Tensor, domain: str) -> torch.Tensor:
        return (self.d_a if domain == "a" else self.d_b)(x)

    @torch.no_grad()
    def pool(self, fakes: torch.Tensor, domain: str) -> torch.Tensor:
        """Each fake goes into the pool while it fills; afterwards, with probability 1/2 a stored
        fake is returned in its place (and the new one stored)."""
        if self.pool_size == 0:
            return fakes
        buf, i = (self.pool_a, 0) if domain == "a" else (self.pool_b, 1)
        out = fakes.clone()
        for j in range(fakes.shape[0]):
            n = int(self.pool_n[i])
            if n < self.pool_size:
                buf[n] = fakes[j].to(buf.dtype)
                self.pool_n[i] += 1
            elif torch.rand(()) < 0.5:
                k = int(torch.randint(0, self.pool_size, ()))
                out[j] = buf[k].to(out.dtype)
                buf[k] = fakes[j].to(buf.dtype)
        return out

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None):
        """One logit per image (the mean over patches): with c (one-hot domain) the matching
        domain's discriminator judges each image, without it both do (averaged)."""
        if c is not None and c.shape[-1] == 2:
            to_b = c.argmax(1) == 1
            out = x.new_empty(x.shape[0])
            if to_b.any():
                out[to_b] = self.d_b(x[to_b]).flatten(1).mean(1)
            if (~to_b).any():
                out[~to_b] = self.d_a(x[~to_b]).flatten(1).mean(1)
            return out, None
        return 0.5 * (self.d_a(x).flatten(1).mean(1) + self.d_b(x).flatten(1).mean(1)), None


def loss_options(cfg: ModelConfig) -> dict:
    o = CycleGANOptions.read(cfg.extra)
    return {"cycle_weight": o.cycle_weight, "identity_weight": o.identity_weight}


@register("model", "cyclegan", options=CycleGANOptions)
def build_cyclegan(cfg: ModelConfig, with_discriminator: bool = True):
    if cfg.pack > 1:
        raise ValueError("cyclegan does not support model.pack > 1")
    o = CycleGANOptions.read(cfg.extra)
    g = CycleGenerator(cfg.channels, cfg.resolution, cfg.g_width, o.res_blocks, o.examples, o.downsamplings)
    g.loss_options = loss_options(cfg)
    if not with_discriminator:
        return g, None
    d = CycleDiscriminator(cfg.channels, cfg.resolution, cfg.d_width, o.d_layers, o.pool_size, cfg.cond_dim)
    return g, d
