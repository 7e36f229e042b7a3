"""Diversity among samples of the same condition: a mode-collapse signal that FID can miss.

For each condition, the mean pairwise Euclidean distance between the feature vectors of samples
generated for it, next to the same quantity for real items of that condition:

  label models        per class: 100 samples generated for the class vs up to 100 real items of it
  text/audio models   50 conditions of random training items x 8 samples each, vs real items that
                      share the item's label (when the data has labels)
  unconditional       one group: 1,000 samples vs 1,000 real items

diversity_ratio = mean over conditions of generated / real (1 = as diverse as the data; near 0 =
one image per condition); min_class_ratio flags the most collapsed class.
"""
from __future__ import annotations

import numpy as np
import torch

from .base import MetricResult, metric


def mean_pairwise_distance(features) -> float:
    """Mean Euclidean distance over all pairs i < j (nan for fewer than 2 rows)."""
    f = torch.as_tensor(np.asarray(features, np.float64))
    if len(f) < 2:
        return float("nan")
    d = torch.cdist(f, f)
    n = len(f)
    return float(d.sum() / (n * (n - 1)))


@metric("diversity", 0, True, "mean pairwise feature distance within a condition, generated vs real", counted=False)
def diversity(ctx, num: int) -> MetricResult:
    mods = ctx.modalities
    gen, real, names = [], [], []
    if mods == ["label"]:
        k = ctx.num_classes
        per = max(2, (num or 100 * k) // k)
        fake = ctx.fake(per * k, mode="balanced")
        for c in range(k):
            gen.append(mean_pairwise_distance(fake.features[fake.labels == c]))
            real.append(mean_pairwise_distance(ctx.real(per, label=c).features) if ctx.train.has("label") else np.nan)
            names.append(str(c))
        mode, total = "balanced", per * k
        how = f"{per} samples per class vs up to {per} real items of the class"
    elif mods:
        m = 8
        groups = max(1, (num or 400) // m)
        fake = ctx.fake(groups * m, mode=f"grouped{m}")
        for g in range(groups):
            sl = slice(g * m, (g + 1) * m)
            gen.append(mean_pairwise_distance(fake.features[sl]))
            lab = None if fake.labels is None else int(fake.labels[g * m])
            real.append(mean_pairwise_distance(ctx.real(m, label=lab).features) if lab is not None else np.nan)
            names.append(fake.text[g * m] if fake.text else str(g))
        mode, total = f"grouped{m}", groups * m
        how = f"{groups} conditions x {m} samples; real: {m} items sharing the condition's label"
    else:
        n = num or 1000
        fake, ref = ctx.fake(n), ctx.real(n)
        gen, real, names = [mean_pairwise_distance(fake.features)], [mean_pairwise_distance(ref.features)], ["all"]
        mode, total = "data", n
        how = f"{n} samples vs {len(ref)} real training items, one group"
    g, r = np.array(gen), np.array(real)
    ratio = g / r
    vals = {"diversity": float(np.nanmean(g)), "diversity_real": float(np.nanmean(r)) if np.isfinite(r).any() else float("nan"),
            "diversity_ratio": float(np.nanmean(ratio)) if np.isfinite(ratio).any() else float("nan"),
            "min_class_ratio": float(np.nanmin(ratio)) if np.isfinite(ratio).any() else float("nan")}
    worst = names[int(np.nanargmin(ratio))] if np.isfinite(ratio).any() else None
    return MetricResult("diversity", vals, "diversity_ratio", True,
                        ctx.protocol(total, None, mode=mode, groups=how, distance="Euclidean, feature space",
                                     most_collapsed=worst))
