"""Phases "video": the step of a video GAN with sound (mmgan.models.mocogan) and its three discriminators.

real: (b, t, c, h, w) clips; cond_kw["source"]: the (b, s) waveforms they were recorded with; c: the label's
one-hot vector or None. With the loss's objective (loss.name: hinge, ns, lsgan) `obj`:
  D:  frame_weight * obj.d(frame(real frames), frame(fake frames))     frame_samples random frames per clip
      + clip_weight * obj.d(clip(real), clip(fake))
      + sync_weight * [BCE(sync(real window, its audio) -> 1) + 0.5 BCE(sync(real window, audio shifted by
                       sync_min_shift or more frames) -> 0) + 0.5 BCE(sync(fake window, its audio) -> 0)]
                       (GAN-CLS's matching-aware D: a sync D that learns on real clips only, as Wav2Lip's
                       frozen expert, was fooled by G within 250 steps, G's sync loss 0.08, while its clips were
                       still noise)
  G:  frame_weight * obj.g(frame(fake frames)) + clip_weight * obj.g(clip(fake))
      + sync_weight * BCE(sync(fake window, the audio G was given) -> 1)
      (+ loss.mode_seeking's term between two clips made from one sound); the clip and sync terms rise linearly
      from 0 over the first motion_warmup steps (a frame generator first, then its motion: the clip D tells
      still clips from moving ones long before G draws digits, and its pull alone made noise)
Windows start at a random frame per clip; the shifted audio window starts at another frame at least
sync_min_shift away (either side). The G phase reuses the D phase's fakes (loss.reuse_fakes).
Weights and sizes come from the generator's `loss_options` (model.extra, mmgan.models.mocogan).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..registry import register
from .phases import GANLoss, frozen, mode_seeking_term, ms_pairs


def frame_pick(b: int, t: int, k: int, device) -> torch.Tensor:
    """(b, k) random frame indices per clip (without repeats when k <= t)."""
    return torch.rand(b, t, device=device).argsort(1)[:, :min(k, t)]


def windows(x: torch.Tensor, starts: torch.Tensor, k: int) -> torch.Tensor:
    """(b, t, ...) -> (b, k, ...): for each row the k steps from its start."""
    idx = starts[:, None] + torch.arange(k, device=x.device)[None]
    return x[torch.arange(x.shape[0], device=x.device)[:, None], idx]


def shifted_starts(starts: torch.Tensor, t: int, k: int, min_shift: int) -> torch.Tensor:
    """For each window start another start at least min_shift frames away (a random one of those that fit);
    a clip too short for any gets the farthest start."""
    last = t - k
    cand = torch.arange(last + 1, device=starts.device)[None].expand(len(starts), -1)
    ok = (cand - starts[:, None]).abs() >= min_shift
    w = ok.float() + (~ok.any(1, keepdim=True)).float() * (cand - starts[:, None]).abs().float()
    return torch.multinomial(w.clamp_min(0) + 1e-12 * (w.sum(1, keepdim=True) == 0).float(), 1)[:, 0]


@register("phases", "video")
class VideoLoss(GANLoss):
    def __init__(self, G, D, cfg, z_dim, pack=1, autocast=None, **kw):
        super().__init__(G, D, cfg, z_dim, pack, autocast=autocast, **kw)
        if not (hasattr(D, "frame") and hasattr(D, "clip") and hasattr(D, "sync")):
            raise ValueError("phases 'video' need a video GAN's three discriminators (model.family=mocogan)")
        if self.obj.gradient_penalty or cfg.r1_gamma > 0 or cfg.diffaug or cfg.mismatch > 0 or cfg.topk < 1:
            raise ValueError("phases 'video' take no gradient penalty (loss.name wgan-gp, loss.r1_gamma), "
                             "loss.diffaug, loss.mismatch or loss.topk: use loss.name hinge, ns or lsgan and "
                             "model.spectral_norm to keep the discriminators in check")
        o = getattr(G, "loss_options", {}) or {}
        self.frame_samples = int(o.get("frame_samples", 4))
        self.window = int(o.get("sync_window", 4))
        self.min_shift = int(o.get("sync_min_shift", 2))
        self.w_frame, self.w_clip, self.w_sync = (float(o.get(k, 1.0)) for k in ("frame_weight", "clip_weight",
                                                                                "sync_weight"))
        self.warmup = int(o.get("motion_warmup", 0))

    def wants_reg(self, step: int) -> bool:
        return False

    # ---- the three judges -----------------------------------------------------------------------------
    def frames_of(self, x: torch.Tensor, c: torch.Tensor | None, pick: torch.Tensor):
        """(b, t, ...) clips -> (b * k, ...) their picked frames, and the condition repeated to match."""
        b, k = pick.shape
        f = x[torch.arange(b, device=x.device)[:, None], pick].flatten(0, 1)
        return f, (None if c is None else c.repeat_interleave(k, 0))

    def judge(self, x: torch.Tensor, c: torch.Tensor | None, pick: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with self.autocast():
            f, cf = self.frames_of(x, c, pick)
            return self.D.frame(f, cf).float(), self.D.clip(x, c).float()

    def audio_features(self, wave: torch.Tensor) -> torch.Tensor:
        """The sync D's audio features of the clips' sound, (b, t, d): computed once a phase."""
        with self.autocast():
            return self.D.audio_features(wave).transpose(1, 2)

    def sync_logits(self, x: torch.Tensor, feats: torch.Tensor, starts: torch.Tensor,
                    audio_starts: torch.Tensor) -> torch.Tensor:
        with self.autocast():
            a = windows(feats, audio_starts, self.window).transpose(1, 2)        # (b, d, k)
            return self.D.sync(windows(x, starts, self.window), a).float()

    def starts(self, b: int, t: int, device) -> torch.Tensor:
        return torch.randint(0, t - self.window + 1, (b,), device=device)

    # ---- phases --------------------------------------------------------------------------------------
    def accumulate(self, phase, real, c, labels, step, **cond_kw):
        if cond_kw.get("source") is None:
            raise ValueError("phases 'video' need the clips' sound: model.condition=[audio] (the source conditioner)")
        self.step = step
        if phase == "D":
            return self.d_main(real, c, cond_kw["source"])
        if phase == "G":
            return self.g_main(real.shape[0], real.device, c, cond_kw["source"])
        raise ValueError(f"unknown phase {phase!r}")

    def fake(self, b: int, device, c, wave, keep: bool) -> torch.Tensor:
        z = self.z(b, device)
        if keep:
            x = self.run_g(z, c, source=wave)           # with its graph: the G phase backpropagates into it
            self._kept = (x, z)
            return x.detach()
        with torch.no_grad():
            return self.run_g(z, c, source=wave)

    def d_main(self, real, c, wave) -> dict[str, torch.Tensor]:
        b, t = real.shape[:2]
        self._kept = None
        fake = self.fake(b, real.device, c, wave, self.reusing_fakes())
        pick = frame_pick(b, t, self.frame_samples, real.device)
        rf, rc = self.judge(real, c, pick)
        ff, fc = self.judge(fake, c, pick)
        frame, clip = self.obj.d_loss(rf, ff), self.obj.d_loss(rc, fc)
        starts = self.starts(b, t, real.device)
        shifted = shifted_starts(starts, t, self.window, self.min_shift)
        feats = self.audio_features(wave)
        pos = self.sync_logits(real, feats, starts, starts)
        neg = self.sync_logits(real, feats, starts, shifted)
        made = self.sync_logits(fake, feats, starts, starts)
        sync = F.binary_cross_entropy_with_logits(pos, torch.ones_like(pos)) + \
            0.5 * F.binary_cross_entropy_with_logits(neg, torch.zeros_like(neg)) + \
            0.5 * F.binary_cross_entropy_with_logits(made, torch.zeros_like(made))
        (self.w_frame * frame + self.w_clip * clip + self.w_sync * sync).backward()
        return {"loss/D_frame": frame.detach(), "loss/D_clip": clip.detach(), "loss/D_sync": sync.detach(),
                "D/real": rc.detach().mean(), "D/fake": fc.detach().mean(),
                "D/sync_acc": ((pos > 0).float().mean() + (neg < 0).float().mean()).detach() / 2,
                "D/sync_fake": made.detach().mean()}

    def g_main(self, b, device, c, wave) -> dict[str, torch.Tensor]:
        ms = self.cfg.mode_seeking > 0 and b >= 2
        if ms:                                          # two clips of one sound (and label) for the mode-seeking term
            c, wave = ms_pairs(c), ms_pairs(wave)
        kept, self._kept = self._kept, None
        if kept is not None and kept[0].shape[0] == b and not ms:
            fake, z = kept
        else:
            z = self.z(b, device)
            fake = self.run_g(z, c, source=wave)
        t = fake.shape[1]
        pick = frame_pick(b, t, self.frame_samples, device)
        with frozen(self.D):
            ff, fc = self.judge(fake, c, pick)
            starts = self.starts(b, t, device)
            sync_logit = self.sync_logits(fake, self.audio_features(wave), starts, starts)
            frame, clip = self.obj.g_loss(ff), self.obj.g_loss(fc)
            sync = F.binary_cross_entropy_with_logits(sync_logit, torch.ones_like(sync_logit))
            ramp = min(1.0, self.step / self.warmup) if self.warmup > 0 else 1.0
            total = self.w_frame * frame + ramp * (self.w_clip * clip + self.w_sync * sync)
            stats = {"loss/G": (frame + clip).detach(), "loss/G_sync": sync.detach()}
            if ms:
                term = mode_seeking_term(fake, z, self.cfg.ms_tau, self.cfg.ms_pool)
                total = total + self.cfg.mode_seeking * term
                stats["loss/G_ms"] = term.detach()
            total.backward()
        return stats
