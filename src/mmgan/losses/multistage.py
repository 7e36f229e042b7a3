"""Phases "multistage": StackGAN/AttnGAN training for a generator that returns every stage's image
(G(..., return_stages=True)) and a discriminator with one judge per stage (D(..., per_stage=True)).

  D:  every stage has its own loss (reals are downsampled to the stage's size), averaged over stages;
      with a condition it is matching-aware (GAN-CLS / DF-GAN): real images with mismatched
      conditions (the batch's conditions rolled by one) count as fake,
      L = real + (fake + mismatch_weight * mismatched) / 2
  G:  the objective at every stage, averaged, + kl_weight * KL of the conditioning augmentation, and
      on the last stage, as options shared with the "matching" phases:
        loss.contrastive  InfoNCE of the joint-space embedding of the image against its condition
                          (multimodal conditions; AttnGAN's DAMSM loss plays this part)
        loss.recon        L1 to the real image paired with the condition (images average-pooled
                          by loss.recon_pool)
        loss.mode_seeking MSGAN's term (halves of the batch share conditions)
  Dreg: every loss.r1_every steps, MA-GP (loss.ma_gp, on the real pyramid and its matched condition)
      when conditioned, and R1 on the real pyramid when loss.r1_gamma > 0.
Weights come from the generator's `loss_options` (model.extra kl_weight, mismatch_weight).
"""
from __future__ import annotations

import torch

from ..registry import register
from .contrastive import contrastive_to_condition
from .phases import GANLoss, frozen, matching_gradient_penalty, mode_seeking_term, ms_pairs, paired_l1


@register("phases", "multistage")
class MultiStageLoss(GANLoss):
    EXTRA_OPTIONS = ("recon", "contrastive")

    def __init__(self, G, D, cfg, z_dim, pack=1, autocast=None, conditioner=None, **kw):
        super().__init__(G, D, cfg, z_dim, pack, autocast=autocast, **kw)
        if self.obj.gradient_penalty:
            raise ValueError("phases 'multistage' do not support loss.name=wgan-gp; use hinge with loss.ma_gp or "
                             "loss.r1_gamma")
        self.net = G
        if not hasattr(D, "stage_res"):
            raise ValueError("phases 'multistage' need a discriminator with one judge per stage (model.family=stackgan)")
        opts = getattr(self.net, "loss_options", {}) or {}
        self.kl_weight = float(opts.get("kl_weight", 1.0))
        self.mismatch_weight = float(opts.get("mismatch_weight", 1.0))
        self.ma_gp = float(getattr(cfg, "ma_gp", 0.0))
        self.contrastive = float(getattr(cfg, "contrastive", 0.0))
        self.recon = float(getattr(cfg, "recon", 0.0))
        self.recon_pool = int(getattr(cfg, "recon_pool", 1))
        if self.recon_pool < 1:
            raise ValueError(f"loss.recon_pool must be 1 or more (an average-pooling factor), got {self.recon_pool}")
        self.joint = getattr(conditioner, "joint", None)
        if self.contrastive > 0 and (self.joint is None or "image" not in self.joint.modalities):
            raise ValueError("loss.contrastive needs a multimodal condition (a joint space with an image encoder)")

    def accumulate(self, phase, real, c, labels, step, **cond_kw):
        if phase == "G":
            return self.g_stages(real, c, **cond_kw)
        return super().accumulate(phase, real, c, labels, step, **cond_kw)

    def run_g(self, z, c, **kw):
        with self.autocast():
            return [x.float() for x in self.G(z, c, return_stages=True, **kw)]

    def stage_logits(self, x, c, D=None) -> list[torch.Tensor]:
        x = [self.augment(s) for s in x] if isinstance(x, list) else self.augment(x)
        with self.autocast():
            return list((D or self.D)(x, c, per_stage=True)[0].float())

    def d_main(self, real, c, labels, **cond_kw):
        if c is not None:
            c = c.detach()
            cond_kw = {k: (v.detach() if torch.is_tensor(v) else v) for k, v in cond_kw.items()}
        with torch.no_grad():
            fake = self.run_g(self.z(real.shape[0], real.device), c, **cond_kw)
        r_logits, f_logits = self.stage_logits(real, c), self.stage_logits(fake, c)
        matching = c is not None and self.mismatch_weight > 0 and real.shape[0] > 1
        m_logits = self.stage_logits(real, c.roll(1, dims=0)) if matching else None
        losses = []
        for i, (r, f) in enumerate(zip(r_logits, f_logits)):
            if matching:
                losses.append(self.obj.d_real(r) + (self.obj.d_fake(f) + self.mismatch_weight
                                                    * self.obj.d_fake(m_logits[i])) / 2)
            else:
                losses.append(self.obj.d_loss(r, f))
        loss = torch.stack(losses).mean()
        loss.backward()
        stats = {"loss/D": loss.detach(), "D/real": r_logits[-1].detach().mean(),
                 "D/fake": f_logits[-1].detach().mean()}
        if matching:
            stats["D/mismatch"] = m_logits[-1].detach().mean()
        return stats

    def wants_reg(self, step: int) -> bool:
        return (self.cfg.r1_gamma > 0 or self.ma_gp > 0) and step % max(1, self.cfg.r1_every) == 0

    def d_reg(self, real, c, step, **cond_kw):
        stats = super().d_reg(real, c, step, **cond_kw) if self.cfg.r1_gamma > 0 else {}
        if self.ma_gp > 0 and c is not None and step % max(1, self.cfg.r1_every) == 0:
            magp = matching_gradient_penalty(self.D, real, c, self.autocast)
            (self.ma_gp * max(1, self.cfg.r1_every) * magp).backward()
            stats["reg/ma_gp"] = magp.detach()
        return stats

    def g_stages(self, real, c, **cond_kw):
        b = real.shape[0]
        ms = self.cfg.mode_seeking > 0 and b >= 2
        if ms:
            c = ms_pairs(c)
            cond_kw = {k: ms_pairs(v) if torch.is_tensor(v) else v for k, v in cond_kw.items()}
        z = self.z(b, real.device)
        stages = self.run_g(z, c, **cond_kw)
        fake = stages[-1]
        cd = c.detach() if c is not None else None
        with frozen(self.D) as D:                       # no gradient for D's weights in the G step
            adv = torch.stack([self.obj.g_loss(s) for s in self.stage_logits(stages, cd, D)]).mean()
        kl = self.net.kl.float()
        total = adv + self.kl_weight * kl
        stats = {"loss/G": adv.detach(), "loss/G_kl": kl.detach()}
        if self.contrastive > 0:

            con = contrastive_to_condition(self.joint, fake, c)
            total = total + self.contrastive * con
            stats["loss/G_contrastive"] = con.detach()
        if self.recon > 0:
            target_img = ms_pairs(real.detach()) if ms else real.detach()
            rec = paired_l1(fake, target_img, self.recon_pool)
            total = total + self.recon * rec
            stats["loss/G_recon"] = rec.detach()
        if ms:
            m = mode_seeking_term(fake, z, self.cfg.ms_tau, self.cfg.ms_pool)
            total = total + self.cfg.mode_seeking * m
            stats["loss/G_ms"] = m.detach()
        total.backward()
        return stats
