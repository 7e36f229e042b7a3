"""A HiFi-GAN vocoder run against Griffin-Lim: copy synthesis of held-out clips from their own log-mel
pictures, its speed, and the training step of its preset.

    python bench/vocoder.py runs/vocoder                        # 50 clips of spoken-digits' test split
    python bench/vocoder.py runs/vocoder --clips 200 --threads 2 --step

For each clip x of the data's test split (voices never heard in training): m = MelSpec.encode(x), the
picture both inverses get; y_voc = vocoder(m), y_gl = MelSpec.decode(m) (Griffin-Lim, 32 iterations).
Distances to x, averaged over clips:
  mel_l1   mean |log-mel(y) - log-mel(x)| (natural log of the mel magnitude; mmgan.losses.spectral)
  mrstft   multi-resolution STFT loss (spectral convergence + log-magnitude L1, three resolutions)
and the speech scores of mmgan.metrics.speech_quality, averaged over clips: mel-cepstral distortion (dB,
DTW-aligned), F0 RMSE (cents, frames voiced in both) and voicing F1 (librosa.pyin), STOI (pystoi, the clips
joined end to end) and wide-band PESQ (pesq), the last two where installed. The real clips themselves would
score the scales' ends (MCD 0, F0 error 0, voicing F1 1, STOI 1, PESQ 4.64), so no real row is printed.
Speed: seconds to vocode 10 s of audio (ten 1-s mels in one batch, best of 3) / 10 s = the real-time
factor (below 1: faster than real time), at --threads CPU threads. --step also times the preset's
training step (batch and segments as configured, best of 5 after 2 warm-up steps).
Prints one JSON line.
"""
from __future__ import annotations

import argparse
import json
import time

import torch

from mmgan.config import Config
from mmgan.data import load_dataset
from mmgan.losses.spectral import mel_l1, multi_resolution_stft
from mmgan.metrics.speech_quality import compare
from mmgan.modalities import get_codec
from mmgan.modalities.vocoder import load_vocoder
from mmgan.models.base import num_params
from mmgan.runs import resolve
from mmgan.training.loop import Trainer
from mmgan.training.setup import resolve as resolve_config


def distances(y: torch.Tensor, x: torch.Tensor, spec) -> dict:
    return {"mel_l1": float(mel_l1(y[:, None], x[:, None], spec)),
            "mrstft": float(multi_resolution_stft(y[:, None], x[:, None]))}


@torch.no_grad()
def copy_synthesis(net, data: str, n: int) -> dict:
    spec = net.spec
    ds = load_dataset(data, split="test")
    x = get_codec("audio").waveforms(list(ds.columns["audio"])[:n], spec)              # (n, samples)
    m = spec.encode(x)
    voc = torch.cat([net(m[i:i + 10])[:, 0] for i in range(0, len(m), 10)])[:, : spec.samples]
    gl = torch.cat([spec.decode(m[i:i + 10]) for i in range(0, len(m), 10)])
    out = {"clips": len(x), "vocoder": distances(voc, x, spec), "griffin_lim": distances(gl, x, spec)}
    t = time.perf_counter()
    for name, scores in compare(x, {"vocoder": voc, "griffin_lim": gl}, spec.sample_rate).items():
        out[name].update({k: round(v, 4) for k, v in scores.items()})
    out["quality_seconds"] = round(time.perf_counter() - t, 1)
    return out


@torch.no_grad()
def real_time_factor(net, seconds: int = 10) -> float:
    spec = net.spec
    clips = round(seconds * spec.sample_rate / spec.samples)
    m = torch.rand(clips, 1, spec.n_mels, spec.frames) * 2 - 1
    net(m[:1])
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        net(m)
        best = min(best, time.perf_counter() - t)
    return best / (clips * spec.samples / spec.sample_rate)


def step_time(run: str) -> float:
    ref = resolve(run)
    cfg = Config.from_dict({k: v for k, v in ref.meta["config"].items()})
    cfg.train.progress, cfg.train.tensorboard = False, False
    ds = load_dataset(cfg.data.name)
    resolve_config(cfg, ds, saved_extra=cfg.model.extra)
    tr = Trainer(cfg, "/tmp/mmgan-bench-vocoder-step", ds, log=lambda *a: None)
    for _ in range(2):
        tr.train_step()
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        tr.train_step()
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run", help="a hifigan run, checkpoint or export")
    ap.add_argument("--data", default="spoken-digits", help="dataset whose test split is re-synthesised")
    ap.add_argument("--clips", type=int, default=50)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--step", action="store_true", help="also time the run's training step")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    net = load_vocoder(a.run)
    ref = resolve(a.run)
    out = {"run": a.run, "step": ref.step, "threads": a.threads, "g_params": num_params(net),
           "rates": net.config["rates"], "width": net.config["width"], "rtf": round(real_time_factor(net), 4),
           **copy_synthesis(net, a.data, a.clips)}
    if a.step:
        out["step_seconds"] = round(step_time(a.run), 3)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
