"""Inception Score with the dataset's own classifier: exp(E_x KL(p(y|x) ‖ p(y))) over 10 splits.

With the in-project classifier instead of Inception, the score ranges from 1 to the number of
classes (10 for digits, 1,000 for stacked-mnist); it is not comparable to published Inception IS.
"""
from __future__ import annotations

import warnings

import numpy as np
import torch

from .base import MetricNotApplicable, MetricResult, metric
from .fid import Precomputed
from .fid import have_torchmetrics


def inception_score(probs, splits: int = 10, seed: int = 0) -> tuple[float, float]:
    """(mean, std) over splits, by torchmetrics' InceptionScore on the classifier's log-probabilities
    (numpy without torchmetrics)."""

    p = torch.as_tensor(np.asarray(probs, dtype=np.float64))
    if not have_torchmetrics():
        order = torch.randperm(len(p), generator=torch.Generator().manual_seed(seed)).numpy()
        vals = [inception_score_numpy(p.numpy()[part]) for part in np.array_split(order, splits)]
        return float(np.mean(vals)), float(np.std(vals, ddof=1)) if splits > 1 else 0.0
    from torchmetrics.image.inception import InceptionScore

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = InceptionScore(feature=Precomputed(p.shape[1]), splits=splits)
    m.update(p.clamp_min(1e-30).log())
    with torch.random.fork_rng(devices=[]), warnings.catch_warnings():
        warnings.simplefilter("ignore")                 # std of a single split
        torch.manual_seed(seed)
        mean, std = m.compute()
    return float(mean), float(std)


def inception_score_numpy(probs) -> float:
    """One split, directly: exp(mean KL(p(y|x) ‖ p(y)))."""
    p = np.asarray(probs, np.float64)
    py = p.mean(0, keepdims=True)
    kl = (p * (np.log(np.clip(p, 1e-30, None)) - np.log(np.clip(py, 1e-30, None)))).sum(1)
    return float(np.exp(kl.mean()))


@metric("is", 10_000, True, "Inception Score with the dataset's classifier (10 splits)", targets=("image", "audio"))
def is_metric(ctx, num: int) -> MetricResult:
    if ctx.feature_net.num_classes < 2:
        raise MetricNotApplicable("is needs a feature network with a class head (the data has no labels)")
    fake = ctx.fake(num)
    mean, std = inception_score(fake.probs, 10, ctx.seed)
    values = {"is": mean, "is_std": std}
    ceiling = ctx.feature_net.info.get("real_test_is")          # a network that scored the real test split
    if ceiling:
        values.update(real_test_is=float(ceiling), is_ratio=mean / float(ceiling))
    return MetricResult("is", values, "is", True,
                        ctx.protocol(num, None, splits=10, classes=ctx.feature_net.num_classes,
                                     note="classifier score, not comparable to Inception IS"))
