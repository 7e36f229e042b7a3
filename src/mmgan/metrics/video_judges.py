"""Judges of video with sound, trained in-project on real clips only (no SyncNet or C3D weights can be fetched).

  SyncExpert   SyncNet's idea (Chung & Zisserman 2016, as Wav2Lip's expert): a window of `window` frames and the
               log-mels under it are embedded apart (unit vectors); aligned pairs are close, the same clip's
               audio shifted by at least `min_shift` frames far (BCE on the scaled cosine, as Wav2Lip).
               sync_scores() gives the LSE-D / LSE-C analogues and the audio-visual offset over +-max_offset
               frames: for each offset the mean distance between every frame window and the audio window that
               offset away; the clip's offset is the offset of the least distance (LSE-D: that distance; LSE-C:
               the median distance over offsets minus it, the confidence).
  ClipJudge    a 3-D conv classifier of whole clips with one head per attribute (moving-digits-av: digit,
               start direction, first wall); its penultimate features give the clip Frechet distance (MoCoGAN's
               UCF-101 protocol does the same with C3D).
  FrameJudge   a 2-D conv network on single frames: a classifier (the digit in every frame) or, with one output
               and a squared loss, a regressor (talking-shape: the mouth's height in every frame).
Shape legend: n clips, t frames, c channels, h = w side, s samples, k window frames, m mel bands.
Cache: $MMGAN_CACHE/judges/video-<kind>-<hash>/ (the data version and the recipe): config.json + model.safetensors.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..models.base import load_weights, save_json, save_weights
from ..modalities.audio import SAMPLE_RATE
from ..modalities.sound import FRAME_MELS, MEL_PER_FRAME, frame_log_mels
from ..utils import cosine_lr, load_json

VERSION = 1


def _convs(c_in: int, side: int, width: int, dims: int = 2) -> tuple[nn.Sequential, int]:
    conv = nn.Conv2d if dims == 2 else nn.Conv3d
    layers, c, s = [], c_in, side
    while s > 4:
        out = width * 2 ** min(len(layers) // 2, 2)
        k, st, p = (4, 2, 1) if dims == 2 else ((3, 4, 4), (1, 2, 2), (1, 1, 1))
        layers += [conv(c, out, k, st, p), nn.LeakyReLU(0.2)]
        c, s = out, s // 2
    return nn.Sequential(*layers), c * s * s


class SyncExpert(nn.Module):
    def __init__(self, channels: int, side: int, frames: int, fps: float, window: int = 4, width: int = 32,
                 dim: int = 64):
        super().__init__()
        self.config = dict(channels=channels, side=side, frames=frames, fps=fps, window=window, width=width, dim=dim)
        self.frames, self.fps, self.window = frames, fps, window
        self.video, f = _convs(channels * (2 * window - 1), side, width)      # frames and their differences
        self.video_head = nn.Linear(f, dim)
        self.audio = nn.Sequential(nn.Conv1d(FRAME_MELS, 64, 3, padding=1), nn.LeakyReLU(0.2),
                                   nn.Conv1d(64, 64, 3, padding=1), nn.LeakyReLU(0.2), nn.Flatten(),
                                   nn.Linear(64 * window * MEL_PER_FRAME, dim))
        self.scale, self.bias = nn.Parameter(torch.tensor(5.0)), nn.Parameter(torch.tensor(0.0))

    def embed_video(self, x: torch.Tensor) -> torch.Tensor:
        """(n, k, c, h, w) windows -> (n, dim) unit vectors."""
        x = torch.cat([x, x[:, 1:] - x[:, :-1]], 1).flatten(1, 2)
        return F.normalize(self.video_head(self.video(x).flatten(1)), dim=1)

    def embed_audio(self, mels: torch.Tensor) -> torch.Tensor:
        """(n, m, k * MEL_PER_FRAME) -> (n, dim) unit vectors."""
        return F.normalize(self.audio(mels), dim=1)

    def all_windows(self, video: torch.Tensor, mels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(n, t, c, h, w), (n, m, t * 4) -> every window's embeddings: video (n, p, dim), audio (n, p, dim),
        p = t - window + 1 positions."""
        n, t, k = video.shape[0], video.shape[1], self.window
        p = t - k + 1
        v = self.embed_video(video.unfold(1, k, 1).permute(0, 1, 5, 2, 3, 4).flatten(0, 1))
        a = self.embed_audio(mels.unfold(2, k * MEL_PER_FRAME, MEL_PER_FRAME).permute(0, 2, 1, 3).flatten(0, 1))
        return v.view(n, p, -1), a.view(n, p, -1)


def sync_scores(expert: SyncExpert, video: torch.Tensor, wave: torch.Tensor, max_offset: int = 6,
                batch: int = 64) -> dict:
    """LSE-D, LSE-C, the offsets found and offset accuracy (exact and within one frame) of clips with their sound."""
    expert.eval()
    dists = []
    with torch.no_grad():
        for i in range(0, len(video), batch):
            v, a = expert.all_windows(video[i:i + batch].float(),
                                      frame_log_mels(wave[i:i + batch], expert.frames, expert.fps, SAMPLE_RATE))
            p = v.shape[1]
            offs = range(-max_offset, max_offset + 1)
            d = []
            for o in offs:                                   # audio o frames later than the video window
                lo, hi = max(0, -o), min(p, p - o)
                d.append((v[:, lo:hi] - a[:, lo + o:hi + o]).norm(dim=2).mean(1))
            dists.append(torch.stack(d, 1))                  # (n, offsets)
    d = torch.cat(dists)
    best = d.min(1)
    offset = best.indices - max_offset
    return {"lse_d": float(best.values.mean()), "lse_c": float((d.median(1).values - best.values).mean()),
            "offset_acc": float((offset == 0).float().mean()), "offset_acc_1": float((offset.abs() <= 1).float().mean()),
            "offsets": offset.tolist(), "clips": len(d)}


class ClipJudge(nn.Module):
    """(n, t, c, h, w) -> {attribute: logits}; features(x) -> (n, 128)."""

    def __init__(self, channels: int, side: int, frames: int, heads: dict[str, int], width: int = 16):
        super().__init__()
        self.config = dict(channels=channels, side=side, frames=frames, heads=heads, width=width)
        self.body, f = _convs(channels, side, width, dims=3)
        self.fc = nn.Sequential(nn.Flatten(), nn.Linear(f * frames, 128), nn.ReLU())
        self.heads = nn.ModuleDict({k: nn.Linear(128, n) for k, n in heads.items()})

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.body(x.transpose(1, 2)))

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        h = self.features(x)
        return {k: head(h) for k, head in self.heads.items()}


class FrameJudge(nn.Module):
    """(n, c, h, w) frames -> digit logits (n, classes)."""

    def __init__(self, channels: int, side: int, classes: int = 10, width: int = 32):
        super().__init__()
        self.config = dict(channels=channels, side=side, classes=classes, width=width)
        self.body, f = _convs(channels, side, width)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(f, 128), nn.ReLU(), nn.Linear(128, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


# ---- training ------------------------------------------------------------------------------------
def _fit(model: nn.Module, loss_fn: Callable[[int], torch.Tensor], steps: int, minutes: float, lr: float,
         log: Callable[[str], None], name: str) -> int:
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    t0, model = time.time(), model.train()
    for step in range(steps):
        for g in opt.param_groups:
            g["lr"] = cosine_lr(step, steps, lr)
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(step)
        loss.backward()
        opt.step()
        if step % 100 == 0:
            log(f"  {name} step {step}/{steps}: loss {float(loss):.3f}")
        if time.time() - t0 > minutes * 60:
            return step + 1
    return steps


def train_sync_expert(video: torch.Tensor, wave: torch.Tensor, fps: float, window: int = 4, min_shift: int = 2,
                      steps: int = 1500, minutes: float = 4.0, batch: int = 32, seed: int = 0,
                      log: Callable[[str], None] = print) -> SyncExpert:
    """Real clips (n, t, c, h, w) with their sound (n, s): aligned windows are positives, the same clip's audio
    shifted by min_shift or more frames (and other clips' audio) negatives."""
    torch.manual_seed(seed)
    n, t = video.shape[:2]
    expert = SyncExpert(video.shape[2], video.shape[-1], t, fps, window)
    mels = frame_log_mels(wave, t, fps, SAMPLE_RATE)
    p = t - window + 1

    def loss(_):
        i = torch.randint(0, n, (batch,))
        v, a = video[i], mels[i]
        s = torch.randint(0, p, (batch,))
        shift = torch.randint(min_shift, p, (batch,)) * (torch.randint(0, 2, (batch,)) * 2 - 1)
        s2 = (s + shift).clamp(0, p - 1)
        s2 = torch.where((s2 - s).abs() < min_shift, (s - shift).clamp(0, p - 1), s2)
        vw = torch.stack([v[j, s[j]:s[j] + window] for j in range(batch)])
        aw = lambda st: torch.stack([a[j, :, st[j] * MEL_PER_FRAME:(st[j] + window) * MEL_PER_FRAME] for j in range(batch)])
        ev, pos, neg = expert.embed_video(vw), expert.embed_audio(aw(s)), expert.embed_audio(aw(s2))
        other = pos.roll(1, 0)                                          # another clip's aligned audio
        logit = lambda e: expert.scale * (ev * e).sum(1) + expert.bias
        far = (s2 - s).abs() >= min_shift
        return (F.binary_cross_entropy_with_logits(logit(pos), torch.ones(batch))
                + F.binary_cross_entropy_with_logits(logit(neg)[far], torch.zeros(int(far.sum())))
                + F.binary_cross_entropy_with_logits(logit(other), torch.zeros(batch)))

    expert.steps_done = _fit(expert, loss, steps, minutes, 2e-3, log, "sync expert")
    return expert.eval()


def train_clip_judge(video: torch.Tensor, attributes: dict[str, torch.Tensor], steps: int = 800,
                     minutes: float = 4.0, batch: int = 32, seed: int = 0,
                     log: Callable[[str], None] = print) -> ClipJudge:
    torch.manual_seed(seed)
    heads = {k: int(v.max()) + 1 for k, v in attributes.items()}
    judge = ClipJudge(video.shape[2], video.shape[-1], video.shape[1], heads)

    def loss(_):
        i = torch.randint(0, len(video), (batch,))
        out = judge(video[i])
        return sum(F.cross_entropy(out[k], attributes[k][i]) for k in heads)

    judge.steps_done = _fit(judge, loss, steps, minutes, 1e-3, log, "clip judge")
    return judge.eval()


def train_frame_judge(video: torch.Tensor, labels: torch.Tensor, steps: int = 800, minutes: float = 3.0,
                      batch: int = 64, seed: int = 0, log: Callable[[str], None] = print) -> FrameJudge:
    """labels: (n,) class indices of the clips (every frame shows its clip's class), or (n, t) float targets per
    frame (a regressor: one output, squared loss)."""
    torch.manual_seed(seed)
    regress = labels.is_floating_point()
    judge = FrameJudge(video.shape[2], video.shape[-1], 1 if regress else int(labels.max()) + 1)
    n, t = video.shape[:2]

    def loss(_):
        i, k = torch.randint(0, n, (batch,)), torch.randint(0, t, (batch,))
        if regress:
            return F.mse_loss(judge(video[i, k])[:, 0], labels[i, k])
        return F.cross_entropy(judge(video[i, k]), labels[i])

    judge.steps_done = _fit(judge, loss, steps, minutes, 1e-3, log, "frame judge")
    return judge.eval()


# ---- reading ------------------------------------------------------------------------------------
@torch.no_grad()
def clip_predictions(judge: ClipJudge, video: torch.Tensor, batch: int = 64) -> tuple[dict, torch.Tensor]:
    """({attribute: predicted (n,)}, features (n, 128))."""
    preds: dict[str, list] = {k: [] for k in judge.heads}
    feats = []
    for i in range(0, len(video), batch):
        h = judge.features(video[i:i + batch].float())
        feats.append(h)
        for k, head in judge.heads.items():
            preds[k].append(head(h).argmax(1))
    return {k: torch.cat(v) for k, v in preds.items()}, torch.cat(feats)


@torch.no_grad()
def frame_reading(judge: FrameJudge, video: torch.Tensor, batch: int = 512) -> torch.Tensor:
    """(n, t, c, h, w) -> (n, t): the class read in every frame (a classifier) or the value (a regressor)."""
    flat = video.flatten(0, 1).float()
    out = torch.cat([judge(flat[i:i + batch]) for i in range(0, len(flat), batch)])
    return (out[:, 0] if out.shape[1] == 1 else out.argmax(1)).view(video.shape[:2])


def frechet(a: torch.Tensor, b: torch.Tensor) -> float:
    """Frechet distance between Gaussians fitted to two sets of features (n, d)."""
    from scipy import linalg

    a, b = a.double().numpy(), b.double().numpy()
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean, _ = linalg.sqrtm(s1 @ s2, disp=False)
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean.real))


# ---- cache --------------------------------------------------------------------------------------
def cached(kind: str, key: dict, build: Callable[[], nn.Module], make: Callable[[dict], nn.Module]) -> nn.Module:
    """The judge of `kind` trained for `key` (data versions, recipe) from the cache, else built and saved."""
    blob = json.dumps({"v": VERSION, "kind": kind, **key}, sort_keys=True)
    folder = Path(os.environ.get("MMGAN_CACHE") or ".mmgan-cache") / "judges" / \
        f"video-{kind}-{hashlib.sha256(blob.encode()).hexdigest()[:16]}"
    if (folder / "model.safetensors").is_file():
        cfg = load_json(folder / "config.json")
        model = make(cfg["config"])
        load_weights(model, folder / "model.safetensors")
        model.steps_done = cfg.get("steps_done")
        return model.eval()
    model = build()
    folder.mkdir(parents=True, exist_ok=True)
    save_json({"config": model.config, "key": key, "steps_done": getattr(model, "steps_done", None)},
              folder / "config.json")
    save_weights(model, folder / "model.safetensors")      # last, atomically: its presence marks a complete judge
    return model
