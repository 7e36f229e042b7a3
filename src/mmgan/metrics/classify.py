"""Metrics that classify generated samples: conditional accuracy and CAS.

cond_acc: the dataset's classifier (trained on real data) labels samples generated for balanced
          labels; the score is the share labelled as requested.
cas:      Classification Accuracy Score (Ravuri & Vinyals 2019): train a classifier only on generated
          samples (labels drawn like the training labels), test it on the real test split; next to it
          the same classifier (architecture, recipe, sample count of the real training split) trained on
          real data, in the same evaluation. cas_ratio = cas / real_acc.
"""
from __future__ import annotations

import numpy as np
import torch

from .base import MetricNotApplicable, MetricResult, metric
from .features import ConvFeatures, PerChannelFeatures, Recipe, _holdout, accuracy, default_recipe, train_convnet


def _need_labels(ctx, what: str) -> None:
    if not ctx.label_conditioned:
        raise MetricNotApplicable(f"{what} needs a label-conditioned model (model.condition includes label)")


@metric("cond_acc", 10_000, True, "share of samples generated for label y that the real-data classifier labels y",
        counted=False)
def cond_acc(ctx, num: int) -> MetricResult:
    _need_labels(ctx, "cond_acc")
    net = ctx.feature_net
    if net.num_classes != ctx.num_classes:
        raise MetricNotApplicable(f"the feature network has {net.num_classes} classes, the model {ctx.num_classes}")
    fake = ctx.fake(num, mode="balanced")
    hit = fake.predicted == fake.labels
    per_class = np.array([hit[fake.labels == c].mean() for c in range(ctx.num_classes) if (fake.labels == c).any()])
    vals = {"cond_acc": float(hit.mean()), "cond_acc_min_class": float(per_class.min())}
    extra = {}
    acc = net.info.get("test_accuracy")
    if isinstance(acc, float):
        vals["classifier_test_acc"] = acc
    if isinstance(net, PerChannelFeatures):
        extra["labelled_by"] = "the digit classifier on each channel; label = 100 r + 10 g + b"
    return MetricResult("cond_acc", vals, "cond_acc", True, ctx.protocol(num, None, mode="balanced", **extra))


def _split_real(ctx):
    """(train images, train labels, test images, test labels, description of the test data)."""
    tr = ctx.train
    x, y = tr.columns["image"], tr.columns["label"]
    if ctx.test is not None and "label" in ctx.test.columns:
        te = ctx.test
        return x, y, te.columns["image"], te.columns["label"], f"{te.info.name} test split ({len(te)} items)"
    a, b = _holdout(len(x))
    return (x[a], y[a], x[b], y[b],
            f"15% of {tr.info.name}'s training split ({len(b)} items; the generator may have seen them: no test split)")


@metric("cas", 0, True, "classification accuracy score: train on generated, test on real, vs train on real",
        counted=False, targets=("image",))
def cas(ctx, num: int) -> MetricResult:
    _need_labels(ctx, "cas")
    x_tr, y_tr, x_te, y_te, test_desc = _split_real(ctx)
    num = num or len(x_tr)
    recipe = ctx.recipe or default_recipe()
    k = ctx.num_classes
    res = int(x_tr.shape[-1])
    fake = ctx.generate(num, mode="data", seed=ctx.seed + 1)          # its own draw, not the FID samples
    if fake.labels is None:
        raise MetricNotApplicable("cas needs labels in the reference data")
    heads = {"label": k}
    ctx.log(f"cas: training a classifier on {num} generated samples ({recipe.steps} steps)")
    net_gen = train_convnet(fake.x, {"label": torch.as_tensor(fake.labels)}, heads, recipe, resolution=res,
                            progress=ctx.progress, desc="cas: train on generated")
    acc_gen = accuracy(net_gen, x_te, {"label": y_te})["label"]
    fn = ctx.feature_net
    reuse = (isinstance(fn, ConvFeatures) and dict(fn.net.config["heads"]) == heads and ctx.test is not None
             and fn.info.get("recipe") == _asdict(recipe) and fn.info.get("data", {}).get("version") == ctx.train.info.version)
    if reuse:
        acc_real = accuracy(fn.net, x_te, {"label": y_te})["label"]
        real_desc = "the feature network itself (same architecture, recipe and training split)"
    else:
        ctx.log(f"cas: training the same classifier on {len(x_tr)} real samples")
        net_real = train_convnet(x_tr, {"label": y_tr}, heads, recipe, resolution=res, progress=ctx.progress,
                                 desc="cas: train on real")
        acc_real = accuracy(net_real, x_te, {"label": y_te})["label"]
        real_desc = "trained now with the same architecture and recipe"
    return MetricResult("cas", {"cas": acc_gen, "real_acc": acc_real, "cas_ratio": acc_gen / max(acc_real, 1e-12)},
                        "cas", True,
                        ctx.protocol(num, None, classifier=f"ConvNet width {recipe.width}, {recipe.steps} steps of "
                                     f"{recipe.batch_size}, AdamW {recipe.lr} one-cycle, random shift {recipe.shift} / "
                                     f"rotation {recipe.rotate}° / zoom {recipe.scale}",
                                     test=test_desc, train_on_real=f"{len(x_tr)} real training items; {real_desc}",
                                     generated_seed=ctx.seed + 1))


def _asdict(r: Recipe) -> dict:
    from dataclasses import asdict

    return asdict(r)
