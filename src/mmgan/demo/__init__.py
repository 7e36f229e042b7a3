"""`make demo`: mmgan's main job on built-in data, on CPU, in a few minutes.

1. grid25 (25-mode Gaussian mixture): an MLP GAN with PacGAN packing and R1, sampled by
   discriminator rejection sampling; writes mode-coverage scatters (rejection sampling and G(z)
   alone) with the protocol's numbers (modes captured, % high-quality, reverse KL).
2. mnist (28x28 real handwritten digits): a label-conditioned DCGAN; writes a sample grid with one
   row per requested digit, titled with the digit classifier's accuracy on it and the diversity ratio.
3. shapes with text and speech: text+speech->image; writes held-out captions generated from text
   only, speech only and both, plus an embedding-arithmetic and a retrieval example.
4. sound (spoken digits, 1 s at 16 kHz): SpecGAN conditioned on the label and the text; writes WAVs of the
   digits 0-9 asked by label ("7") and by text ("seven"), their spectrograms titled with a digit judge's
   accuracy on generated clips (and a shuffled-label control), and a real clip beside its Griffin-Lim copy
   synthesis (WAV pair + spectrograms, with their log-mel L1).
Everything lands under --out (default demo/); the paths are printed at the end.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from . import multimodal as mm_demo
from . import sound as sound_demo
from .images import _say, grid25, mnist


def multimodal(out: Path, minutes: float) -> dict:
    _say(f"training text+speech->image on shapes for at most {minutes:g} min")
    res = mm_demo.run(out / "multimodal", minutes=minutes)
    return {(k if isinstance(v, Path) else f"shapes {k}"): v for k, v in res.items()}


def sound(out: Path, minutes: float) -> dict:
    _say(f"training spoken digits from labels and text (SpecGAN) for at most {minutes:g} min")
    res = sound_demo.run(out / "sound", minutes=minutes)
    return {(k if isinstance(v, Path) else f"sound {k}"): v for k, v in res.items()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m mmgan.demo", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="demo", help="output folder (default: demo/)")
    p.add_argument("--minutes", type=float, default=1.0, help="time scale: 1.0 is about 10 minutes of training")
    p.add_argument("--only", choices=["grid25", "mnist", "multimodal", "sound"], action="append",
                   help="run only these parts (repeatable)")
    args = p.parse_args(argv)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    parts = args.only or ["grid25", "mnist", "multimodal", "sound"]
    t0 = time.time()
    written: dict = {}
    if "grid25" in parts:
        written.update(grid25(out, 1.5 * args.minutes))
    if "mnist" in parts:
        written.update(mnist(out, 1.6 * args.minutes))
    if "multimodal" in parts:
        written.update(multimodal(out, 4.1 * args.minutes))
    if "sound" in parts:
        written.update(sound(out, 1.15 * args.minutes))
    _say(f"done in {time.time() - t0:.0f}s. Pictures and files:")
    for k, v in written.items():
        if isinstance(v, Path):
            print(f"  {k}: {v}")
    _say("measured on these runs (the pictures' titles carry the same figures):")
    for k, v in written.items():
        if isinstance(v, (int, float)):
            print(f"  {k}: {v:.4g}")
    return 0
