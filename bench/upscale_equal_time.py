"""The perception-distortion comparison at equal training time: a PSNR model (srresnet) trained as long as
bench/upscale.py's GAN twin had in all (its PSNR start + its own minutes), scored beside that bench's PSNR
model and GAN twin (their runs must exist: run bench/upscale.py first with --minutes M; pass --minutes 2M here).
Same settings, held-out images and metrics as bench/upscale.py.

    python bench/upscale.py --minutes 6 --data shapes --scales 4 --threads 1
    python bench/upscale_equal_time.py --data shapes --scale 4 --minutes 12
"""
from __future__ import annotations

import argparse
import shutil

import upscale as U
from common import RUNS, log, setup
from mmgan.api.train import train
from mmgan.metrics.features import feature_network_for


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="shapes", help="mnist or shapes (photos have no FID: two test photos)")
    ap.add_argument("--scale", type=int, default=4)
    ap.add_argument("--minutes", type=float, default=12.0, help="the PSNR model's training minutes")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    setup(args.threads)
    name, scale = args.data, args.scale
    pair = {"PSNR (bench/upscale.py)": RUNS / f"upscale-{name}-x{scale}-psnr",
            "GAN twin (bench/upscale.py)": RUNS / f"upscale-{name}-x{scale}-gan"}
    missing = [str(p) for p in pair.values() if not p.exists()]
    if missing:
        raise SystemExit(f"run bench/upscale.py --data {name} --scales {scale} first: missing {', '.join(missing)}")
    data, extra = U.data_spec(name)
    run = RUNS / f"upscale-{name}-x{scale}-psnr{args.minutes:g}"
    shutil.rmtree(run, ignore_errors=True)
    log(f"{name} x{scale}: PSNR model, {args.minutes} min")
    train(data=data, overrides=U.COMMON + extra + [f"model.extra.scale={scale}", "model.family=srresnet",
                                                   "model.condition=[]"],
          out=run, minutes=args.minutes, steps=100000, log=lambda m: None)
    _, tr, te = U.test_images(name, 1)
    feats = feature_network_for(tr, te, log=log)
    for r in U.evaluate(name, scale, {f"PSNR {args.minutes:g} min": run, **pair}, 1000, feats):
        print(r, flush=True)


if __name__ == "__main__":
    main()
