"""Phases "captioning": the step of a caption generator G(z, c, source=images) -> token ids and its
discriminator D(captions, c, source=images) -> logits (mmgan.models.captioner).

  MLE stage (step < mle_steps): G alone on teacher-forced cross-entropy of the real captions; D starts
      learning in the last d_pretrain of those steps, so the adversarial stage starts with a judge.
  D:  softplus(-D(real)) + w * softplus(D(mismatched)) + (1 - w) * softplus(D(generated))
      real: an image and its caption; mismatched: the image with another item's caption (the batch
      rolled by one, Reed et al. 2016's matching-aware D); generated: a caption G sampled for the image;
      w = mismatch_weight
  G:  policy gradient (REINFORCE) with a self-critical baseline (Rennie et al. 2017): reward
      r = sigmoid(D(sampled caption)), baseline b = sigmoid(D(greedy caption)), loss
      -(r - b) * sum of the sampled tokens' log-probabilities; plus mle_weight x the MLE loss, which
      keeps the captions grounded and fluent while D pulls them toward the data's variety.
Tokens are discrete: no gradient flows from D into G except through the sampled tokens' log-probs.
Weights come from the generator's `loss_options` (model.extra mle_steps, d_pretrain, mle_weight,
pg_weight, mismatch_weight).
"""
from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F

from ..registry import register
from .phases import frozen


def mle_loss(G, source, z, c, tokens: torch.Tensor) -> torch.Tensor:
    """Teacher-forced cross-entropy of the real captions (b, T) over their tokens up to EOS."""
    logits = G.teacher_forcing(source, z, c, tokens)
    mask = torch.ones_like(tokens, dtype=torch.bool)
    mask[:, 1:] = tokens[:, :-1] != 0                     # every token through the first EOS (PAD after)
    return F.cross_entropy(logits[mask].float(), tokens[mask])


@register("phases", "captioning")
class CaptioningLoss:
    def __init__(self, G, D, cfg, z_dim, pack=1, autocast=None, **_):
        if not (hasattr(G, "teacher_forcing") and hasattr(G, "sample")):
            raise ValueError("phases 'captioning' need a caption generator (model.family=captioner)")
        if pack != 1 or cfg.n_critic != 1:
            raise ValueError("phases 'captioning' take no model.pack or loss.n_critic other than 1")
        self.G, self.D, self.cfg, self.z_dim = G, D, cfg, z_dim
        self.autocast = autocast or contextlib.nullcontext
        opts = getattr(G, "loss_options", {}) or {}
        self.mle_steps = int(opts.get("mle_steps", 1500))
        self.d_pretrain = int(opts.get("d_pretrain", 300))
        self.mle_weight = float(opts.get("mle_weight", 1.0))
        self.pg_weight = float(opts.get("pg_weight", 1.0))
        self.mismatch_weight = float(opts.get("mismatch_weight", 0.5))
        self.keep_fake, self.step = False, 0

    def z(self, b: int, device) -> torch.Tensor:
        return torch.randn(b, self.z_dim, device=device)

    def wants_reg(self, step: int) -> bool:
        return False

    def accumulate(self, phase, real, c, labels, step, source=None, **_):
        self.step = step
        if phase == "D":
            return {} if step < self.mle_steps - self.d_pretrain else self.d_main(real, c, source)
        if phase == "G":
            return self.g_mle(real, c, source) if step < self.mle_steps else self.g_adversarial(real, c, source)
        raise ValueError(f"unknown phase {phase!r}")

    # ---- phases ------------------------------------------------------------------------------------
    def d_main(self, real, c, source) -> dict[str, torch.Tensor]:
        b = len(real)
        with torch.no_grad():
            fake = self.G.sample(source, self.z(b, real.device), c)[0]
        mismatched = real.roll(1, 0)
        logits, _ = self.D(torch.cat([real, mismatched, fake]), None if c is None else c.repeat(3, 1),
                           source=_rep(source, 3))
        r, m, f = logits.float().chunk(3)
        w = self.mismatch_weight
        loss = F.softplus(-r).mean() + w * F.softplus(m).mean() + (1 - w) * F.softplus(f).mean()
        loss.backward()
        return {"loss/D": loss.detach(), "D/real": r.detach().mean(), "D/mismatch": m.detach().mean(),
                "D/fake": f.detach().mean()}

    def g_mle(self, real, c, source) -> dict[str, torch.Tensor]:
        loss = mle_loss(self.G, source, self.z(len(real), real.device), c, real)
        loss.backward()
        return {"loss/G_mle": loss.detach()}

    def g_adversarial(self, real, c, source) -> dict[str, torch.Tensor]:
        b = len(real)
        z = self.z(b, real.device)
        ids, logp, mask = self.G.sample(source, z, c)
        with torch.no_grad():
            greedy = self.G.sample(source, z, c, greedy=True)[0]
        with frozen(self.D), torch.no_grad():
            logits, _ = self.D(torch.cat([ids, greedy]), None if c is None else c.repeat(2, 1),
                               source=_rep(source, 2))
        reward, baseline = torch.sigmoid(logits.float()).chunk(2)
        pg = -((reward - baseline)[:, None] * logp * mask).sum(1).mean()
        mle = mle_loss(self.G, source, z, c, real)
        (self.pg_weight * pg + self.mle_weight * mle).backward()
        return {"loss/G": pg.detach(), "loss/G_mle": mle.detach(), "G/reward": reward.mean(),
                "G/advantage": (reward - baseline).mean()}


def _rep(x: torch.Tensor, k: int) -> torch.Tensor:
    """(b, ...) -> (k b, ...): the batch k times over (images or waveforms alike)."""
    return x.repeat(k, *([1] * (x.dim() - 1)))
