"""The "matching" phases: DF-GAN's matching-aware discriminator for (image, condition) pairs.

    D   loss = real-matched + (fake + mismatched) / 2, mismatched = reals with the batch's conditions
        rolled by one (ones of loss.name's one-sided terms, hinge by default); a D with an image part
        and a joint head (dfgan) computes the reals' features once for the matched and mismatched pairs
    Dreg MA-GP = loss.ma_gp * mean(||grad_(image, condition) D(real, c)||^6) on real matched pairs,
        every loss.r1_every steps (scaled by the interval, like lazy R1)
    G   -D(G(z, c), c), plus options:
          loss.contrastive  InfoNCE between the joint-space embedding of G(z, c) and c itself (the
                            conditions are unit vectors in that space; cf. AttnGAN's DAMSM loss)
          loss.recon        L1 between G(z, c) and the real image paired with c; on pixels it pins every
                            z to one image per condition, loss.recon_pool > 1 compares pooled images
          loss.mode_seeking MSGAN: halves of the batch share conditions, reward image distance per z distance
The condition is never moved to please D: D always sees it detached.
"""
from __future__ import annotations


import torch

from ..registry import register
from .contrastive import contrastive_to_condition
from .phases import GANLoss, frozen, matching_gradient_penalty, mode_seeking_term, ms_pairs, paired_l1


@register("phases", "matching")
class MatchingAwareLoss(GANLoss):
    EXTRA_OPTIONS = ("recon", "contrastive")

    def __init__(self, G, D, cfg, z_dim: int, pack: int = 1, autocast=None, conditioner=None, **_):
        super().__init__(G, D, cfg, z_dim, pack, autocast)
        if pack != 1:
            raise ValueError("the matching-aware discriminator judges single (image, condition) pairs: use model.pack=1")
        if getattr(D, "aux", None) is not None:
            raise ValueError("model.acgan: the matching phases train no classifier head; use loss.phases=standard "
                             "(its loss.mismatch is the matching-aware D) or model.acgan=false")
        self.conditioner = conditioner
        self.ma_gp = float(getattr(cfg, "ma_gp", 2.0))
        self.contrastive = float(getattr(cfg, "contrastive", 0.0))
        self.recon = float(getattr(cfg, "recon", 0.0))
        self.recon_pool = int(getattr(cfg, "recon_pool", 1))
        if self.recon_pool < 1:
            raise ValueError(f"loss.recon_pool must be 1 or more (an average-pooling factor), got {self.recon_pool}")
        joint = getattr(conditioner, "joint", None)
        if self.contrastive > 0 and (joint is None or "image" not in joint.modalities):
            raise ValueError("loss.contrastive needs a multimodal condition (a joint space with an image encoder)")
        self.joint = joint

    def accumulate(self, phase: str, real: torch.Tensor, c: torch.Tensor | None, labels: torch.Tensor | None,
                   step: int, **cond_kw) -> dict[str, torch.Tensor]:
        if c is None:
            raise ValueError("the matching phases need a condition: set model.condition")
        if phase == "D":
            return self.d_main(real, c, labels, **cond_kw)
        if phase == "Dreg":
            return self.d_reg(real, c, step, **cond_kw)
        if phase == "G":
            return self.g_pair(real, c, labels, **cond_kw)
        raise ValueError(f"unknown phase {phase!r}")

    def d_main(self, real, c, labels=None, **cond_kw) -> dict[str, torch.Tensor]:
        c = c.detach()
        cond_kw = {k: (v.detach() if torch.is_tensor(v) else v) for k, v in cond_kw.items()}
        with torch.no_grad():
            fake = self.run_g(self.z(real.shape[0], real.device), c, **cond_kw)
        r, f, mis = self.judge_pairs(real, fake, c)
        loss = self.obj.d_real(r) + 0.5 * (self.obj.d_fake(f) + self.obj.d_fake(mis))
        loss.backward()
        return {"loss/D": loss.detach(), "D/real": r.detach().mean(), "D/fake": f.detach().mean(),
                "D/mismatch": mis.detach().mean()}

    def judge_pairs(self, real, fake, c) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """D's scores for (real, c), (fake, c) and the mismatched (real, c rolled by one). A D that splits
        into image features and a joint head (dfgan's) runs its image part once, on reals and fakes
        together, and judges the reals' features against both conditions (as DF-GAN's own code does);
        any other D is run three times."""
        D = self.D
        if hasattr(D, "features") and hasattr(D, "judge") and self.joint_d:
            with self.autocast():
                h_real, h_fake = D.features(self.augment(torch.cat([real, fake]))).chunk(2)
                scores = D.judge(torch.cat([h_real, h_fake, h_real]), torch.cat([c, c, c.roll(1, 0)]))
            return scores.float().chunk(3)
        return self.run_d(real, c)[0], self.run_d(fake, c)[0], self.run_d(real, c.roll(1, 0))[0]

    def wants_reg(self, step: int) -> bool:
        return self.ma_gp > 0 and step % max(1, self.cfg.r1_every) == 0

    def d_reg(self, real, c, step, **_) -> dict[str, torch.Tensor]:
        magp = matching_gradient_penalty(self.D, real, c, self.autocast)
        (self.ma_gp * max(1, self.cfg.r1_every) * magp).backward()
        return {"reg/ma_gp": magp.detach()}

    def paired_inputs(self, target: torch.Tensor) -> dict:
        """Keywords G takes from the real items paired with its conditions (none here; the aligned phases give
        a speech generator each clip's timing)."""
        return {}

    def generator_terms(self) -> dict[str, torch.Tensor]:
        """G's own loss terms from its last forward, added as they are (none here)."""
        return {}

    def g_pair(self, real, c, labels=None, tokens=None, token_mask=None, **_) -> dict[str, torch.Tensor]:
        b = real.shape[0]
        ms = self.cfg.mode_seeking > 0 and b >= 2
        target = real.detach()
        if ms:
            c, tokens, token_mask, target = ms_pairs(c), ms_pairs(tokens), ms_pairs(token_mask), ms_pairs(target)
        z = self.z(b, real.device)
        kw = {} if tokens is None else {"tokens": tokens, "token_mask": token_mask}
        fake = self.run_g(z, c, **kw, **self.paired_inputs(target))
        with frozen(self.D) as D:                       # no gradient for D's weights in the G step
            logits, _ = self.run_d(fake, c.detach(), D)
        adv = self.obj.g_loss(logits)
        total, stats = adv, {"loss/G": adv.detach()}
        for name, term in self.generator_terms().items():
            total = total + term
            stats[f"loss/G_{name}"] = term.detach()
        if self.contrastive > 0:
            con = contrastive_to_condition(self.joint, fake, c)
            total = total + self.contrastive * con
            stats["loss/G_contrastive"] = con.detach()
        if self.recon > 0:
            rec = paired_l1(fake, target, self.recon_pool)
            total = total + self.recon * rec
            stats["loss/G_recon"] = rec.detach()
        if ms:
            ms_loss = mode_seeking_term(fake, z, self.cfg.ms_tau, self.cfg.ms_pool)
            total = total + self.cfg.mode_seeking * ms_loss
            stats["loss/G_ms"] = ms_loss.detach()
        total.backward()
        return stats
