"""Improved precision/recall (Kynkäänniemi et al. 2019, k = 3) and density/coverage (Naeem et al. 2020, k = 5).

On features X (reals, N of them) and Y (fakes, M), with NND_k(a) the distance from a to its k-th
nearest neighbour in its own set, self excluded, and B(a, r) the closed ball:

  precision = (1/M) Σ_j 1[∃ i: Y_j ∈ B(X_i, NND_k(X_i))]      share of fakes inside the real manifold
  recall    = (1/N) Σ_i 1[∃ j: X_i ∈ B(Y_j, NND_k(Y_j))]      share of reals inside the fake manifold
  density   = (1/(kM)) Σ_j Σ_i 1[Y_j ∈ B(X_i, NND_k(X_i))]    balls around reals only
  coverage  = (1/N) Σ_i 1[∃ j: Y_j ∈ B(X_i, NND_k(X_i))]

Sanity check (BENCHMARKS.md): 10k vs 10k samples of N(0, I) in 1000-D gave P 0.477, R 0.471,
D 1.056, C 0.974 — reproduced by tests/metrics (smaller) and bench/fid.py (full size).
"""
from __future__ import annotations

import numpy as np
import torch

CHUNK = 1024


def _as_tensor(x) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(x) if not torch.is_tensor(x) else x)
    if t.dim() != 2:
        raise ValueError(f"features must be (n, d), got shape {tuple(t.shape)}")
    return t if t.dtype == torch.float64 else t.to(torch.float64 if t.shape[1] <= 64 else torch.float32)


def _sq_dist(a: torch.Tensor, b: torch.Tensor, b_sq: torch.Tensor) -> torch.Tensor:
    """Squared Euclidean distances (len(a), len(b)) by the matmul expansion, clamped at 0."""
    a_sq = (a * a).sum(1, keepdim=True)
    return (a_sq + b_sq[None, :] - 2.0 * (a @ b.T)).clamp_min_(0)


def knn_radii(x, k: int) -> torch.Tensor:
    """Distance from each row of x to its k-th nearest neighbour among the other rows (self excluded)."""
    x = _as_tensor(x)
    if len(x) <= k:
        raise ValueError(f"k={k} nearest neighbours need more than {k} samples, got {len(x)}")
    sq = (x * x).sum(1)
    out = torch.empty(len(x), dtype=x.dtype)
    for s in range(0, len(x), CHUNK):
        d = _sq_dist(x[s:s + CHUNK], x, sq)
        rows = torch.arange(d.shape[0])
        d[rows, rows + s] = float("inf")                   # self excluded, even when duplicates exist
        out[s:s + CHUNK] = d.topk(k, dim=1, largest=False).values[:, -1]
    return out.sqrt()


def _inside_counts(points: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """For each point: how many balls B(centre_i, radius_i) hold it; for each centre: whether any point is in its ball."""
    c_sq = (centres * centres).sum(1)
    r_sq = radii.to(points.dtype) ** 2
    counts = torch.zeros(len(points), dtype=torch.long)
    hit = torch.zeros(len(centres), dtype=torch.bool)
    for s in range(0, len(points), CHUNK):
        inside = _sq_dist(points[s:s + CHUNK], centres, c_sq) <= r_sq[None, :]
        counts[s:s + CHUNK] = inside.sum(1)
        hit |= inside.any(0)
    return counts, hit


def precision_recall(real, fake, k: int = 3) -> dict[str, float]:
    """Improved precision and recall with k-NN balls (self excluded)."""
    x, y = _as_tensor(real), _as_tensor(fake)
    y = y.to(x.dtype)
    fake_in_real, _ = _inside_counts(y, x, knn_radii(x, k))
    real_in_fake, _ = _inside_counts(x, y, knn_radii(y, k))
    return {"precision": float((fake_in_real > 0).double().mean()), "recall": float((real_in_fake > 0).double().mean())}


def density_coverage(real, fake, k: int = 5) -> dict[str, float]:
    """Density and coverage with k-NN balls around the reals only."""
    x, y = _as_tensor(real), _as_tensor(fake)
    y = y.to(x.dtype)
    counts, covered = _inside_counts(y, x, knn_radii(x, k))
    return {"density": float(counts.double().sum() / (k * len(y))), "coverage": float(covered.double().mean())}


def prdc(real, fake, k_pr: int = 3, k_dc: int = 5) -> dict[str, float]:
    return precision_recall(real, fake, k_pr) | density_coverage(real, fake, k_dc)


# ---- registered metrics ----------------------------------------------------------------------------
from .base import MetricResult, metric  # noqa: E402


@metric("pr", 10_000, True, "improved precision and recall, k = 3 (Kynkäänniemi et al. 2019)")
def pr(ctx, num: int) -> MetricResult:
    fake, real = ctx.fake(num), ctx.real(num)
    vals = precision_recall(real.features, fake.features, k=3)
    return MetricResult("pr", vals, "precision", True,
                        ctx.protocol(num, ctx.describe_split("train", len(real)), k=3,
                                     balls="k-NN radius within its own set, self excluded"))


@metric("dc", 10_000, True, "density and coverage, k = 5, balls around reals only (Naeem et al. 2020)")
def dc(ctx, num: int) -> MetricResult:
    fake, real = ctx.fake(num), ctx.real(num)
    vals = density_coverage(real.features, fake.features, k=5)
    return MetricResult("dc", vals, "coverage", True,
                        ctx.protocol(num, ctx.describe_split("train", len(real)), k=5,
                                     balls="around reals only, k-NN radius, self excluded"))
