"""Phases "captioning": the step of a caption generator G(z, c, source=images) -> token ids and its
discriminator D(captions, c, source=images) -> logits (mmgan.models.captioner). Three stages, by step:

  MLE         step < mle_steps: G alone on teacher-forced cross-entropy of the real captions; D idle.
  D pretrain  the next d_pretrain steps: D alone (G frozen), so the adversarial stage starts with a judge.
              With d_from_g, D's image encoder first takes G's MLE-trained weights (G-GAN's G and D
              read the same pretrained CNN). Why: once G's captions read like the data, real and
              generated captions give D nothing to learn from the text alone, and from scratch it does
              not find the image: its loss sits at ln 4 (measured from an 820-step MLE run: 48% of
              held-out real-vs-mismatched pairs ranked right after 150 D steps; with G's encoder 81%
              after 100).
  adversarial both: D as below, and G by policy gradient plus mle_weight x the MLE loss.

  D:  softplus(-D(real)) + w * softplus(D(mismatched)) + (1 - w) * softplus(D(generated))
      real: an image and its caption; mismatched: the image with another item's caption (the batch
      rolled by one, Reed et al. 2016's matching-aware D); generated: a caption G sampled for the image
      (temperature 1, a fresh z); w = mismatch_weight. With a condition c (a style), the mismatched rows
      also hold each real caption under another item's c where the two differ (the caption in the wrong
      tone), so D judges whether a caption matches its condition as well as its image, and the reward
      below carries the tone. Before its update D is scored on the batch it has
      not yet seen: D/acc_mismatch, D/acc_fake and D/acc_condition are the shares of pairs it ranks right
      (real above the mismatched caption of the same image, above the generated one, above itself under
      the wrong condition): held-out accuracies.
  G:  REINFORCE with a self-critical baseline (Rennie et al. 2017): reward r = sigmoid(D(sampled caption))
      -- D's probability that the caption is real and matches its image, nothing else (no CIDEr or slot
      term) -- baseline b = sigmoid(D(greedy caption with the same z)), loss
      -pg_weight * (r - b) * mean of the sampled tokens' log-probabilities + mle_weight * MLE (a mean per
      token, as the MLE term's: with the sum, pg_weight 3 wrecked G within 60 steps). The sampled
      captions are the ones D just judged (one sample per image); their log-probabilities come from one
      teacher-forced pass together with the MLE term's. With z_choices = k > 1 the MLE term scores each
      real caption under k noises and keeps the best (best-of-many, Bhattacharyya et al. 2018), so that z,
      not only sampling, picks the phrasing: greedy and beam captions then differ between seeds.
Tokens are discrete: no gradient flows from D into G except through the sampled tokens' log-probs.
Weights come from the generator's `loss_options` (model.extra mle_steps, d_pretrain, d_from_g, mle_weight,
pg_weight, mismatch_weight, z_choices).
"""
from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F

from ..modalities.text import PAD
from ..registry import register
from .phases import frozen


def token_mask(tokens: torch.Tensor) -> torch.Tensor:
    """(b, T) ids -> (b, T) bool: the caption's tokens through its EOS (PAD only ever follows EOS)."""
    return tokens != PAD


def mle_loss(G, source, z, c, tokens: torch.Tensor) -> torch.Tensor:
    """Teacher-forced cross-entropy of the real captions (b, T) over their tokens up to EOS."""
    logits = G.teacher_forcing(source, z, c, tokens)
    mask = token_mask(tokens)
    return F.cross_entropy(logits[mask].float(), tokens[mask])


def best_of(nll: torch.Tensor, mask: torch.Tensor, k: int) -> torch.Tensor:
    """Per-token values (k b, T) of b captions under k noises each -> (b,): each caption's mean over its
    tokens under its best noise (the lowest NLL: Bhattacharyya et al. 2018's best-of-many, each z learns
    its own phrasing); k = 1: the per-caption mean."""
    per = (nll * mask).sum(1) / mask.sum(1).clamp(min=1)                    # (k b,)
    return per.reshape(k, -1).min(0).values


def d_accuracy(real: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
    """Share of pairs where D scores the real caption of an image above the other one."""
    return (real > other).float().mean()


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
        self.d_from_g = bool(opts.get("d_from_g", True))
        self.mle_weight = float(opts.get("mle_weight", 1.0))
        self.pg_weight = float(opts.get("pg_weight", 1.0))
        self.mismatch_weight = float(opts.get("mismatch_weight", 0.5))
        self.z_choices = max(1, int(opts.get("z_choices", 1)))
        if self.d_from_g and D is not None and not _same_shapes(G.encoder, D.encoder):
            raise ValueError("model.extra.d_from_g: D's image encoder starts from G's, so they need the same shapes "
                             "(model.g_width == model.d_width); set them equal or d_from_g=false")
        self.keep_fake, self.step = False, 0
        self._fake = None                               # (ids, z) the D phase sampled, for the G phase

    def z(self, b: int, device) -> torch.Tensor:
        return torch.randn(b, self.z_dim, device=device)

    def wants_reg(self, step: int) -> bool:
        return False

    def stage(self, step: int) -> str:
        if step < self.mle_steps:
            return "mle"
        return "d_pretrain" if step < self.mle_steps + self.d_pretrain else "adversarial"

    def accumulate(self, phase, real, c, labels, step, source=None, **_):
        self.step, stage = step, self.stage(step)
        if phase == "D":
            return {} if stage == "mle" else self.d_main(real, c, source, first=step == self.mle_steps)
        if phase == "G":
            if stage == "mle":
                return self.g_mle(real, c, source)
            return {} if stage == "d_pretrain" else self.g_adversarial(real, c, source)
        raise ValueError(f"unknown phase {phase!r}")

    # ---- phases ------------------------------------------------------------------------------------
    def d_main(self, real, c, source, first: bool = False) -> dict[str, torch.Tensor]:
        if first and self.d_from_g:
            self.init_d_encoder()
        b = len(real)
        z = self.z(b, real.device)
        with torch.no_grad():
            fake = self.G.sample(source, z, c)[0]
        self._fake = (fake, z) if self.keep_fake else None
        mismatched = real.roll(1, 0)
        if c is None:
            logits, _ = self.D(torch.cat([real, mismatched, fake]), None, source=source)
            r, m, f = logits.float().chunk(3)
            s, other = m[:0], torch.zeros(0, dtype=torch.bool, device=r.device)
        else:                       # + each real caption under another item's condition (where it differs)
            wrong = c.roll(1, 0)
            other = (wrong != c).flatten(1).any(1)
            logits, _ = self.D(torch.cat([real, mismatched, fake, real]), torch.cat([c, c, c, wrong]), source=source)
            r, m, f, s = logits.float().chunk(4)
            s = s[other]
        w = self.mismatch_weight
        loss = (F.softplus(-r).mean() + w * F.softplus(torch.cat([m, s])).mean()
                + (1 - w) * F.softplus(f).mean())
        loss.backward()
        stats = {"loss/D": loss.detach(), "D/real": r.detach().mean(), "D/mismatch": m.detach().mean(),
                 "D/fake": f.detach().mean(), "D/acc_mismatch": d_accuracy(r, m), "D/acc_fake": d_accuracy(r, f)}
        if len(s):
            stats["D/acc_condition"] = d_accuracy(r[other], s)
        return stats

    def init_d_encoder(self) -> None:
        """D's image encoder <- G's (same shapes: checked when the phases are built)."""
        self.D.encoder.load_state_dict(self.G.encoder.state_dict())

    def g_mle(self, real, c, source) -> dict[str, torch.Tensor]:
        loss = mle_loss(self.G, source, self.z(len(real), real.device), c, real)
        loss.backward()
        return {"loss/G_mle": loss.detach()}

    def g_adversarial(self, real, c, source) -> dict[str, torch.Tensor]:
        b = len(real)
        if self._fake is not None and len(self._fake[0]) == b:
            ids, z = self._fake                        # the captions D was just trained against
        else:
            z = self.z(b, real.device)
            with torch.no_grad():
                ids = self.G.sample(source, z, c)[0]
        self._fake = None
        with torch.no_grad():
            greedy = self.G.sample(source, z, c, greedy=True)[0]
            with frozen(self.D):
                logits, _ = self.D(torch.cat([ids, greedy]), None if c is None else c.repeat(2, 1), source=source)
        reward, baseline = torch.sigmoid(logits.float()).chunk(2)
        # one teacher-forced pass: the sampled captions' log-probabilities and the real ones' cross-entropy
        # (each real caption under z_choices noises, the best kept)
        k = self.z_choices
        zs = torch.cat([z, self.z((k - 1) * b, z.device)]) if k > 1 else z
        both = torch.cat([ids, real.repeat(k, 1)])                              # ((1 + k) b, T)
        logits = self.G.teacher_forcing(_rep(source, 1 + k), torch.cat([z, zs]),
                                        None if c is None else c.repeat(1 + k, 1), both)
        logp = logits.float().log_softmax(-1).gather(2, both[:, :, None]).squeeze(2)     # ((1 + k) b, T)
        mask = token_mask(both)
        pg = -((reward - baseline) * best_of(logp[:b], mask[:b], 1)).mean()   # per token: as the MLE term
        mle = best_of(-logp[b:], mask[b:], k).mean() if k > 1 else -logp[b:][mask[b:]].mean()
        (self.pg_weight * pg + self.mle_weight * mle).backward()
        return {"loss/G": pg.detach(), "loss/G_mle": mle.detach(), "G/reward": reward.mean(),
                "G/advantage": (reward - baseline).mean()}


def _rep(x: torch.Tensor, k: int) -> torch.Tensor:
    """(b, ...) -> (k b, ...): the batch k times over (images or waveforms alike)."""
    return x.repeat(k, *([1] * (x.dim() - 1)))


def _same_shapes(a, b) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(sa[k].shape == sb[k].shape for k in sa)
