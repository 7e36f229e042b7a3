"""diversity_ratio: how varied the samples of ONE condition are, against real items of that condition.

A conditional GAN that gives one picture per prompt has collapsed, whatever its FID or accuracy. For
each condition, the mean pairwise Euclidean distance between the feature vectors (in-project feature
network, mmgan.metrics.features) of samples generated for it, next to the same figure for real items
of that condition; the ratio generated / real, averaged over conditions, is the headline:

  1    as varied as the data                 ~0   one image per condition (z is ignored)

What "one condition" is (EvalContext.condition_keys):
  label models              the class: 100 samples per class vs up to 100 real items of the class
  text / audio / image      the attribute combination when the data has attributes (shapes: shape,
                            colour, size, position), else the caption (items with identical text),
                            else the label; 50 conditions (distinct, each shared by at least two real
                            items) x 8 samples generated from one training item's condition, vs up to
                            32 real items of the same key
  unconditional             one group: 1,000 samples vs 1,000 real items

Values: diversity_ratio (mean over conditions of generated / real), diversity (generated, mean over
conditions), diversity_real, min_ratio (the most collapsed condition, named in the protocol).
`diversity` is kept as a hidden alias of the metric's name (mmgan.metrics.base.ALIASES).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from .base import MetricNotApplicable, MetricResult, metric

SAMPLES_PER_CONDITION = 8        # generated per text/audio condition
REAL_PER_CONDITION = 32          # real items per condition, at most


def mean_pairwise_distance(features) -> float:
    """Mean Euclidean distance over all pairs i < j (nan for fewer than 2 rows)."""
    f = torch.as_tensor(np.asarray(features, np.float64))
    if len(f) < 2:
        return float("nan")
    d = torch.cdist(f, f)
    n = len(f)
    return float(d.sum() / (n * (n - 1)))


def diversity_per_condition(generated: Sequence, real: Sequence, names: Sequence[str] | None = None) -> dict:
    """Per-condition diversity from feature arrays: generated[i] and real[i] are (n_i, F) features of
    the samples and of the real items of condition i. Returns the metric's values and the worst
    condition: {"diversity_ratio", "diversity", "diversity_real", "min_ratio", "most_collapsed",
    "conditions"} (conditions with fewer than two real items have no real figure and are left out of
    the ratio)."""
    if len(generated) != len(real):
        raise ValueError(f"diversity: {len(generated)} generated groups but {len(real)} real groups")
    if not len(generated):
        raise ValueError("diversity: no conditions to compare")
    names = list(names) if names is not None else [str(i) for i in range(len(generated))]
    g = np.array([mean_pairwise_distance(x) for x in generated])
    r = np.array([mean_pairwise_distance(x) for x in real])
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(r > 0, g / np.where(r > 0, r, 1), np.nan)
    ok = np.isfinite(ratio)
    nan = float("nan")
    return {"diversity_ratio": float(ratio[ok].mean()) if ok.any() else nan,
            "diversity": float(np.nanmean(g)) if np.isfinite(g).any() else nan,
            "diversity_real": float(r[np.isfinite(r)].mean()) if np.isfinite(r).any() else nan,
            "min_ratio": float(ratio[ok].min()) if ok.any() else nan,
            "most_collapsed": names[int(np.flatnonzero(ok)[np.argmin(ratio[ok])])] if ok.any() else None,
            "conditions": int(ok.sum())}


def diversity_on_items(pipe, items, net, modality: str = "text", captions: int = 4, per: int = 8, real: int = 32,
                       seed: int = 0) -> dict:
    """The same protocol on a given set of items with conditions and attributes (a benchmark's held-out
    split): for every attribute combination of `items`, `captions` of its items, each condition (column
    `modality`: text or audio) drawn `per` times with different z, against up to `real` real images of
    the combination; features from `net` (a FeatureNetwork). Returns diversity_per_condition's values,
    the pixel standard deviation within a condition and within a combination of real images, and the
    protocol."""
    if "attributes" not in items.columns or modality not in items.columns:
        raise ValueError(f"diversity_on_items needs {modality!r} and 'attributes' columns; the items have "
                         f"{sorted(items.columns)}")
    arg = {"text": "text", "audio": "audio", "image": "image"}.get(modality)
    if arg is None:
        raise ValueError(f"diversity_on_items: unknown condition modality {modality!r} (text, audio or image)")
    combos, key = torch.unique(items.columns["attributes"], dim=0, return_inverse=True)
    images = items.columns["image"]
    real_feats = net.extract(images, batch_size=500, want=("features",))["features"]
    picks = [i for k in range(len(combos)) for i in torch.nonzero(key == k).flatten().tolist()[:captions]]
    z = torch.randn(len(picks) * per, int(pipe.model_config["z_dim"]), generator=torch.Generator().manual_seed(seed))
    cond = [items.columns[modality][i] for i in picks for _ in range(per)]
    x = pipe(z=z, num_images=len(z), output_type="pt", batch_size=256, **{arg: cond}).tensor
    f = net.extract(x, batch_size=500, want=("features",))["features"]
    gen = [f[j * per:(j + 1) * per] for j in range(len(picks))]
    ref = [real_feats[(key == key[i]).numpy()][:real] for i in picks]
    names = [str(items.columns["text"][i]) if "text" in items.columns else str(i) for i in picks]
    out = diversity_per_condition(gen, ref, names)
    out["pixel_std_within_condition"] = float(x.view(len(picks), per, -1).std(1).mean())
    out["real_pixel_std_within_combination"] = float(torch.stack(
        [images[key == k][:real].std(0).mean() for k in range(len(combos)) if int((key == k).sum()) > 1]).mean())
    out["protocol"] = (f"{len(combos)} attribute combinations x {captions} {modality} conditions x {per} samples "
                       f"(z seed {seed}) vs up to {real} real images of the combination; features "
                       f"{net.describe()}")
    return out


@metric("diversity_ratio", 0, True, "mean pairwise feature distance within a condition, generated / real",
        counted=False)
def diversity_ratio(ctx, num: int) -> MetricResult:
    mods = ctx.modalities
    if mods == ["label"]:
        k = ctx.num_classes
        per = max(2, (num or 100 * k) // k)
        fake = ctx.fake(per * k, mode="balanced")
        has_real = ctx.train.has("label")
        gen = [fake.features[fake.labels == c] for c in range(k)]
        real = [ctx.real(per, label=c).features if has_real else np.zeros((0, 1)) for c in range(k)]
        names = [str(c) for c in range(k)]
        mode, total, by = "balanced", per * k, "class"
        how = f"{per} samples per class vs up to {per} real items of the class"
    elif mods:
        m = SAMPLES_PER_CONDITION
        keys, by = ctx.condition_keys()
        if keys is None:
            raise MetricNotApplicable("the reference data has neither attributes, captions nor labels to group "
                                      "real items by condition")
        groups = max(1, (num or 400) // m)
        mode = f"grouped{m}"
        fake = ctx.fake(groups * m, mode=mode)
        full = ctx.real(None)
        rng = np.random.default_rng([ctx.seed, 17])
        gen, real, names = [], [], []
        for g in range(groups):
            row = int(fake.rows[g * m])
            same = np.flatnonzero(keys == keys[row])
            if len(same) > REAL_PER_CONDITION:
                same = np.sort(rng.choice(same, size=REAL_PER_CONDITION, replace=False))
            gen.append(fake.features[g * m:(g + 1) * m])
            real.append(full.features[same])
            names.append(ctx.describe_key(row))
        total = groups * m
        how = (f"{groups} conditions x {m} samples (one training item's condition each); real: up to "
               f"{REAL_PER_CONDITION} training items with the same {by}")
    else:
        n = num or 1000
        fake, ref = ctx.fake(n), ctx.real(n)
        gen, real, names = [fake.features], [ref.features], ["all"]
        mode, total, by = "data", n, "none (unconditional)"
        how = f"{n} samples vs {len(ref)} real training items, one group"
    vals = diversity_per_condition(gen, real, names)
    worst, used = vals.pop("most_collapsed"), vals.pop("conditions")
    return MetricResult("diversity_ratio", vals, "diversity_ratio", True,
                        ctx.protocol(total, None, mode=mode, groups=how, condition_key=by,
                                     distance="mean pairwise Euclidean, feature space", conditions_compared=used,
                                     most_collapsed=worst))
