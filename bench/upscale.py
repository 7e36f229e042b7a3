"""Super-resolution benchmark: bicubic vs the PSNR model (srresnet) vs its GAN twin (esrgan) vs their
network interpolation (alpha 0.8), at x4 and x2, on held-out data:

  mnist    trained on the mnist training split, scored on the first --n test digits
  shapes   trained on the shapes training split, scored on its test split (held-out combinations)
  photos   trained on random 64 px crops of scikit-image's shipped sample photos astronaut, chelsea,
           rocket and the left stereo_motorcycle view (TRAIN_PHOTOS); scored on photos none of them saw,
           whole (tiled pipeline): coffee (colour) and camera (the grey cameraman, as RGB) (TEST_PHOTOS).
           All load from inside the package (no download; the `metrics` extra installs scikit-image).

Fidelity: PSNR and SSIM on Y (BT.601) with `scale` pixels cropped from every border (mmgan.metrics.fidelity;
on RGB, PSNR reads about 2 dB lower on colour photos). The LR inputs are bicubic downsamplings (the
literature's "BI" protocol). Perception: FID and KID of the upscaled test images against the originals
in the in-project feature network of the data (trained on the training split with its test split held
out; the GAN's perceptual loss uses a different network, mmgan.training.pretrained); and for mnist the
share of upscaled digits that network reads correctly, against the HR originals. A perception-distortion
plot (PSNR vs FID) goes to bench/out/upscale_pd.png.

    python bench/upscale.py --minutes 1 [--scales 4,2] [--data mnist,shapes,photos] [--threads 1]
"""
from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

import numpy as np
import torch

from common import OUT, RUNS, log, machine, save_json, setup, table
from mmgan.api.train import train
from mmgan.api.upscale import interpolate
from mmgan.data import load_dataset
from mmgan.data.degrade import bicubic_down, bicubic_up
from mmgan.metrics.features import feature_network_for
from mmgan.metrics.fid import fid_from_features, kid_from_features
from mmgan.metrics.fidelity import psnr_y, ssim_y
from mmgan.modalities.pixels import from_pil
from mmgan.pipeline import Pipeline
from mmgan.training.pretrained import perceptual_features

TRAIN_PHOTOS = ["astronaut", "chelsea", "rocket", "stereo_motorcycle"]     # skimage.data functions
TEST_PHOTOS = ["coffee", "camera"]
COMMON = ["train.progress=false", "train.tensorboard=false", "train.threads=0", "train.batch_size=16",
          "model.g_width=32", "model.d_width=32", "model.extra.blocks=2", "model.extra.growth=16",
          "train.sample_every=0", "train.ckpt_every=0", "train.log_every=100", "train.lr_g=2e-4", "train.ema=0.99"]


def photo(name: str):
    """A scikit-image sample photo (shipped inside the package) as an RGB PIL image."""
    import skimage.data
    from PIL import Image

    a = getattr(skimage.data, name)()
    a = a[0] if isinstance(a, tuple) else a                   # stereo_motorcycle: (left, right, disparity)
    return Image.fromarray(a).convert("RGB")


def photo_crops(folder: Path, n: int = 400, side: int = 64, seed: int = 0) -> Path:
    """n random side x side crops of the training photos, as a user's image folder."""
    stamp = folder / ".photos"
    if folder.exists() and len(list(folder.glob("*.png"))) == n and stamp.exists() \
            and stamp.read_text() == ",".join(TRAIN_PHOTOS):
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    photos = [photo(p) for p in TRAIN_PHOTOS]
    for i in range(n):
        im = photos[i % len(photos)]
        x, y = rng.integers(0, im.width - side), rng.integers(0, im.height - side)
        im.crop((x, y, x + side, y + side)).save(folder / f"{i:04d}.png")
    stamp.write_text(",".join(TRAIN_PHOTOS))
    return folder


def data_spec(name: str) -> tuple[str, list[str]]:
    if name == "photos":
        return str(photo_crops(OUT / "upscale_photo_crops")), ["data.resolution=0"]
    return name, []


def train_pair(name: str, scale: int, minutes: float) -> dict[str, Path]:
    """The PSNR run, its GAN twin started from it, and their interpolation (alpha 0.8)."""
    data, extra = data_spec(name)
    psnr, gan, mix = (RUNS / f"upscale-{name}-x{scale}-{k}" for k in ("psnr", "gan", "interp"))
    for p in (psnr, gan, mix):
        shutil.rmtree(p, ignore_errors=True)
    base = COMMON + extra + [f"model.extra.scale={scale}"]
    log(f"{name} x{scale}: PSNR model, {minutes} min")
    train(data=data, overrides=base + ["model.family=srresnet", "model.condition=[]"], out=psnr, minutes=minutes,
          steps=100000, log=lambda m: None)
    # the perceptual loss's feature network, trained (and cached) outside the GAN's timed budget
    perceptual_features(load_dataset(data), log=log)
    log(f"{name} x{scale}: GAN twin from it, {minutes} min")
    train(data=data, overrides=base + ["model.family=esrgan", "model.condition=[]", f"model.extra.init_from={psnr}",
                                       "train.lr_g=1e-4", "train.lr_d=1e-4", "train.beta1=0.9"],
          out=gan, minutes=minutes, steps=100000, log=lambda m: None)
    interpolate(psnr, gan, 0.8, mix)
    return {"PSNR (srresnet)": psnr, "GAN (esrgan)": gan, "interp a=0.8": mix}


def test_images(name: str, n: int) -> tuple[list[torch.Tensor], object, object]:
    """(HR test images, each (1, c, h, w), the dataset's training split, its test split)."""
    if name == "photos":
        return [from_pil(photo(p))[None] for p in TEST_PHOTOS], None, None
    tr, te = load_dataset(name, split="train"), load_dataset(name, split="test")
    x = te.columns["image"][:n]
    return [x], tr, te


def evaluate(name: str, scale: int, runs: dict[str, Path], n: int, feats) -> list[dict]:
    hrs, _, te = test_images(name, n)
    rows = []
    methods = {"bicubic": None, **{k: Pipeline.from_pretrained(p, device="cpu") for k, p in runs.items()}}
    labels = te.columns["label"][:n] if te is not None and "label" in te.columns else None
    real_f = None
    for method, pipe in methods.items():
        outs, refs = [], []
        for hr in hrs:
            h, w = hr.shape[-2] // scale * scale, hr.shape[-1] // scale * scale
            hr = hr[..., :h, :w]
            lr = bicubic_down(hr, scale)
            if pipe is None:
                sr = bicubic_up(lr, scale)
            else:
                sr = torch.cat([pipe.upscale(lr[i:i + 256], tile=64, output_type="pt").tensor
                                for i in range(0, len(lr), 256)])
            outs.append(sr.clamp(-1, 1))
            refs.append(hr)
        # the mean over images (test photos differ in size: one batch each)
        row = {"data": name, "scale": scale, "method": method, "n": sum(len(h) for h in refs),
               "psnr_y": float(torch.cat([psnr_y(a, b, scale) for a, b in zip(outs, refs)]).mean()),
               "ssim_y": float(torch.cat([ssim_y(a, b, scale) for a, b in zip(outs, refs)]).mean())}
        if feats is not None:
            sr, hr = torch.cat(outs), torch.cat(refs)
            if real_f is None:
                real_f = feats.extract(hr, want=("features",))["features"]
                if labels is not None and feats.num_classes:
                    row_hr = float((feats.predict(hr) == labels).float().mean())
            fake_f = feats.extract(sr, want=("features",))["features"]
            row["fid"] = fid_from_features(real_f, fake_f)
            row["kid"] = kid_from_features(real_f, fake_f, subset_size=min(1000, len(hr)))[0]
            if labels is not None and feats.num_classes:
                row["acc"] = float((feats.predict(sr) == labels).float().mean())
                row["acc_hr"] = row_hr
        rows.append(row)
        log(f"  {name} x{scale} {method}: " + ", ".join(f"{k} {v:.4f}" for k, v in row.items() if isinstance(v, float)))
    return rows


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = sorted({(r["data"], r["scale"]) for r in rows if "fid" in r})
    fig, axes = plt.subplots(1, max(1, len(groups)), figsize=(4.2 * max(1, len(groups)), 3.6), squeeze=False)
    for ax, (d, s) in zip(axes[0], groups):
        for r in (r for r in rows if r["data"] == d and r["scale"] == s):
            ax.scatter(r["psnr_y"], r["fid"], s=40)
            ax.annotate(r["method"], (r["psnr_y"], r["fid"]), fontsize=7, xytext=(3, 3), textcoords="offset points")
        ax.set_title(f"{d} x{s}")
        ax.set_xlabel("PSNR on Y (dB), higher = less distortion")
        ax.set_yscale("log")                     # bicubic's FID is 100x the models': on a linear axis they coincide
        ax.set_ylabel("FID, in-project features, log (lower = more realistic)")
    fig.suptitle("perception-distortion trade-off")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=1.0, help="training minutes per model (PSNR, then GAN)")
    ap.add_argument("--scales", default="4,2")
    ap.add_argument("--data", default="mnist,shapes,photos")
    ap.add_argument("--x2-data", default="mnist,photos", help="datasets also run at x2 (when 2 is in --scales)")
    ap.add_argument("--n", type=int, default=1000, help="held-out images scored (mnist, shapes)")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    setup(args.threads)
    t0 = time.time()
    rows = []
    for scale in [int(s) for s in args.scales.split(",")]:
        for name in args.data.split(","):
            if scale == 2 and name not in args.x2_data.split(","):
                continue
            runs = train_pair(name, scale, args.minutes)
            feats = None
            if name != "photos":
                _, tr, te = test_images(name, 1)
                feats = feature_network_for(tr, te, log=log)
            rows += evaluate(name, scale, runs, args.n, feats)
    plot(rows, OUT / "upscale_pd.png")
    tag = "upscale" if args.data == ap.get_default("data") else "upscale-" + args.data.replace(",", "-")
    save_json(tag, {"rows": rows, "minutes_per_model": args.minutes, "machine": machine(),
                          "seconds": time.time() - t0})
    cols = ["data", "scale", "method", "n", "psnr_y", "ssim_y", "fid", "kid", "acc", "acc_hr"]
    text = table(cols, [[r.get(c, "") for c in cols] for r in rows])
    (OUT / f"{tag}.md").write_text(f"# Super-resolution ({args.minutes} min per model)\n\n{text}\n\n{machine()}\n")
    print(text)
    log(f"done in {time.time() - t0:.0f}s; table in {OUT / f'{tag}.md'}, plot in {OUT / 'upscale_pd.png'}")


if __name__ == "__main__":
    main()
