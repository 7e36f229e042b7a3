"""Phases "vocoder": the HiFi-GAN step (Kong et al. 2020) for a generator that turns log-mel pictures into
waveforms (G.vocoder, G.spec: mmgan.models.hifigan) and a discriminator of many sub-discriminators
returning (logits, features) (the multi-period and multi-scale ones).

Each batch of real clips (b, 1, samples) becomes (mel, wave) pairs: the clip's MelSpec picture (G's
input: z is unused) and, with segment_frames, the same random run of frames cut from both (the
picture's frames f0 .. f0 + n and the samples f0 * hop .. (f0 + n) * hop).
  D:  sum over sub-discriminators of mean((1 - D(wave))^2) + mean(D(G(mel))^2)      (least squares)
  G:  sum of mean((1 - D(G(mel)))^2)
      + feature_weight (2) * sum over layers of mean |D_l(wave) - D_l(G(mel))|        (feature matching)
      + mel_weight (45) * mean |log-mel(G(mel)) - log-mel(wave)|                     (reconstruction)
      + stft_weight (0) * multi-resolution STFT loss       (optional: the mel filterbank gives the 0 Hz and
        Nyquist bins no weight, so the log-mel L1 sees a transposed-conv checkerboard tone at 8 kHz only
        through window leakage, about a quarter of what it charges for a 4 kHz tone of the same power;
        the STFT terms see every bin)
  warm-up (the first warmup_steps steps): G alone on the multi-resolution STFT loss plus the log-mel L1
      (unweighted sum); D rests.
Segments are drawn where the clips have sound (loud_segments: that share of them in proportion to the
segment's loudness, the rest uniformly).
Weights come from the generator's `loss_options` (model.extra feature_weight, mel_weight, stft_weight,
warmup_steps, segment_frames, loud_segments). The G phase reuses the D phase's fakes (loss.reuse_fakes).
"""
from __future__ import annotations

import torch

from .. import distributed as dist
from ..registry import register
from .phases import GANLoss, frozen
from .spectral import mel_l1, multi_resolution_stft


def ls_d(real: list[torch.Tensor], fake: list[torch.Tensor]) -> torch.Tensor:
    """Least-squares D loss summed over sub-discriminators: reals toward 1, fakes toward 0."""
    return sum(((1 - r) ** 2).mean() + (f ** 2).mean() for r, f in zip(real, fake))


def ls_g(fake: list[torch.Tensor]) -> torch.Tensor:
    """Least-squares G loss summed over sub-discriminators: fakes toward 1."""
    return sum(((1 - f) ** 2).mean() for f in fake)


def feature_matching(real: list[list[torch.Tensor]], fake: list[list[torch.Tensor]]) -> torch.Tensor:
    """Sum over sub-discriminators and their layers of mean |real - fake| features (reals detached)."""
    return sum((r.detach() - f).abs().mean() for rs, fs in zip(real, fake) for r, f in zip(rs, fs))


@register("phases", "vocoder")
class VocoderLoss(GANLoss):
    def __init__(self, G, D, cfg, z_dim, pack=1, autocast=None, **kw):
        super().__init__(G, D, cfg, z_dim, pack, autocast=autocast, **kw)
        self.g, self.d = G, D
        if not (hasattr(G, "vocoder") and hasattr(G, "spec") and hasattr(D, "mpd")):
            raise ValueError("phases 'vocoder' need a mel -> waveform generator and its discriminators "
                             "(model.family=hifigan)")
        if cfg.name != "lsgan":
            raise ValueError(f"phases 'vocoder' train with HiFi-GAN's least-squares terms: set loss.name=lsgan "
                             f"(got {cfg.name!r}; the preset hifigan-spoken-digits sets it)")
        if cfg.r1_gamma > 0 or cfg.mode_seeking > 0 or cfg.diffaug or cfg.n_critic != 1:
            raise ValueError("phases 'vocoder' take no loss.r1_gamma, loss.mode_seeking, loss.diffaug or "
                             "loss.n_critic other than 1 (HiFi-GAN's step has none of them)")
        opts = getattr(G, "loss_options", {}) or {}
        self.feature_weight = float(opts.get("feature_weight", 2.0))
        self.mel_weight = float(opts.get("mel_weight", 45.0))
        self.warmup_steps = int(opts.get("warmup_steps", 0))
        self.segment_frames = int(opts.get("segment_frames", 0))
        self.loud_segments = float(opts.get("loud_segments", 0.0))
        self.stft_weight = float(opts.get("stft_weight", 0.0))
        self.spec = G.spec
        self._pair: tuple[torch.Tensor, torch.Tensor] | None = None

    # ---- the batch ---------------------------------------------------------------------------------
    def pairs(self, real: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(b, 1, samples) clips -> (whole-clip mels (b, 1, m, f), mel segments (b, 1, m, n), the matching
        waveform segments (b, 1, n * hop)); n = segment_frames, or every frame."""
        spec, hop = self.spec, self.spec.hop
        with torch.no_grad():
            mel = spec.encode(real.float().flatten(1))
        n = self.segment_frames if 0 < self.segment_frames < spec.frames else spec.frames
        starts = self.starts(mel, n).tolist()
        mels = torch.stack([mel[i, :, :, s:s + n] for i, s in enumerate(starts)])
        waves = torch.stack([real[i, :, s * hop:(s + n) * hop] for i, s in enumerate(starts)]).float()
        return mel, mels, waves

    def starts(self, mel: torch.Tensor, n: int) -> torch.Tensor:
        """A start frame per clip for an n-frame segment of its picture (b, 1, m, f): with probability
        loud_segments in proportion to the segment's loudness (its frames' mean height above the picture's
        floor), else uniformly. Clips of speech with long silences (spoken digits: over half of the
        frames) otherwise spend most steps on segments of silence."""
        b, f = mel.shape[0], mel.shape[-1]
        uniform = torch.full((b, f - n + 1), 1.0 / (f - n + 1), device=mel.device)
        if self.loud_segments <= 0 or n >= f:
            return torch.multinomial(uniform, 1)[:, 0].cpu()
        loud = (mel[:, 0].float() + 1).mean(1).unfold(1, n, 1).sum(-1)          # (b, f - n + 1)
        total = loud.sum(1, keepdim=True)
        weights = torch.where(total > 0, loud / total.clamp_min(1e-12), uniform)
        p = self.loud_segments * weights + (1 - self.loud_segments) * uniform
        return torch.multinomial(p, 1)[:, 0].cpu()

    def warming_up(self, step: int) -> bool:
        return step < self.warmup_steps

    def wants_reg(self, step: int) -> bool:
        return False

    def accumulate(self, phase, real, c, labels, step, **cond_kw):
        self.step = step
        if phase == "D":
            whole, mel, wave = self.pairs(real)
            self._pair, self._kept = (mel, wave), None
            if not self.g.examples_full:
                self.g.remember_examples(whole)
                dist.broadcast_state(self.g, buffers_only=True)     # under torchrun: rank 0's examples everywhere
            return {} if self.warming_up(step) else self.d_main(mel, wave)
        if phase == "G":
            pair, self._pair = self._pair, None
            mel, wave = pair if pair is not None else self.pairs(real)[1:]
            return self.g_warmup(mel, wave) if self.warming_up(step) else self.g_main(mel, wave)
        raise ValueError(f"unknown phase {phase!r}")

    def vocode(self, mel: torch.Tensor) -> torch.Tensor:
        with self.autocast():
            return self.g.vocoder(mel).float()

    def judge(self, x: torch.Tensor) -> tuple[list[torch.Tensor], list[list[torch.Tensor]]]:
        with self.autocast():
            logits, feats = self.d(x)
        return [lg.float() for lg in logits], [[f.float() for f in fs] for fs in feats]

    # ---- phases --------------------------------------------------------------------------------------
    def d_main(self, mel: torch.Tensor, wave: torch.Tensor) -> dict[str, torch.Tensor]:
        if self.reusing_fakes():
            fake = self.vocode(mel)                       # with its graph: the G phase backpropagates into it
            self._kept = (fake, mel)
            fake = fake.detach()
        else:
            with torch.no_grad():
                fake = self.vocode(mel)
        logits, _ = self.judge(torch.cat([wave, fake]))  # one pass: no layer of D mixes samples
        r, f = [lg.chunk(2)[0] for lg in logits], [lg.chunk(2)[1] for lg in logits]
        loss = ls_d(r, f)
        loss.backward()
        return {"loss/D": loss.detach(), "D/real": torch.stack([x.mean() for x in r]).mean().detach(),
                "D/fake": torch.stack([x.mean() for x in f]).mean().detach()}

    def g_main(self, mel: torch.Tensor, wave: torch.Tensor) -> dict[str, torch.Tensor]:
        kept, self._kept = self._kept, None
        fake = kept[0] if kept is not None and kept[1] is mel else self.vocode(mel)
        with frozen(self.D):                              # no gradient for D's weights in the G step
            logits, feats = self.judge(torch.cat([wave, fake]))
        half = wave.shape[0]
        adv = ls_g([lg[half:] for lg in logits])
        fm = feature_matching([[x[:half] for x in fs] for fs in feats], [[x[half:] for x in fs] for fs in feats])
        rec = mel_l1(fake, wave, self.spec)
        total = adv + self.feature_weight * fm + self.mel_weight * rec
        stats = {"loss/G": adv.detach(), "loss/G_fm": fm.detach(), "loss/G_mel": rec.detach()}
        if self.stft_weight > 0:           # every bin: the mel filterbank weighs 0 Hz and Nyquist 0
            stft = multi_resolution_stft(fake, wave)
            total = total + self.stft_weight * stft
            stats["loss/G_stft"] = stft.detach()
        total.backward()
        return stats

    def g_warmup(self, mel: torch.Tensor, wave: torch.Tensor) -> dict[str, torch.Tensor]:
        fake = self.vocode(mel)
        stft = multi_resolution_stft(fake, wave)
        rec = mel_l1(fake, wave, self.spec)
        (stft + rec).backward()
        return {"loss/G_stft": stft.detach(), "loss/G_mel": rec.detach()}
