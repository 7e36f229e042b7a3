"""The G/D step logic by phase (StyleGAN2-ADA style): the loss owns it, the loop only orchestrates.

Phases: "D" (main discriminator loss), "Dreg" (R1 / WGAN-GP penalties, lazily every r1_every
steps), "G" (generator loss + AC-GAN + mode-seeking). Each call accumulates gradients and returns
detached statistics; the loop zeroes grads and steps the optimizers.

Savings that leave the algorithm as the DCGAN paper writes it: the G phase reuses the fakes of the
last D phase (`loss.reuse_fakes`: G runs once per step, as in the DCGAN reference code, instead of once
more for the G phase); D's weights are frozen while G learns (no gradient is computed for weights the G
step would throw away); and a D without batch-coupled layers (BatchNorm, minibatch std) judges reals and
fakes in one pass. Under torchrun the phases are unchanged: each rank works on its share of the global
batch and the loop averages the gradients (distributed.sync_grads) before each optimizer step.
"""
from __future__ import annotations

import contextlib
from typing import Callable, Iterator

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..config import LossConfig
from ..registry import build, register
from .augment import DiffAugment
from ..models.layers import couples_batch
from .. import distributed as dist


@contextlib.contextmanager
def frozen(module: nn.Module) -> Iterator[nn.Module]:
    """The module with requires_grad off on its weights for the duration (restored after)."""
    params = [p for p in module.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    try:
        yield module
    finally:
        for p in params:
            p.requires_grad_(True)


@register("phases", "standard")
class GANLoss:
    # loss options beyond the common ones that only some phases read: training.setup refuses one that is set
    # while the chosen phases do not read it
    EXTRA_OPTIONS: tuple[str, ...] = ()

    def __init__(self, G: nn.Module, D: nn.Module, cfg: LossConfig, z_dim: int, pack: int = 1,
                 autocast: Callable[[], contextlib.AbstractContextManager] | None = None,
                 compile_mode: str | None = None, conditioner=None, **_):
        self.G, self.D, self.cfg, self.z_dim, self.pack = G, D, cfg, z_dim, pack
        # loss.mismatch: a conditioner may say how to mismatch its conditions (a voice conditioner swaps the voice
        # alone, so D learns to check the voice and not only the label); else the whole condition is rolled by one
        self.mismatched = getattr(conditioner, "mismatched", None) or (lambda c: c.roll(1, 0))
        if cfg.ms_tau < 0:
            raise ValueError(f"loss.ms_tau must be 0 (MSGAN) or a positive target ratio (DSGAN), got {cfg.ms_tau}")
        if cfg.ms_pool < 1:
            raise ValueError(f"loss.ms_pool must be 1 (no pooling) or more, got {cfg.ms_pool}")
        # torch.compile (train.compile): G and D forward passes run compiled; the penalties that
        # differentiate twice (R1, WGAN-GP) call D eagerly, as compiled graphs have no double backward
        self.G_run, self.D_run = G, D
        if compile_mode:
            self.G_run = torch.compile(G, mode=compile_mode)
            self.D_run = torch.compile(D, mode=compile_mode)
        self.obj = build("loss", cfg.name)
        self.augment = DiffAugment(cfg.diffaug)
        self.autocast = autocast or contextlib.nullcontext
        # the loop sets keep_fake on the last D phase before a G phase; g_main then reuses that batch
        self.keep_fake, self.step = False, 0
        self._kept: tuple[torch.Tensor, torch.Tensor] | None = None
        # reals and fakes in one D pass (larger GEMMs, half the calls) unless D's layers mix samples

        self.joint_d = not couples_batch(D)
        # TAC-GAN (Gong et al. 2019): D's aux head is [classifier | twin]; the twin learns the fakes' labels
        self.twin = bool(getattr(D, "config", {}).get("aux_twin", False))

    # ---- helpers ---------------------------------------------------------------------------
    def z(self, b: int, device) -> torch.Tensor:
        """Latents for this rank's share of the global batch: every rank draws the global batch
        from the same RNG stream and keeps its slice, so N processes match one process."""

        w = dist.world_size()
        z = torch.randn(b * w, self.z_dim, device=device)
        return z if w == 1 else z[dist.rank() * b : (dist.rank() + 1) * b]

    def run_d(self, x: torch.Tensor, c: torch.Tensor | None, D: nn.Module | None = None):
        with self.autocast():
            logits, aux = (self.D_run if D is None else D)(self.augment(x), c)
        return logits.float(), (aux.float() if aux is not None else None)

    def run_g(self, z: torch.Tensor, c: torch.Tensor | None, **kw) -> torch.Tensor:
        with self.autocast():
            return self.G_run(z, c, **kw).float()

    def aux_loss(self, aux: torch.Tensor | None, labels: torch.Tensor | None, head: str = "classifier") -> torch.Tensor:
        """AC-GAN's cross-entropy (x acgan_weight) of D's classifier head, or of its twin head (TAC-GAN)."""
        if aux is None or labels is None or (head == "twin" and not self.twin):
            return torch.zeros(())
        if self.twin:
            aux = aux.chunk(2, dim=1)[head == "twin"]
        return self.cfg.acgan_weight * F.cross_entropy(aux, labels)

    # ---- phases ----------------------------------------------------------------------------
    def accumulate(self, phase: str, real: torch.Tensor, c: torch.Tensor | None, labels: torch.Tensor | None,
                   step: int, **cond_kw) -> dict[str, torch.Tensor]:
        if phase == "D":
            return self.d_main(real, c, labels, **cond_kw)
        if phase == "Dreg":
            return self.d_reg(real, c, step, **cond_kw)
        if phase == "G":
            self.step = step
            return self.g_main(real.shape[0], real.device, c, labels, **cond_kw)
        raise ValueError(f"unknown phase {phase!r}")

    def top_k(self, logits: torch.Tensor) -> torch.Tensor:
        """Top-k training (Sinha et al. 2020): G learns only from the fakes D rates most real, a share
        falling linearly from 1 to loss.topk over loss.topk_ramp steps; the worst fakes' gradients
        point the wrong way once D has found the modes."""
        if self.cfg.topk >= 1:
            return logits
        share = 1 - (1 - self.cfg.topk) * min(1.0, self.step / max(1, self.cfg.topk_ramp))
        k = max(1, round(share * logits.shape[0]))
        return logits if k >= logits.shape[0] else logits.topk(k, dim=0).values

    def reusing_fakes(self) -> bool:
        return self.keep_fake and self.cfg.reuse_fakes and self.cfg.mode_seeking <= 0

    def d_main(self, real, c, labels, **cond_kw) -> dict[str, torch.Tensor]:
        z = self.z(real.shape[0], real.device)
        self._kept = None
        if self.reusing_fakes():
            fake = self.run_g(z, c, **cond_kw)           # with its graph: the G phase backpropagates into it
            self._kept = (fake, z)
            fake = fake.detach()
        else:
            with torch.no_grad():
                fake = self.run_g(z, c, **cond_kw)
        if self.joint_d:
            logits, aux_all = self.run_d(torch.cat([real, fake]), None if c is None else torch.cat([c, c]))
            r_logits, f_logits = logits.chunk(2)
            r_aux, f_aux = (None, None) if aux_all is None else aux_all.chunk(2)
        else:
            r_logits, r_aux = self.run_d(real, c)
            f_logits, f_aux = self.run_d(fake, c)
        adv = self.obj.d_loss(r_logits, f_logits)
        # the classifier learns the reals' labels; a twin head (TAC-GAN) the labels the fakes were drawn for
        aux = (self.aux_loss(r_aux, labels) + self.aux_loss(f_aux, labels, "twin")).to(adv.device)
        stats = {}
        if self.cfg.mismatch > 0 and c is not None and real.shape[0] > 1:
            m_logits, _ = self.run_d(real, self.mismatched(c))     # reals under another row's condition: fakes
            mis = self.cfg.mismatch * self.obj.d_fake(m_logits)
            adv = adv + mis
            stats = {"D/mismatch": m_logits.detach().mean(), "D/acc_mismatch": (r_logits > m_logits).float().mean()}
        (adv + aux).backward()
        return {"loss/D": adv.detach(), "loss/D_aux": aux.detach(),
                "D/real": r_logits.detach().mean(), "D/fake": f_logits.detach().mean(), **stats}

    def wants_reg(self, step: int) -> bool:
        return self.obj.gradient_penalty or (self.cfg.r1_gamma > 0 and step % max(1, self.cfg.r1_every) == 0)

    def d_reg(self, real, c, step, **cond_kw) -> dict[str, torch.Tensor]:
        stats: dict[str, torch.Tensor] = {}
        total = torch.zeros((), device=real.device)
        if self.obj.gradient_penalty:
            with torch.no_grad():
                fake = self.run_g(self.z(real.shape[0], real.device), c, **cond_kw)
            # one mixing weight per pack, so a pack of reals blends with a pack of fakes
            b = real.shape[0] // self.pack
            alpha = torch.rand(b, *([1] * (real.dim() - 1)), device=real.device).repeat_interleave(self.pack, 0)
            x = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
            logits, _ = self.run_d(x, c, self.D)
            (g,) = torch.autograd.grad(logits.sum(), x, create_graph=True)
            gp = ((g.flatten(1).norm(dim=1) - 1) ** 2).mean()
            total = total + self.cfg.gp_weight * gp
            stats["reg/gp"] = gp.detach()
        if self.cfg.r1_gamma > 0 and step % max(1, self.cfg.r1_every) == 0:
            x = real.detach().requires_grad_(True)
            logits, _ = self.run_d(x, c, self.D)
            (g,) = torch.autograd.grad(logits.sum(), x, create_graph=True)
            r1 = g.flatten(1).pow(2).sum(1).mean()
            total = total + 0.5 * self.cfg.r1_gamma * max(1, self.cfg.r1_every) * r1   # lazy: scale by interval
            stats["reg/r1"] = r1.detach()
        if total.requires_grad:
            total.backward()
        return stats

    def g_main(self, b, device, c, labels, **cond_kw) -> dict[str, torch.Tensor]:
        if self.cfg.mode_seeking > 0:
            c, labels = ms_pairs(c), ms_pairs(labels)
        kept, self._kept = self._kept, None
        if kept is not None and kept[0].shape[0] == b:
            fake, z = kept
        else:
            z = self.z(b, device)
            fake = self.run_g(z, c, **cond_kw)
        with frozen(self.D):
            logits, aux = self.run_d(fake, c)
            adv = self.obj.g_loss(self.top_k(logits))
            # TAC-GAN: G also makes its samples hard for the twin, which cancels AC-GAN's pull toward
            # easily classified samples (the two terms together estimate a divergence between the classes)
            total = adv + (self.aux_loss(aux, labels) - self.aux_loss(aux, labels, "twin")).to(adv.device)
            stats = {"loss/G": adv.detach()}
            if self.cfg.mode_seeking > 0 and b >= 2:
                ms = mode_seeking_term(fake, z, self.cfg.ms_tau, self.cfg.ms_pool)
                total = total + self.cfg.mode_seeking * ms
                stats["loss/G_ms"] = ms.detach()
            total.backward()
        return stats


def mode_seeking_term(fake: torch.Tensor, z: torch.Tensor, tau: float = 0.0, pool: int = 1) -> torch.Tensor:
    """The mode-seeking term between the two halves of a batch whose conditions were paired with
    `ms_pairs`, from ratio = mean|G(c,z2) - G(c,z1)| / mean|z2 - z1| (image distance per latent distance):
      tau = 0  MSGAN (Mao et al. 2019): 1 / (ratio + 1e-5); it keeps pushing, so a large weight trades
               the condition for variety (noise, background flicker) that the data does not have
      tau > 0  DSGAN (Yang et al. 2019), capped: max(0, 1 - ratio / tau), in [0, 1]; it pushes a collapsed
               generator as hard at any ratio below tau and not at all beyond, so samples of one
               condition vary as much as tau says and no more (tau ~ the real data's ratio)
    pool > 1 (loss.ms_pool) measures image distance on images average-pooled by `pool`: pixel-level texture
    (alternating stripes, speckle) then earns nothing, and G must vary what real samples of one condition vary
    (place, pose, size; on shapes 95% of the real pixel distance survives 2x2 pooling)."""
    if pool > 1 and fake.dim() == 4:
        fake = F.avg_pool2d(fake, pool)
    h = fake.shape[0] // 2
    d_img = (fake[:h] - fake[h : 2 * h]).abs().mean()
    d_z = (z[:h] - z[h : 2 * h]).abs().mean()
    if tau > 0:
        return torch.clamp(1.0 - (d_img / d_z) / tau, min=0.0)
    return 1.0 / (d_img / d_z + 1e-5)


def paired_l1(fake: torch.Tensor, real: torch.Tensor, pool: int = 1) -> torch.Tensor:
    """loss.recon's L1 between G(z, c) and the real image paired with c, on images average-pooled by
    `pool` (loss.recon_pool). At pool 1 its optimum is one image per condition whatever z is (the
    pixel median of the condition's images); pooled, it pins the layout (colour, place, size) and
    leaves the detail within a cell (rotation, jitter) to z."""
    if pool > 1:
        fake, real = F.avg_pool2d(fake, pool), F.avg_pool2d(real, pool)
    return (fake - real).abs().mean()


def matching_gradient_penalty(D: nn.Module, real: torch.Tensor, c: torch.Tensor, autocast) -> torch.Tensor:
    """DF-GAN's MA-GP term mean(||grad_(image, condition) D(real, c)||^6) on real matched pairs (no
    augmentation: the penalty is on the data itself). Returns the term; the caller weights it."""
    x = real.detach().requires_grad_(True)
    cc = c.detach().float().requires_grad_(True)
    with autocast():
        logits, _ = D(x, cc)
    gx, gc = torch.autograd.grad(logits.float().sum(), (x, cc), create_graph=True)
    return (gx.flatten(1).pow(2).sum(1) + gc.pow(2).sum(1)).sqrt().pow(6).mean()


def ms_pairs(c: torch.Tensor | None) -> torch.Tensor | None:
    """Make the second half of a batch reuse the first half's conditions (for the mode-seeking loss)."""
    if c is None:
        return None
    h = c.shape[0] // 2
    out = c.clone()
    out[h : 2 * h] = c[:h]
    return out
