"""Phases "multistage": StackGAN/AttnGAN training for a generator that returns every stage's image
(G(..., return_stages=True)) and a discriminator with one judge per stage (D takes the list).

  D:  the objective on real vs fake at every stage (reals are downsampled inside D), plus the
      matching-aware term (GAN-CLS / DF-GAN): real images with mismatched conditions (the batch's
      conditions rolled by one) count as fake: L = real + (fake + mismatched) / 2
  G:  the objective at every stage + kl_weight * KL of the conditioning augmentation, and on the
      last stage, as options shared with the "matching" phases:
        loss.contrastive  InfoNCE of the joint-space embedding of the image against its condition
                          (multimodal conditions; AttnGAN's DAMSM loss plays this part)
        loss.recon        L1 to the real image paired with the condition
        loss.mode_seeking MSGAN's term (halves of the batch share conditions)
  Dreg: R1 on the real pyramid (loss.r1_gamma > 0), as in the standard phases.
Weights come from the generator's `loss_options` (model.extra kl_weight, mismatch_weight).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..registry import register
from .pathlength import unwrap
from .phases import GANLoss, ms_pairs


@register("phases", "multistage")
class MultiStageLoss(GANLoss):
    def __init__(self, G, D, cfg, z_dim, pack=1, autocast=None, conditioner=None, **kw):
        super().__init__(G, D, cfg, z_dim, pack, autocast=autocast, **kw)
        if self.obj.gradient_penalty:
            raise ValueError("phases 'multistage' do not support loss.name=wgan-gp; use hinge with loss.r1_gamma")
        self.net = unwrap(G)
        opts = getattr(self.net, "loss_options", {}) or {}
        self.kl_weight = float(opts.get("kl_weight", 1.0))
        self.mismatch_weight = float(opts.get("mismatch_weight", 1.0))
        self.contrastive = float(getattr(cfg, "contrastive", 0.0))
        self.recon = float(getattr(cfg, "recon", 0.0))
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

    def run_d(self, x, c):
        x = [self.augment(s) for s in x] if isinstance(x, list) else self.augment(x)
        with self.autocast():
            logits, aux = self.D(x, c)
        return logits.float(), (aux.float() if aux is not None else None)

    def d_main(self, real, c, labels, **cond_kw):
        with torch.no_grad():
            fake = self.run_g(self.z(real.shape[0], real.device), c, **cond_kw)
        r_logits, _ = self.run_d(real, c)
        f_logits, _ = self.run_d(fake, c)
        stats = {"D/real": r_logits.detach().mean(), "D/fake": f_logits.detach().mean()}
        if c is not None and self.mismatch_weight > 0 and real.shape[0] > 1:
            m_logits, _ = self.run_d(real, c.roll(1, dims=0))
            fake_term = (self.obj.d_fake(f_logits) + self.mismatch_weight * self.obj.d_fake(m_logits)) / 2
            loss = self.obj.d_real(r_logits) + fake_term
            stats["D/mismatch"] = m_logits.detach().mean()
        else:
            loss = self.obj.d_loss(r_logits, f_logits)
        loss.backward()
        return {"loss/D": loss.detach(), **stats}

    def g_stages(self, real, c, **cond_kw):
        b = real.shape[0]
        ms = self.cfg.mode_seeking > 0 and b >= 2
        if ms:
            c = ms_pairs(c)
            cond_kw = {k: ms_pairs(v) if torch.is_tensor(v) else v for k, v in cond_kw.items()}
        z = self.z(b, real.device)
        stages = self.run_g(z, c, **cond_kw)
        fake = stages[-1]
        logits, _ = self.run_d(stages, c)
        adv = self.obj.g_loss(logits)
        kl = self.net.kl.float()
        total = adv + self.kl_weight * kl
        stats = {"loss/G": adv.detach(), "loss/G_kl": kl.detach()}
        if self.contrastive > 0:
            from ..multimodal.train_joint import info_nce

            e = self.joint("image", {"image": fake}).pooled
            target = F.normalize(c.detach().float(), dim=-1)
            groups = ((target @ target.t()) > 0.999).float().argmax(1)     # identical conditions are positives
            scale = self.joint.logit_scale.detach().clamp(max=math.log(100)).exp()
            con = info_nce(e, target, scale, groups)
            total = total + self.contrastive * con
            stats["loss/G_contrastive"] = con.detach()
        if self.recon > 0:
            target_img = ms_pairs(real.detach()) if ms else real.detach()
            rec = (fake - target_img).abs().mean()
            total = total + self.recon * rec
            stats["loss/G_recon"] = rec.detach()
        if ms:
            h = b // 2
            m = 1.0 / ((fake[:h] - fake[h:2 * h]).abs().mean() / (z[:h] - z[h:2 * h]).abs().mean() + 1e-5)
            total = total + self.cfg.mode_seeking * m
            stats["loss/G_ms"] = m.detach()
        total.backward()
        return stats
