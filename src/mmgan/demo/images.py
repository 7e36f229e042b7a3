"""The image parts of `make demo` (mmgan.demo): grid25 and label-conditioned digits.

1. grid25 (25-mode Gaussian mixture): an MLP GAN with PacGAN packing and R1, sampled by
   discriminator rejection sampling; writes mode-coverage scatters (rejection sampling and G(z)
   alone) with the protocol's numbers (modes captured, % high-quality, reverse KL).
2. digits (scikit-learn's real handwritten digits): a label-conditioned DCGAN; writes a sample grid
   with one row per requested digit, and its loss curves.
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
from ..modalities.pixels import save_grid
from ..metrics.modes import mixture_modes
from ..pipeline import Pipeline
from ..plots import scatter_modes


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


def digits(out: Path, minutes: float) -> dict:
    run = out / "runs" / "digits"
    shutil.rmtree(run, ignore_errors=True)
    _say(f"training a label-conditioned DCGAN on digits for at most {minutes:g} min")
    res = train(data="digits", config="digits-dcgan", out=run, minutes=minutes, log=lambda m: None)
    pipe = Pipeline.from_pretrained(run, device="cpu")
    labels = torch.arange(10).repeat_interleave(10)           # one row per digit
    img = pipe(labels=labels, num_images=100, seed=0, output_type="pt").tensor
    png = save_grid(img, out / "digits_samples.png", nrow=10)
    shutil.copy(run / "loss.png", out / "digits_loss.png")
    _say(f"digits: {res.step} steps in {res.seconds:.0f}s; rows are the digits 0..9")
    return {"digits samples (row = requested digit)": png, "digits loss curves": out / "digits_loss.png",
            "digits run": run}
