"""Does bf16 autocast cost quality? The same preset trained in fp32 and in bf16 autocast, same steps,
same seeds; FID and KID of each run against the real data (mmgan's protocol: `mmgan eval RUN
--metrics fid1k,kid1k`, 1,000 generated vs 1,000 real training images, the in-project feature
network of the dataset). Quality holds when the bf16 mean lies within the seed-to-seed noise of the
fp32 runs (|difference| <= 2 x the larger standard deviation over seeds).

    python bench/bf16_quality.py [--config digits-dcgan] [--seeds 3] [--threads 2] [--set KEY=VALUE ...]
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics as st
import tempfile
import time
from pathlib import Path

import torch


def run_one(config: str, bf16: bool, seed: int, work: Path, overrides: list[str]) -> dict:
    from mmgan.metrics.evaluate import evaluate
    from mmgan.api.train import train

    run = work / f"{'bf16' if bf16 else 'fp32'}-{seed}"
    shutil.rmtree(run, ignore_errors=True)
    res = train(config=config, out=run, log=lambda m: None,
                overrides=[f"train.seed={seed}", f"train.bf16={str(bf16).lower()}", "train.progress=false",
                           "train.tensorboard=false", *overrides])
    ev = evaluate(run, ["fid1k", "kid1k"], device="cpu", progress=False, report=False, log=lambda m: None,
                  strict=True)
    return {"bf16": bf16, "seed": seed, "fid": float(ev["fid1k"].value), "kid": float(ev["kid1k"].value),
            "seconds": res.seconds, "img_per_s": res.images_per_second, "steps": res.step}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default="digits-dcgan")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--out", default="bench/out/bf16_quality.md")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    work = Path(tempfile.mkdtemp(prefix="mmgan-bf16-"))
    rows = []
    for seed in range(args.seeds):                      # interleaved, so machine load hits both alike
        for bf16 in (False, True):
            r = run_one(args.config, bf16, seed, work, args.set)
            print(json.dumps(r), flush=True)
            rows.append(r)
    shutil.rmtree(work, ignore_errors=True)

    def agg(bf16: bool, key: str) -> tuple[float, float]:
        v = [r[key] for r in rows if r["bf16"] == bf16]
        return st.mean(v), (st.stdev(v) if len(v) > 1 else 0.0)

    lines = [f"`python bench/bf16_quality.py --config {args.config} --seeds {args.seeds} --threads {args.threads}"
             + "".join(f" --set {o}" for o in args.set) + f"` (torch {torch.__version__}, {time.strftime('%Y-%m-%d')})", "",
             "| precision | FID (1k) | KID (1k) | img/s | per seed (FID) |", "|---|---|---|---|---|"]
    for bf16 in (False, True):
        (f, fs), (k, ks), (s, _) = agg(bf16, "fid"), agg(bf16, "kid"), agg(bf16, "img_per_s")
        per = ", ".join(f"{r['fid']:.2f}" for r in rows if r["bf16"] == bf16)
        lines.append(f"| {'bf16 autocast' if bf16 else 'fp32'} | {f:.2f} ± {fs:.2f} | {k:.4f} ± {ks:.4f} | {s:.0f} | {per} |")
    (f0, s0), (f1, s1) = agg(False, "fid"), agg(True, "fid")
    noise = 2 * max(s0, s1)
    verdict = "within" if abs(f1 - f0) <= noise else "outside"
    lines += ["", f"FID difference bf16 − fp32: {f1 - f0:+.2f}; noise bound 2 × max std = {noise:.2f}: **{verdict} noise**."]
    text = "\n".join(lines) + "\n"
    print(text)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    Path(args.out).with_suffix(".json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
