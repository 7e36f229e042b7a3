"""Mode coverage on the 2-D mixtures, with the protocol of ../shared/BENCHMARKS.md.

ring8: means (cos 2πi/8, sin 2πi/8), σ = 0.01; grid25: means {-4,-2,0,2,4}², σ = 0.05.
Per seed: train with the data-aware defaults, as `mmgan train --data ring8` does (the dataset names its
preset: configs/ring8-mlp.yaml, configs/grid25-mlp.yaml) on 100,000 training
samples, draw 2,500 samples from the EMA generator; a sample is high quality (HQ) within 3σ of
its nearest mode; modes captured = modes nearest to at least one HQ sample; divergence =
reverse KL, KL(p_gen ‖ uniform), over the HQ histogram. Mean ± std over the seeds, and the wall
time of each training run on this machine.

When the preset fits a rejection-sampling critic (train.drs_steps > 0, included in the run's time),
both are reported: plain G(z) samples, and samples by discriminator rejection sampling (the
Pipeline's default for such a run; mmgan.sampling.drs).

    python bench/modes.py [--seeds 5] [--threads 2] [--datasets ring8,grid25] [--set KEY=VALUE ...]
                          [--out bench/out/modes.md]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics as st
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

PUBLISHED = {
    "ring8": [("GAN (PacGAN paper)", "6.3", "98.2", "0.45"), ("ALI", "6.6", "97.6", "0.36"),
              ("Unrolled GAN", "7.6", "35.6", "—"), ("VEEGAN", "8", "52.9", "—"), ("PacGAN2", "7.9", "95.6", "0.07"),
              ("PacGAN3", "7.8", "97.7", "0.10"), ("PacGAN4", "7.8", "95.9", "0.07"), ("GDPP-GAN", "8.0", "71.7", "—"),
              ("WGAN-GP (GDPP paper)", "6.8", "59.6", "—")],
    "grid25": [("GAN (PacGAN paper)", "17.3", "94.8", "0.70"), ("ALI", "24.1", "95.7", "0.14"),
               ("Unrolled GAN", "23.6", "16", "—"), ("VEEGAN", "24.6", "40", "—"), ("PacGAN2", "23.8", "91.3", "0.13"),
               ("PacGAN3", "24.6", "94.2", "0.06"), ("PacGAN4", "24.8", "93.6", "0.04"), ("GDPP-GAN", "24.8", "68.5", "—"),
               ("WGAN-GP (GDPP paper)", "24.2", "28.7", "—")],
}


def run_one(name: str, seed: int, work: Path, overrides: list[str] = ()) -> dict:
    from mmgan.metrics.modes import mixture_modes
    from mmgan.pipeline import Pipeline
    from mmgan.plots import scatter_modes
    from mmgan.api.train import train

    run = work / f"{name}-{seed}"
    shutil.rmtree(run, ignore_errors=True)
    t0 = time.time()
    res = train(data=name, out=run, log=lambda m: None,            # no config: the defaults choose
                overrides=[f"train.seed={seed}", "data.seed=0", "train.progress=false", "train.tensorboard=false",
                           *overrides])
    secs = time.time() - t0
    pipe = Pipeline.from_pretrained(run, device="cpu")
    extra = pipe.config["data"]["extra"]
    out = {}
    for drs in ([False, True] if pipe.critic is not None else [False]):
        out_ = pipe(num_images=2500, seed=10_000 + seed, drs=drs)
        x = out_.samples
        cov = mixture_modes(x, extra["means"], extra["sigma"])
        cov.update(seconds=secs, train_seconds=res.seconds, steps=res.step)
        if drs:
            cov.update(accept_rate=out_.drs["accept_rate"], forced=out_.drs["forced"])
        tag = "-drs" if drs else ""
        png = Path("bench/out") / f"modes-{name}{tag}-seed{seed}.png"
        scatter_modes(x, extra["means"], extra["sigma"], png,
                      title=f"{name}{' + DRS' if drs else ''} seed {seed}: {cov['modes']:.0f} modes, "
                            f"{cov['hq_percent']:.1f}% HQ, KL {cov['kl']:.3f}")
        out["drs" if drs else "plain"] = cov
    return out


def fmt(vals, digits=1):
    return f"{st.mean(vals):.{digits}f} ± {st.pstdev(vals):.{digits}f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--datasets", default="ring8,grid25")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="config override on top of the preset, for every dataset (repeatable)")
    ap.add_argument("--out", default="bench/out/modes.md")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    Path("bench/out").mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="mmgan-modes-"))
    lines = [f"Protocol of BENCHMARKS.md (2,500 samples, HQ within 3σ, reverse KL over HQ samples), "
             f"{args.seeds} seeds, torch {torch.__version__}, {args.threads} threads, "
             f"1-min load at start {os.getloadavg()[0]:.2f}.", ""]
    results = {}
    for name in args.datasets.split(","):
        rows = [run_one(name, s, work, args.set) for s in range(args.seeds)]
        results[name] = rows
        k = 8 if name == "ring8" else 25
        lines += [f"### {name} (max {k} modes)", "",
                  "| model | modes | % HQ | reverse KL | train time / run |", "|---|---|---|---|---|"]
        for pub in PUBLISHED[name]:
            lines.append(f"| {pub[0]} (published) | {pub[1]} | {pub[2]} | {pub[3]} | — |")
        label = f"mmgan train --data {name} (defaults: configs/{name}-mlp.yaml)" + "".join(f" {o}" for o in args.set)
        for kind in ("plain", "drs"):
            rs = [r[kind] for r in rows if kind in r]
            if not rs:
                continue
            what = "G(z)" if kind == "plain" else "rejection sampling (DRS)"
            lines.append(f"| **mmgan mlp, {label}, {what}** | {fmt([r['modes'] for r in rs])} | "
                         f"{fmt([r['hq_percent'] for r in rs])} | {fmt([r['kl'] for r in rs], 3)} | "
                         f"{fmt([r['train_seconds'] for r in rs], 0)} s (max {max(r['train_seconds'] for r in rs):.0f} s) |")
        for kind in ("plain", "drs"):
            if kind in rows[0]:
                lines += ["", f"Per seed, {kind}: " + "; ".join(
                    f"seed {i}: {r[kind]['modes']:.0f} modes, {r[kind]['hq_percent']:.1f}% HQ, KL {r[kind]['kl']:.3f}, "
                    f"{r[kind]['train_seconds']:.0f} s" + (f", {100 * r[kind]['accept_rate']:.1f}% of proposals kept, "
                                                           f"{r[kind]['forced']} forced" if kind == "drs" else "")
                    for i, r in enumerate(rows))]
        lines.append("")
    text = "\n".join(lines) + "\n"
    print(text)
    Path(args.out).write_text(text)
    Path(args.out).with_suffix(".json").write_text(json.dumps(results, indent=1))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
