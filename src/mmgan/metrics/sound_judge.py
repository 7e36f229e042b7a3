"""The SC09 digit judge: a small 2-D CNN on log-mels, trained in-project on real spoken digits only.

It labels generated 1 s clips ("zero".."nine" at 16 kHz) for the SC09 protocol (sound_scores.py):
`probs(waves)` for IS / mIS / AM / label accuracy, `features(waves)` (its 128-D penultimate layer,
after ReLU) for FID. Numbers from another judge (another recipe, other training data) are not
comparable: results name the judge's `id`.

Input: a batched log-mel with log_mel's STFT and filterbank (64 mels, 10 ms hop, 32 ms window), floored
at `top_db` below the clip's loudest bin (digital silence and a generator's noise floor then look
alike), normalized per clip (normalize_mel "clip"). Training augments the waveform (random time
shift, speed 0.9-1.1, gain, white noise at a random SNR), then the log-mel (SpecAugment masks).

Cache: $MMGAN_CACHE/judges/<id>/ (default .mmgan-cache/judges/): config.json (the net's config, the
recipe, the data version, held-out accuracy) + model.safetensors; never a pickle.
Shape legend: n clips, s samples (16,000), t frames, m mel bands.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..data.audio import load_audio
from ..encoders.audio import mel_power, normalize_mel, stft_sizes
from ..encoders.audio_augment import spec_mask
from ..models.base import ConfigModule, load_weights, save_json, save_weights
from ..utils import cosine_lr

SAMPLE_RATE = 16000
CLIP_SAMPLES = 16000
CLASS_NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
JUDGE_VERSION = 1                 # bump when the code changes what a cached judge means


@dataclass(frozen=True)
class JudgeRecipe:
    """Input features, network and training of the judge: all of it is part of the cache key."""
    n_mels: int = 64
    hop_ms: float = 10.0
    win_ms: float = 32.0
    top_db: float = 80.0             # log-mel floor below the clip's maximum
    width: int = 16                  # channels of the first block (doubling per block, capped at feat_dim)
    feat_dim: int = 128
    steps: int = 600
    minutes: float = 8.0             # wall-clock cap (steps_done is recorded beside the weights)
    batch_size: int = 32
    lr: float = 3e-3
    weight_decay: float = 1e-3
    label_smoothing: float = 0.0     # none: smoothing caps the confidence, so IS (0.05 on 10 classes: IS <= ~7.6)
    shift_ms: float = 150.0          # random time shift, either way (zeros fill)
    speed: float = 0.1               # speed perturbation factor in [1 - speed, 1 + speed]
    gain_db: float = 6.0
    noise_p: float = 0.5             # share of clips with white noise added
    snr_db: tuple[float, float] = (10.0, 40.0)
    time_masks: int = 2
    time_mask_frames: int = 10
    freq_masks: int = 2
    freq_mask_bands: int = 8
    seed: int = 0


def log_mels(waves: torch.Tensor, n_mels: int = 64, hop_ms: float = 10.0, win_ms: float = 32.0,
             top_db: float = 80.0) -> torch.Tensor:
    """(n, s) waveforms -> (n, t, m) per-clip normalized log-mels (log_mel's STFT and filterbank, batched)."""
    n_fft, hop = stft_sizes(SAMPLE_RATE, hop_ms, win_ms)
    mel = torch.log(mel_power(waves, SAMPLE_RATE, n_fft, hop, n_mels) + 1e-6).transpose(1, 2)   # (n, t, m)
    floor = mel.amax(dim=(1, 2), keepdim=True) - top_db * math.log(10) / 10
    mel = torch.maximum(mel, floor)
    return normalize_mel(mel, torch.ones(mel.shape[:2], dtype=torch.bool), "clip")


class DigitCNN(ConfigModule):
    """Four conv-BN-ReLU blocks (the first with stride 2, max-pooling between), global average pooling,
    a feat_dim feature layer, a linear head."""

    def __init__(self, n_mels: int = 64, width: int = 16, feat_dim: int = 128, num_classes: int = 10):
        super().__init__(n_mels=n_mels, width=width, feat_dim=feat_dim, num_classes=num_classes)
        layers: list[nn.Module] = []
        c_in = 1
        for i in range(4):
            c = min(width * 2 ** i, feat_dim)
            layers += [nn.Conv2d(c_in, c, 3, stride=2 if i == 0 else 1, padding=1, bias=False), nn.BatchNorm2d(c),
                       nn.ReLU(inplace=True)] + ([nn.MaxPool2d(2)] if i < 3 else [])
            c_in = c
        self.body = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc = nn.Linear(c_in, feat_dim)
        self.drop = nn.Dropout(0.2)
        self.head = nn.Linear(feat_dim, num_classes)

    def embed(self, mel: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.fc(self.body(mel[:, None])))                # (n, t, m) -> (n, feat_dim)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        return self.head(self.drop(self.embed(mel)))                         # (n, classes) logits


class SoundJudge:
    """A trained DigitCNN with its recipe: waveforms in, probabilities and features out."""

    def __init__(self, net: DigitCNN, recipe: JudgeRecipe, info: dict | None = None):
        self.net, self.recipe, self.info = net.eval(), recipe, dict(info or {})

    @property
    def id(self) -> str:
        return self.info.get("id", "untrained")

    def mels(self, waves) -> torch.Tensor:
        r = self.recipe
        return log_mels(as_waves(waves), r.n_mels, r.hop_ms, r.win_ms, r.top_db)

    @torch.no_grad()
    def run(self, waves, batch_size: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
        """(features (n, feat_dim), probabilities (n, 10)) in one pass."""
        waves = as_waves(waves)
        self.net.eval()
        feats = [self.net.embed(self.mels(waves[i:i + batch_size])) for i in range(0, len(waves), batch_size)]
        f = torch.cat(feats)
        return f, torch.softmax(self.net.head(f), 1)

    def probs(self, waves) -> torch.Tensor:
        return self.run(waves)[1]

    def features(self, waves) -> torch.Tensor:
        return self.run(waves)[0]

    def save(self, folder: str | Path) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        save_weights(self.net, folder / "model.safetensors")
        save_json({"net": self.net.config, "recipe": asdict(self.recipe), **self.info}, folder / "config.json")
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> "SoundJudge":
        folder = Path(folder)
        cfg_path = folder / "config.json"
        if not cfg_path.is_file():
            raise FileNotFoundError(f"no sound judge in {folder} (config.json missing)")
        cfg = json.loads(cfg_path.read_text())
        recipe = JudgeRecipe(**{**cfg["recipe"], "snr_db": tuple(cfg["recipe"]["snr_db"])})
        net = load_weights(DigitCNN(**cfg["net"]), folder / "model.safetensors")
        return cls(net, recipe, {k: v for k, v in cfg.items() if k not in ("net", "recipe")})


def as_waves(waves) -> torch.Tensor:
    """A (n, s) float tensor or array, checked."""
    x = torch.as_tensor(np.asarray(waves) if not torch.is_tensor(waves) else waves).float()
    if x.dim() != 2 or x.shape[1] != CLIP_SAMPLES:
        raise ValueError(f"the sound judge takes (n, {CLIP_SAMPLES}) waveforms (1 s at {SAMPLE_RATE} Hz), "
                         f"got shape {tuple(x.shape)}")
    if not torch.isfinite(x).all():
        raise ValueError("waveforms hold NaN or infinite samples")
    return x


def load_waves(paths: Sequence[str | Path]) -> torch.Tensor:
    """Audio files -> (n, 16000) float32 at 16 kHz, each cut or zero-padded at the end to exactly 1 s."""
    out = torch.zeros(len(paths), CLIP_SAMPLES)
    for i, p in enumerate(paths):
        x = torch.from_numpy(load_audio(p, SAMPLE_RATE, max_seconds=CLIP_SAMPLES / SAMPLE_RATE))
        out[i, :len(x)] = x[:CLIP_SAMPLES]
    return out


# ---- training ---------------------------------------------------------------------------------------
def augment(x: torch.Tensor, r: JudgeRecipe, g: torch.Generator) -> torch.Tensor:
    """Waveform augmentation of a batch (n, s): speed, time shift, gain, noise."""
    n = len(x)
    out = torch.zeros_like(x)
    rates = 1 + r.speed * (2 * torch.rand(n, generator=g) - 1)
    shifts = ((2 * torch.rand(n, generator=g) - 1) * r.shift_ms * SAMPLE_RATE / 1000).long()
    for i in range(n):
        y = F.interpolate(x[i][None, None], size=int(CLIP_SAMPLES / float(rates[i])), mode="linear",
                          align_corners=False)[0, 0]             # faster speech is shorter and higher
        start = (len(y) - CLIP_SAMPLES) // 2 - int(shifts[i])   # source index of output sample 0
        lo, hi = max(0, -start), min(CLIP_SAMPLES, len(y) - start)
        if hi > lo:
            out[i, lo:hi] = y[start + lo:start + hi]
    out = out * torch.pow(10.0, r.gain_db * (2 * torch.rand(n, 1, generator=g) - 1) / 20)
    snr = r.snr_db[0] + (r.snr_db[1] - r.snr_db[0]) * torch.rand(n, 1, generator=g)
    rms = out.pow(2).mean(1, keepdim=True).sqrt().clamp_min(1e-4)
    hit = (torch.rand(n, 1, generator=g) < r.noise_p).float()
    return out + hit * rms * torch.pow(10.0, -snr / 20) * torch.randn(out.shape, generator=g)


@torch.no_grad()
def accuracy(judge: SoundJudge, waves: torch.Tensor, labels: torch.Tensor) -> float:
    return float((judge.probs(waves).argmax(1) == labels).float().mean())


def train_judge(waves: torch.Tensor, labels: torch.Tensor, recipe: JudgeRecipe = JudgeRecipe(),
                progress: bool = True, log: Callable[[str], None] | None = None) -> SoundJudge:
    """Train on real clips (n, s) with labels 0..9, recipe.steps steps or recipe.minutes, whichever ends first."""
    from tqdm import tqdm

    waves, labels = as_waves(waves), torch.as_tensor(labels).long()
    if len(waves) != len(labels) or len(waves) < 2:
        raise ValueError(f"train_judge needs matching waveforms and labels (got {len(waves)} and {len(labels)})")
    torch.manual_seed(recipe.seed)
    g = torch.Generator().manual_seed(recipe.seed)
    net = DigitCNN(recipe.n_mels, recipe.width, recipe.feat_dim, len(CLASS_NAMES))
    judge = SoundJudge(net, recipe)
    opt = torch.optim.AdamW(net.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
    t0, deadline, step = time.time(), time.time() + recipe.minutes * 60, 0
    net.train()
    bar = tqdm(range(recipe.steps), desc="sound judge", unit="step", disable=not progress, mininterval=2)
    for step in bar:
        if time.time() > deadline:
            if log:
                log(f"sound judge: stopped at the {recipe.minutes:g}-minute cap after {step} of {recipe.steps} steps")
            break
        for group in opt.param_groups:
            group["lr"] = cosine_lr(step, recipe.steps, recipe.lr, warmup=50)
        idx = torch.randint(0, len(waves), (min(recipe.batch_size, len(waves)),), generator=g)
        mel = judge.mels(augment(waves[idx], recipe, g))
        mel = spec_mask(mel, torch.ones(mel.shape[:2], dtype=torch.bool), recipe.time_masks, recipe.time_mask_frames,
                        recipe.freq_masks, recipe.freq_mask_bands, g)
        loss = F.cross_entropy(net(mel), labels[idx], label_smoothing=recipe.label_smoothing)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % 20 == 0:
            bar.set_postfix(loss=f"{float(loss.detach()):.3f}")
    else:
        step = recipe.steps
    net.eval()
    judge.info.update(steps_done=step, train_seconds=round(time.time() - t0, 1), train_clips=len(waves))
    return judge


# ---- the cached judge -------------------------------------------------------------------------------
def judge_root() -> Path:
    return Path(os.environ.get("MMGAN_CACHE") or ".mmgan-cache") / "judges"


def judge_key(data_version: str, recipe: JudgeRecipe) -> str:
    blob = json.dumps({"v": JUDGE_VERSION, "data": data_version, "recipe": asdict(recipe)}, sort_keys=True)
    return "sc09-" + hashlib.sha256(blob.encode()).hexdigest()[:16]


def data_version(paths: Sequence[str | Path], labels) -> str:
    """What the judge was trained on: the clips' bytes and labels (1 s WAVs all have one size, and a
    regenerated dataset may keep its paths; hashing 3,000 clips takes well under a second)."""
    h = hashlib.sha256()
    for p, y in zip(paths, torch.as_tensor(labels).tolist()):
        h.update(Path(p).read_bytes())
        h.update(f"\0{y}\n".encode())
    return h.hexdigest()[:16]


def sound_judge(train, test, recipe: JudgeRecipe = JudgeRecipe(), progress: bool = True, retrain: bool = False,
                log: Callable[[str], None] | None = None) -> tuple[SoundJudge, float]:
    """The judge trained on `train` (a dataset with `audio` paths and `label`), from the cache when it holds
    one for this data and recipe; returns it and its accuracy on `test` (the unheard-voice split)."""
    for name, ds in (("train", train), ("test", test)):
        if not (ds.has("audio") and ds.has("label")):
            raise ValueError(f"the {name} data needs `audio` and `label` columns; it has {list(ds.columns)}")
    version = data_version(train.columns["audio"], train.columns["label"])
    folder = judge_root() / judge_key(version, recipe)
    test_version = data_version(test.columns["audio"], test.columns["label"])
    if not retrain and (folder / "model.safetensors").is_file():
        judge = SoundJudge.load(folder)
        if judge.info.get("test_version") == test_version:
            return judge, float(judge.info["test_acc"])
    else:
        judge = train_judge(load_waves(train.columns["audio"]), train.columns["label"], recipe, progress, log)
    acc = accuracy(judge, load_waves(test.columns["audio"]), torch.as_tensor(test.columns["label"]))
    judge.info.update(id=folder.name, data_version=version, test_version=test_version, test_acc=acc,
                      test_clips=len(test))
    judge.save(folder)
    return judge, acc
