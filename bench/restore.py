"""Restoration benchmark: one all-round restorer per dataset (gated convs + SN-PatchGAN, `--task restore
--degrade noise,jpeg,mask`, --minutes each) and, for --holes-only-data, an inpainting specialist (`--degrade
mask`: it pastes the known pixels back), against classical baselines, on held-out images:

  mnist    trained on the mnist training split, scored on the first --n test digits
  shapes   trained on the shapes training split, scored on the first --n test images (held-out combinations)

Three tasks, each on the same damaged images for every method (seeded):
  inpainting  free-form strokes and boxes (mmgan.data.masks, seed 1234), holes zeroed. PSNR and SSIM
              inside the hole only: PSNR from the squared error pooled over every hole pixel of the set (a
              per-image mean is unbounded where a fill is exact, e.g. a hole on flat background); SSIM
              from skimage's map (window 7) averaged over hole pixels, then over images; and the share
              of restored digits / shapes the in-project classifier reads correctly (its accuracy on the
              clean originals beside it). Baselines: mean fill (each image's mean known colour) and
              biharmonic fill (skimage.restoration.inpaint_biharmonic, a smooth PDE fill: the stronger
              classical method).
  denoising   Gaussian noise sigma 25/255; PSNR of the whole image. Baselines: the noisy input, non-local
              means (skimage denoise_nl_means, told the true sigma, h = 0.8 sigma) and TV (Chambolle, 0.1).
  JPEG        quality 20 (PIL); PSNR. Baselines: the JPEG input and TV (Chambolle, weight 0.05).
PSNR is on all channels in [0, 1] (mnist: grey). The restorer gets the mask for inpainting and none for
denoising and JPEG (the same model for all three).

    python bench/restore.py --minutes 3 [--data mnist,shapes] [--holes-only-data mnist] [--n 500] [--threads 1]
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
from mmgan.data import load_dataset
from mmgan.data.degrade import add_noise, apply_mask, jpeg, seeded
from mmgan.data.masks import random_masks
from mmgan.metrics.features import feature_network_for
from mmgan.pipeline import Pipeline

# small batches and a high G rate: the most steps a few CPU minutes allow (beta1 0.9: L1 dominates G's loss)
COMMON = ["train.progress=false", "train.tensorboard=false", "train.threads=0", "train.batch_size=16",
          "model.g_width=16", "model.d_width=16", "train.sample_every=0", "train.ckpt_every=0", "train.log_every=200",
          "train.lr_g=1e-3", "train.lr_d=4e-4", "train.beta1=0.9", "train.ema=0.99"]
NOISE_SIGMA, JPEG_Q, MASK_SEED = 25.0, 20, 1234


def train_restorer(name: str, minutes: float, degrade: str = "noise,jpeg,mask") -> Path:
    run = RUNS / f"restore-{name}-{degrade.replace(',', '-')}"
    shutil.rmtree(run, ignore_errors=True)
    log(f"{name}: restorer ({degrade}), {minutes} min")
    train(data=name, overrides=COMMON, out=run, minutes=minutes, steps=1_000_000, task="restore",
          degrade=degrade, log=lambda m: None)
    return run


# ---- metrics and classical methods on numpy images (h, w, c) in [0, 1] ------------------------------------
def to_np(x: torch.Tensor) -> np.ndarray:
    return ((x.clamp(-1, 1) + 1) / 2).permute(0, 2, 3, 1).double().numpy()


def psnr(a: np.ndarray, b: np.ndarray, where: np.ndarray | None = None) -> float:
    """PSNR (peak 1): the mean over images of each image's PSNR; with `where` (b, h, w), from the squared error
    pooled over those pixels of every image."""
    err = ((a - b) ** 2).mean(-1)                                      # (b, h, w)
    if where is not None:
        return float(10 * np.log10(1.0 / max((err * where).sum() / max(where.sum(), 1), 1e-10)))
    mse = err.reshape(len(a), -1).mean(1)
    return float(np.mean(10 * np.log10(1.0 / np.maximum(mse, 1e-10))))


def ssim_in(a: np.ndarray, b: np.ndarray, where: np.ndarray) -> float:
    from skimage.metrics import structural_similarity

    vals = []
    for x, y, m in zip(a, b, where):
        _, smap = structural_similarity(x, y, data_range=1.0, channel_axis=-1, win_size=7, full=True)
        vals.append(float((smap.mean(-1) * m).sum() / max(m.sum(), 1)))
    return float(np.mean(vals))


def mean_fill(x: np.ndarray, m: np.ndarray) -> np.ndarray:
    known = 1 - m[..., None]
    mean = (x * known).sum((1, 2), keepdims=True) / np.maximum(known.sum((1, 2), keepdims=True), 1)
    return x * known + mean * (1 - known)


def biharmonic(x: np.ndarray, m: np.ndarray) -> np.ndarray:
    from skimage.restoration import inpaint_biharmonic

    return np.stack([inpaint_biharmonic(xi, mi.astype(bool), channel_axis=-1) for xi, mi in zip(x, m)]).reshape(x.shape).clip(0, 1)


def nl_means(x: np.ndarray) -> np.ndarray:
    from skimage.restoration import denoise_nl_means

    s = NOISE_SIGMA / 255
    return np.stack([denoise_nl_means(xi, h=0.8 * s, sigma=s, patch_size=5, patch_distance=6, fast_mode=True,
                                      channel_axis=-1) for xi in x]).reshape(x.shape).clip(0, 1)


def tv(x: np.ndarray, weight: float) -> np.ndarray:
    from skimage.restoration import denoise_tv_chambolle

    return np.stack([denoise_tv_chambolle(xi, weight=weight, channel_axis=-1) for xi in x]).reshape(x.shape).clip(0, 1)


def evaluate(name: str, run: Path, n: int, feats, holes_run: Path | None = None) -> list[dict]:
    te = load_dataset(name, split="test")
    clean = te.columns["image"][:n].float()
    labels = te.columns["label"][:n] if "label" in te.columns else None
    pipe = Pipeline.from_pretrained(run, device="cpu")
    b, c, h, w = clean.shape
    ref = to_np(clean)

    def acc(x: np.ndarray) -> float | str:
        if labels is None or feats is None or not feats.num_classes:
            return ""
        t = torch.from_numpy(x).permute(0, 3, 1, 2).float() * 2 - 1
        return float((feats.predict(t) == labels).float().mean())

    def model(x: torch.Tensor, m: torch.Tensor | None) -> np.ndarray:
        return to_np(pipe.restore(x, mask=m, output_type="pt").tensor)

    rows = []
    # inpainting
    masks = random_masks(b, h, w, seeded(MASK_SEED))
    holed = apply_mask(clean, masks)
    hole = masks[:, 0].double().numpy()
    damaged = to_np(holed)
    methods = {"clean original": ref, "mean fill": mean_fill(damaged, hole), "biharmonic (skimage)": biharmonic(damaged, hole),
               "restorer": model(holed, masks)}
    if holes_run is not None:
        methods["restorer (holes only)"] = to_np(Pipeline.from_pretrained(holes_run, device="cpu")
                                                 .restore(holed, mask=masks, output_type="pt").tensor)
    for method, out in methods.items():
        rows.append({"data": name, "task": "inpaint", "method": method, "n": b,
                     "psnr": psnr(out, ref, hole) if method != "clean original" else "",
                     "ssim": ssim_in(out, ref, hole) if method != "clean original" else "", "acc": acc(out)})
    log(f"  {name} inpainting: hole covers {hole.mean():.1%} of the pixels on average")
    # denoising
    noisy = add_noise(clean, NOISE_SIGMA, seeded(MASK_SEED + 1))
    x = to_np(noisy)
    for method, out in {"noisy input": x, "NL-means (skimage)": nl_means(x), "TV (skimage)": tv(x, 0.1),
                        "restorer": model(noisy, None)}.items():
        rows.append({"data": name, "task": "denoise s25", "method": method, "n": b, "psnr": psnr(out, ref),
                     "ssim": "", "acc": acc(out)})
    # JPEG
    jp = jpeg(clean, JPEG_Q)
    x = to_np(jp)
    for method, out in {"JPEG input": x, "TV (skimage)": tv(x, 0.05), "restorer": model(jp, None)}.items():
        rows.append({"data": name, "task": f"jpeg q{JPEG_Q}", "method": method, "n": b, "psnr": psnr(out, ref),
                     "ssim": "", "acc": acc(out)})
    for r in rows:
        log(f"  {r['data']} {r['task']} {r['method']}: " + ", ".join(f"{k} {v:.4f}" for k, v in r.items()
                                                                 if isinstance(v, float)))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=3.0, help="training minutes per model")
    ap.add_argument("--data", default="mnist,shapes")
    ap.add_argument("--holes-only-data", default="mnist", help="datasets that also get an inpainting specialist")
    ap.add_argument("--n", type=int, default=500, help="held-out images scored per dataset")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    setup(args.threads)
    t0 = time.time()
    rows = []
    for name in args.data.split(","):
        run = train_restorer(name, args.minutes)
        holes = train_restorer(name, args.minutes, "mask") if name in args.holes_only_data.split(",") else None
        feats = feature_network_for(load_dataset(name, split="train"), load_dataset(name, split="test"), log=log)
        rows += evaluate(name, run, args.n, feats, holes)
    save_json("restore", {"rows": rows, "minutes_per_model": args.minutes, "argv": vars(args), "machine": machine(),
                          "seconds": time.time() - t0})
    cols = ["data", "task", "method", "n", "psnr", "ssim", "acc"]
    text = table(cols, [[r.get(c, "") for c in cols] for r in rows])
    (OUT / "restore.md").write_text(f"# Restoration ({args.minutes} min per model)\n\n{text}\n\n{machine()}\n")
    print(text)
    log(f"done in {time.time() - t0:.0f}s; table in {OUT / 'restore.md'}")


if __name__ == "__main__":
    main()
