"""FID and KID on feature vectors, computed by torchmetrics with a custom feature module.

The feature network runs once per sample set (its features are shared by FID, KID, precision/recall,
density/coverage); torchmetrics then receives those features through an identity feature module
(`Precomputed`), so the statistics are exactly torchmetrics' FrechetInceptionDistance and
KernelInceptionDistance. `frechet_distance_numpy` / `kid_numpy` are direct numpy/scipy versions that
the tests check torchmetrics against on the same features.

  FID = ‖μ_r − μ_g‖² + Tr(Σ_r + Σ_g − 2 (Σ_r Σ_g)^½)         (unbiased covariances, float64)
  KID = unbiased MMD² with the kernel k(x, y) = (xᵀy / d + 1)³, mean ± std over 100 subsets of 1,000
"""
from __future__ import annotations

import warnings

import numpy as np
import torch
import torch.nn as nn


class Precomputed(nn.Module):
    """Identity feature module: torchmetrics' `feature=` argument for features we already computed."""

    def __init__(self, num_features: int):
        super().__init__()
        self.num_features = int(num_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def _check(real, fake) -> tuple[torch.Tensor, torch.Tensor]:
    r = torch.as_tensor(np.asarray(real, dtype=np.float64))
    f = torch.as_tensor(np.asarray(fake, dtype=np.float64))
    if r.dim() != 2 or f.dim() != 2 or r.shape[1] != f.shape[1]:
        raise ValueError(f"features must be (n, d) with the same d; got {tuple(r.shape)} and {tuple(f.shape)}")
    if len(r) < 2 or len(f) < 2:
        raise ValueError(f"FID/KID need at least 2 samples per set; got {len(r)} real and {len(f)} generated")
    return r, f


def have_torchmetrics() -> bool:
    try:
        import torchmetrics  # noqa: F401
    except ImportError:
        return False
    return True


def estimator(name: str) -> str:
    if have_torchmetrics():
        return f"torchmetrics {name} on precomputed features, float64"
    return "numpy/scipy (torchmetrics is not installed: pip install 'mmgan[metrics]')"


def fid_from_features(real, fake) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (torchmetrics; numpy/scipy without it)."""
    r, f = _check(real, fake)
    if not have_torchmetrics():
        return max(0.0, fid_numpy(r.numpy(), f.numpy()))
    from torchmetrics.image.fid import FrechetInceptionDistance

    m = FrechetInceptionDistance(feature=Precomputed(r.shape[1]), normalize=True)
    m.set_dtype(torch.float64)
    for s in range(0, len(r), 4096):
        m.update(r[s:s + 4096], real=True)
    for s in range(0, len(f), 4096):
        m.update(f[s:s + 4096], real=False)
    return max(0.0, float(m.compute()))


def kid_from_features(real, fake, subsets: int = 100, subset_size: int = 1000, seed: int = 0) -> tuple[float, float]:
    """Kernel inception distance (mean, std over subsets) with torchmetrics (numpy without it);
    subset_size is capped at the smaller set's size."""
    r, f = _check(real, fake)
    size = int(min(subset_size, len(r), len(f)))
    if not have_torchmetrics():
        g = torch.Generator().manual_seed(seed)
        vals = [mmd2_poly_numpy(r[torch.randperm(len(r), generator=g)[:size]].numpy(),
                                f[torch.randperm(len(f), generator=g)[:size]].numpy()) for _ in range(subsets)]
        return float(np.mean(vals)), float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0
    from torchmetrics.image.kid import KernelInceptionDistance

    with warnings.catch_warnings():                  # "will save all extracted features": that is the point here
        warnings.simplefilter("ignore")
        m = KernelInceptionDistance(feature=Precomputed(r.shape[1]), subsets=subsets, subset_size=size, normalize=True)
    m.set_dtype(torch.float64)
    m.update(r, real=True)
    m.update(f, real=False)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)                      # torchmetrics draws its subsets from the global generator
        mean, std = m.compute()
    return float(mean), float(std)


def feature_stats(x) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype=np.float64)
    return x.mean(0), np.cov(x, rowvar=False)


def frechet_distance_numpy(mu1, sigma1, mu2, sigma2) -> float:
    """The reference formula with scipy's matrix square root (as in the FID paper's code)."""
    from scipy import linalg

    mu1, mu2 = np.atleast_1d(mu1), np.atleast_1d(mu2)
    sigma1, sigma2 = np.atleast_2d(sigma1), np.atleast_2d(sigma2)
    diff = mu1 - mu2
    covmean = linalg.sqrtm(sigma1 @ sigma2)
    if not np.isfinite(covmean).all():
        offset = np.eye(len(sigma1)) * 1e-6
        covmean = linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    covmean = covmean.real
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def fid_numpy(real, fake) -> float:
    """FID between two feature sets (rows = samples) with numpy/scipy."""
    return frechet_distance_numpy(*feature_stats(real), *feature_stats(fake))


def frechet_distance(real, fake) -> float:
    """FID between two feature sets (rows = samples): torchmetrics' estimator (see fid_from_features)."""
    return fid_from_features(real, fake)


def mmd2_poly_numpy(x, y, degree: int = 3, coef: float = 1.0) -> float:
    """Unbiased MMD² with the polynomial kernel (x·y/d + coef)^degree."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    d = x.shape[1]
    kxx, kyy, kxy = ((x @ x.T) / d + coef) ** degree, ((y @ y.T) / d + coef) ** degree, ((x @ y.T) / d + coef) ** degree
    m, n = len(x), len(y)
    return float((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
                 - 2 * kxy.mean())


# ---- registered metrics ----------------------------------------------------------------------------
from .base import MetricNotApplicable, MetricResult, metric  # noqa: E402


@metric("fid", 10_000, False, "Fréchet distance between feature Gaussians of generated and training images")
def fid(ctx, num: int) -> MetricResult:
    fake, real = ctx.fake(num), ctx.real(num)
    value = fid_from_features(real.features, fake.features)
    return MetricResult("fid", {"fid": value}, "fid", False,
                        ctx.protocol(num, ctx.describe_split("train", len(real)),
                                     estimator=estimator("FrechetInceptionDistance")))


@metric("kid", 10_000, False, "kernel MMD (cubic polynomial kernel), mean and std over 100 subsets")
def kid(ctx, num: int) -> MetricResult:
    fake, real = ctx.fake(num), ctx.real(num)
    size = int(min(1000, len(real), len(fake)))
    mean, std = kid_from_features(real.features, fake.features, subsets=100, subset_size=size, seed=ctx.seed)
    return MetricResult("kid", {"kid": mean, "kid_std": std}, "kid", False,
                        ctx.protocol(num, ctx.describe_split("train", len(real)), subsets=100, subset_size=size,
                                     kernel="(x·y/d + 1)^3", estimator=estimator("KernelInceptionDistance")))


@metric("intra_fid", 10_000, False, "FID within each class (class-conditional models), averaged over classes",
        counted=False)
def intra_fid(ctx, num: int) -> MetricResult:
    if not ctx.label_conditioned:
        raise MetricNotApplicable("intra_fid needs a label-conditioned model")
    k = ctx.num_classes
    per = num // k
    if per < 2 or k > 200:
        raise MetricNotApplicable(f"intra_fid with {k} classes needs at least 2 samples per class and at most 200 "
                                  f"classes (asked {num} samples: {per} per class)")
    fake = ctx.fake(per * k, mode="balanced")
    scores = []
    for c in range(k):
        real = ctx.real(None, label=c)
        f = fake.features[fake.labels == c]
        scores.append(fid_from_features(real.features, f) if len(real) >= 2 else float("nan"))
    arr = np.array(scores)
    return MetricResult("intra_fid", {"intra_fid": float(np.nanmean(arr)), "intra_fid_max": float(np.nanmax(arr)),
                                      "intra_fid_min": float(np.nanmin(arr))}, "intra_fid", False,
                        ctx.protocol(per * k, f"each class's items of the {ctx.name} train split", mode="balanced",
                                     per_class_generated=per, per_class=[round(float(v), 4) for v in arr]))
