"""The image captioner: a conditional GAN whose generator writes a caption of an image (G-GAN, Dai et
al. 2017, "Towards Diverse and Natural Image Descriptions via a Conditional GAN"), with the
attention decoder of Show, Attend and Tell (Xu et al. 2015).

G (CaptionGenerator) reads the image raw (mmgan.conditioning.source: G(z, c, source=images)):
  encoder   a small CNN: (b, c, h, w) -> a grid x grid map of region features, plus a learned position
            embedding per region -> regions (b, n, d)                        n = grid^2, d = model.extra.hidden
  h0        tanh(W [mean region, z, c]): the noise z and the style c (one-hot labels, or none) start
            the decoder, so two seeds give two different captions of the same image
  decoder   a GRU cell; each step attends over the regions (additive attention) with its state and
            reads [previous token, attended regions, c]; logits from [state, attended regions]
  decoding  sample (temperature), greedy, or beam search (beam_size); model.extra.decode is the
            default, Pipeline(..., options={"decode": "beam"}) or `mmgan caption --decode beam` a call's
  units     token ids (b, max_tokens): EOS-terminated, PAD after (the text codec's vocabulary)
D (CaptionDiscriminator) scores (image, caption, style) triples: a GRU reads the caption, its last
state attends over the image's regions (its own CNN), and an MLP scores [text, attended image,
their product, c] -> (logits (b,), None).
The phases "captioning" (mmgan.losses.captioning) own the step: MLE first, then D alone on real /
mismatched / generated captions (its image encoder from G's), then both: G by policy gradient with a
self-critical baseline plus a best-of-z_choices MLE term. Preset:
configs/captioner-shapes.yaml (`mmgan train --data shapes --target text`).
"""
from __future__ import annotations

import hashlib

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..config import ModelConfig
from ..modalities.text import EOS, PAD, TextOptions
from ..model_options import option
from ..registry import register
from .base import ConfigModule


@dataclass(frozen=True)
class CaptionerOptions(TextOptions):
    phases: ClassVar[str] = "captioning"    # its step logic (loss.phases; resolve() writes it)
    reads: ClassVar[tuple[str, ...]] = ("image",)
    hidden: int = option(256, "width of the region features, the attention and the GRU decoder")
    embed: int = option(128, "token embedding size")
    grid: int = option(4, "the image encoder's region grid side (grid x grid regions)")
    mle_steps: int = option(1500, "steps of maximum likelihood (teacher forcing) before the adversarial stage "
                                  "(phases captioning; 0 = adversarial from the start)")
    d_pretrain: int = option(300, "steps after the MLE stage in which D trains alone (G frozen), so the adversarial "
                                  "stage starts with a judge (phases captioning)")
    d_from_g: bool = option(True, "D's image encoder starts from G's MLE-trained one when D starts (as G-GAN's D "
                                  "and G share a pretrained CNN); false: from scratch")
    mle_weight: float = option(1.0, "weight of the MLE term in the adversarial stage (keeps G grounded)")
    pg_weight: float = option(1.0, "weight of the policy-gradient term in the adversarial stage")
    mismatch_weight: float = option(0.5, "weight of mismatched (image, another image's caption) pairs in D's loss; "
                                         "generated pairs weigh 1 - this")
    z_choices: int = option(1, "adversarial stage: the MLE term scores each real caption under this many noises z "
                               "and keeps the best (best-of-many), so z picks the phrasing and greedy / beam "
                               "captions vary with the seed; 1 = plain MLE")

class RegionEncoder(nn.Module):
    """(b, c, h, w) images -> (b, grid^2, dim) region features with a position embedding per region."""

    def __init__(self, channels: int, width: int, dim: int, grid: int):
        super().__init__()
        w = max(8, width // 2)
        self.net = nn.Sequential(
            nn.Conv2d(channels, w, 3, 1, 1), nn.GELU(),
            nn.Conv2d(w, 2 * w, 3, 2, 1), nn.GELU(),
            nn.Conv2d(2 * w, 4 * w, 3, 2, 1), nn.GELU(),
            nn.Conv2d(4 * w, dim, 3, 1, 1), nn.GELU(),
            nn.AdaptiveAvgPool2d(grid))
        self.pos = nn.Parameter(torch.randn(grid * grid, dim) * 0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).flatten(2).transpose(1, 2) + self.pos     # (b, n, d)


class Attention(nn.Module):
    """Additive attention of a query (b, q) over regions (b, n, d) -> (b, d)."""

    def __init__(self, q: int, d: int):
        super().__init__()
        self.key, self.query, self.score = nn.Linear(d, d), nn.Linear(q, d, bias=False), nn.Linear(d, 1, bias=False)

    def forward(self, query: torch.Tensor, regions: torch.Tensor, keys: torch.Tensor | None = None) -> torch.Tensor:
        keys = self.key(regions) if keys is None else keys
        a = self.score(torch.tanh(keys + self.query(query)[:, None])).squeeze(-1).softmax(-1)    # (b, n)
        return (a[:, :, None] * regions).sum(1)


class CaptionGenerator(ConfigModule):
    phases = CaptionerOptions.phases        # the step logic the trainer uses
    bf16_auto = False                                   # token ids out: autocast buys nothing here
    call_options = ("decode", "temperature", "beam_size")

    def __init__(self, vocab_size: int, max_tokens: int, z_dim: int, cond_dim: int = 0, channels: int = 3,
                 width: int = 64, hidden: int = 256, embed: int = 128, grid: int = 4, decode: str = "sample",
                 temperature: float = 1.0, beam_size: int = 5):
        super().__init__(vocab_size=vocab_size, max_tokens=max_tokens, z_dim=z_dim, cond_dim=cond_dim,
                         channels=channels, width=width, hidden=hidden, embed=embed, grid=grid, decode=decode,
                         temperature=temperature, beam_size=beam_size)
        self.vocab_size, self.max_tokens, self.cond_dim = vocab_size, max_tokens, cond_dim
        self.encoder = RegionEncoder(channels, width, hidden, grid)
        self.init = nn.Linear(hidden + z_dim + cond_dim, hidden)
        self.embed = nn.Embedding(vocab_size, embed)
        self.attend = Attention(hidden, hidden)
        self.cell = nn.GRUCell(embed + hidden + cond_dim, hidden)
        self.out = nn.Sequential(nn.Linear(2 * hidden, hidden), nn.GELU(), nn.Linear(hidden, vocab_size))
        self.loss_options: dict = {}

    # ---- pieces ---------------------------------------------------------------------------------------
    def start(self, source: torch.Tensor, z: torch.Tensor, c: torch.Tensor | None):
        """-> (regions (b, n, d), their attention keys, h0 (b, d), c or an empty (b, 0))."""
        if source is None:
            raise ValueError("the captioner reads an image: G(z, c, source=images (b, c, h, w))")
        regions = self.encoder(source.float())
        c = c.float() if c is not None and self.cond_dim else regions.new_zeros(len(regions), 0)
        h = torch.tanh(self.init(torch.cat([regions.mean(1), z.float(), c], 1)))
        return regions, self.attend.key(regions), h, c

    def step(self, tok: torch.Tensor, h: torch.Tensor, regions, keys, c) -> tuple[torch.Tensor, torch.Tensor]:
        """One token (b,) -> (logits (b, V), the next state)."""
        ctx = self.attend(h, regions, keys)
        h = self.cell(torch.cat([self.embed(tok), ctx, c], 1), h)
        return self.out(torch.cat([h, self.attend(h, regions, keys)], 1)), h

    def teacher_forcing(self, source, z, c, tokens: torch.Tensor) -> torch.Tensor:
        """Logits (b, T, V) of each token of `tokens` (b, T) given the ones before it (EOS starts)."""
        regions, keys, h, c = self.start(source, z, c)
        prev = torch.cat([torch.full_like(tokens[:, :1], EOS), tokens[:, :-1]], 1)
        out = []
        for t in range(tokens.shape[1]):
            logits, h = self.step(prev[:, t], h, regions, keys, c)
            out.append(logits)
        return torch.stack(out, 1)

    def sample(self, source, z, c, greedy: bool = False, temperature: float = 1.0, seeded: bool = False):
        """Draw captions -> (ids (b, T), log-probabilities of the drawn tokens (b, T), mask (b, T): tokens
        up to and including EOS). With grad when called under grad (policy gradient). seeded: each row's
        draws come from a generator seeded by its own z (generation: a latent gives one caption, whatever
        batch it is in); otherwise from torch's global generator (training)."""
        rows = _row_generators(z) if seeded and not greedy else None
        regions, keys, h, c = self.start(source, z, c)
        b, T = len(regions), self.max_tokens
        tok = torch.full((b,), EOS, dtype=torch.long, device=regions.device)
        done = torch.zeros(b, dtype=torch.bool, device=regions.device)
        ids, logps, masks = [], [], []
        for t in range(T):
            logits, h = self.step(tok, h, regions, keys, c)
            logits[:, PAD] = -1e9                          # PAD only follows EOS
            if t == T - 1:
                logits = torch.full_like(logits, -1e9).index_fill(1, torch.tensor([EOS], device=logits.device), 0.0)
            logp = logits.float().log_softmax(-1)
            if greedy:
                tok = logp.argmax(-1)
            elif rows is not None:
                u = torch.cat([torch.rand(1, generator=g) for g in rows]).to(logp.device)
                cdf = (logp.detach() / max(temperature, 1e-4)).softmax(-1).cumsum(-1)
                tok = (cdf < u[:, None]).sum(-1).clamp(max=logp.shape[1] - 1)      # inverse-CDF draw
            else:
                tok = torch.multinomial((logp.detach() / max(temperature, 1e-4)).softmax(-1), 1).squeeze(1)
            masks.append(~done)
            logps.append(logp.gather(1, tok[:, None]).squeeze(1))
            tok = torch.where(done, torch.full_like(tok, PAD), tok)
            ids.append(tok)
            done = done | (tok == EOS)
            if bool(done.all()):
                break
        ids, logp, mask = torch.stack(ids, 1), torch.stack(logps, 1), torch.stack(masks, 1)
        pad = T - ids.shape[1]
        if pad:
            ids, logp, mask = F.pad(ids, (0, pad), value=PAD), F.pad(logp, (0, pad)), F.pad(mask, (0, pad))
        return ids, logp, mask

    @torch.no_grad()
    def beam_search(self, source, z, c, beam: int = 5) -> torch.Tensor:
        """The most likely caption by beam search (beam hypotheses per sample) -> ids (b, T)."""
        regions, keys, h, c = self.start(source, z, c)
        b, T, V, k = len(regions), self.max_tokens, self.vocab_size, max(1, beam)
        rep = lambda x: x.repeat_interleave(k, 0)          # noqa: E731  (b, ...) -> (b k, ...)
        regions, keys, h, c = rep(regions), rep(keys), rep(h), rep(c)
        dev = regions.device
        scores = torch.full((b, k), -1e9, device=dev)
        scores[:, 0] = 0.0                                 # one live hypothesis to start
        tokens = torch.zeros(b, k, 0, dtype=torch.long, device=dev)
        tok = torch.full((b * k,), EOS, dtype=torch.long, device=dev)
        done = torch.zeros(b * k, dtype=torch.bool, device=dev)
        for t in range(T):
            logits, h = self.step(tok, h, regions, keys, c)
            logits[:, PAD] = -1e9
            if t == T - 1:
                logits = torch.full_like(logits, -1e9).index_fill(1, torch.tensor([EOS], device=dev), 0.0)
            logp = logits.float().log_softmax(-1)
            ended = torch.full_like(logp, -1e9)
            ended[:, PAD] = 0.0                            # a finished hypothesis only pads, at no cost
            logp = torch.where(done[:, None], ended, logp)
            cand = (scores.reshape(-1, 1) + logp).reshape(b, k * V)
            scores, flat = cand.topk(k, dim=1)             # (b, k)
            parent, tok = flat // V, flat % V
            rows = (torch.arange(b, device=dev)[:, None] * k + parent).reshape(-1)
            h, done = h[rows], done[rows]
            tokens = torch.cat([tokens.reshape(b * k, -1)[rows].reshape(b, k, -1), tok[:, :, None]], 2)
            tok = tok.reshape(-1)
            done = done | (tok == EOS)
            if bool(done.all()):
                break
        best = tokens[torch.arange(b, device=dev), scores.argmax(1)]
        return F.pad(best, (0, T - best.shape[1]), value=PAD)

    # ---- generation -----------------------------------------------------------------------------------
    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None, source: torch.Tensor | None = None,
                decode: str | None = None, temperature: float | None = None, beam_size: int | None = None,
                **_) -> torch.Tensor:
        """(b, z_dim) noise, style c, source images (b, c, h, w) -> caption ids (b, max_tokens)."""
        decode = decode or self.config["decode"]
        if decode == "beam":
            return self.beam_search(source, z, c, int(beam_size or self.config["beam_size"]))
        if decode not in ("sample", "greedy"):
            raise ValueError(f"decode must be sample, greedy or beam, got {decode!r}")
        t = float(self.config["temperature"] if temperature is None else temperature)
        with torch.no_grad():
            return self.sample(source, z, c, greedy=decode == "greedy", temperature=t, seeded=True)[0]


def _row_generators(z: torch.Tensor) -> list[torch.Generator]:
    """One CPU generator per row of z, seeded by a hash of that row's values."""
    rows = z.detach().float().cpu().numpy()
    return [torch.Generator().manual_seed(int.from_bytes(hashlib.sha256(r.tobytes()).digest()[:8], "little") >> 1)
            for r in rows]


class CaptionDiscriminator(ConfigModule):
    """D(captions (k b, T), c (k b, ...), source=images (b, ...)) -> (logits (k b,), None): k blocks of b
    captions each read with the same b images, which are encoded once."""

    def __init__(self, vocab_size: int, cond_dim: int = 0, channels: int = 3, width: int = 64, hidden: int = 256,
                 embed: int = 128, grid: int = 4):
        super().__init__(vocab_size=vocab_size, cond_dim=cond_dim, channels=channels, width=width, hidden=hidden,
                         embed=embed, grid=grid)
        self.cond_dim = cond_dim
        self.encoder = RegionEncoder(channels, width, hidden, grid)
        self.embed = nn.Embedding(vocab_size, embed, padding_idx=PAD)
        self.rnn = nn.GRU(embed, hidden, batch_first=True)
        self.attend = Attention(hidden, hidden)
        self.head = nn.Sequential(nn.Linear(3 * hidden + cond_dim, hidden), nn.GELU(), nn.Linear(hidden, 1))

    def forward(self, tokens: torch.Tensor, c: torch.Tensor | None = None, source: torch.Tensor | None = None, **_):
        if source is None:
            raise ValueError("the captioner's D reads the image: D(captions, c, source=images)")
        tokens = tokens.long()
        if len(tokens) % len(source):
            raise ValueError(f"D: {len(tokens)} captions for {len(source)} images; give one image per caption, or "
                             "k captions per image as k blocks of the batch (real, mismatched, generated)")
        states, _ = self.rnn(self.embed(tokens))                                     # (k b, T, d)
        last = ((tokens != PAD).sum(1) - 1).clamp(min=0)                           # the EOS position
        text = states[torch.arange(len(tokens), device=tokens.device), last]
        regions = self.encoder(source.float())                                     # (b, n, d): each image once
        regions = regions.repeat(len(tokens) // len(source), 1, 1)                 # (k b, n, d)
        image = self.attend(text, regions)
        c = c.float() if c is not None and self.cond_dim else text.new_zeros(len(text), 0)
        return self.head(torch.cat([text, image, text * image, c], 1)).squeeze(1), None


def loss_options(cfg: ModelConfig) -> dict:
    o = CaptionerOptions.read(cfg.extra)
    return {"mle_steps": o.mle_steps, "d_pretrain": o.d_pretrain, "d_from_g": o.d_from_g, "mle_weight": o.mle_weight,
            "pg_weight": o.pg_weight, "mismatch_weight": o.mismatch_weight, "z_choices": o.z_choices}


@register("model", "captioner", options=CaptionerOptions)
def build_captioner(cfg: ModelConfig, with_discriminator: bool = True):
    o = CaptionerOptions.read(cfg.extra)
    if not o.vocab or not o.max_tokens:
        raise ValueError("captioner: model.extra.vocab and max_tokens are unset; train it on captioned data "
                         "(--target text: the text codec builds them)")
    channels = int((cfg.extra.get("source") or {}).get("channels") or cfg.channels or 3)
    common = dict(cond_dim=cfg.cond_dim, channels=channels, hidden=o.hidden, embed=o.embed, grid=o.grid)
    G = CaptionGenerator(len(o.vocab), o.max_tokens, cfg.z_dim, width=cfg.g_width, decode=o.decode,
                         temperature=o.temperature, beam_size=o.beam_size, **common)
    G.loss_options = loss_options(cfg)
    D = CaptionDiscriminator(len(o.vocab), width=cfg.d_width, **common) if with_discriminator else None
    return G, D
