"""Precision/recall (k=3) and density/coverage (k=5) exactly as BENCHMARKS.md defines them."""
from __future__ import annotations

import numpy as np
import pytest
from helpers_metrics import one_thread  # noqa: F401  (autouse)

from mmgan.metrics.prdc import density_coverage, knn_radii, prdc, precision_recall


def _brute(real, fake, k_pr=3, k_dc=5):
    """Straight from the definitions, with numpy loops: the reference for the chunked implementation."""
    def dist(a, b):
        return np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))

    def radii(x, k):
        d = dist(x, x)
        np.fill_diagonal(d, np.inf)
        return np.sort(d, axis=1)[:, k - 1]

    drf = dist(real, fake)                                  # (N, M)
    r_pr, f_pr, r_dc = radii(real, k_pr), radii(fake, k_pr), radii(real, k_dc)
    precision = np.mean([(drf[:, j] <= r_pr).any() for j in range(len(fake))])
    recall = np.mean([(drf[i, :] <= f_pr).any() for i in range(len(real))])
    density = sum((drf[:, j] <= r_dc).sum() for j in range(len(fake))) / (k_dc * len(fake))
    coverage = np.mean([(drf[i, :] <= r_dc[i]).any() for i in range(len(real))])
    return {"precision": precision, "recall": recall, "density": density, "coverage": coverage}


def test_matches_brute_force_definitions():
    g = np.random.default_rng(0)
    real, fake = g.standard_normal((120, 5)), g.standard_normal((90, 5)) * 1.2 + 0.3
    got, want = prdc(real, fake), _brute(real, fake)
    for k in want:
        assert got[k] == pytest.approx(want[k], abs=1e-9), k


def test_identical_sets_give_full_precision_recall_coverage():
    x = np.random.default_rng(1).standard_normal((200, 8))
    res = prdc(x, x)
    assert res["precision"] == 1.0 and res["recall"] == 1.0 and res["coverage"] == 1.0
    assert res["density"] >= 1.0                          # each point sits in its own ball plus neighbours'


def test_disjoint_sets_give_zero():
    g = np.random.default_rng(2)
    real, fake = g.standard_normal((150, 4)), g.standard_normal((150, 4)) + 100.0
    assert prdc(real, fake) == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}


def test_self_is_excluded_from_the_radius():
    x = np.array([[0.0], [1.0], [3.0], [6.0]])
    np.testing.assert_allclose(knn_radii(x, 1).numpy(), [1, 1, 2, 3])
    np.testing.assert_allclose(knn_radii(x, 3).numpy(), [6, 5, 3, 6])


def test_gaussian_sanity_check_of_benchmarks_md():
    """BENCHMARKS.md: 10k vs 10k samples of N(0, I) in 1000-D gave P 0.477, R 0.471, D 1.056, C 0.974.
    Here 2k vs 2k (mean of 3 draws, seconds instead of minutes); bench/fid.py reproduces the full size.
    Tolerances cover the draw-to-draw spread measured at this size (std P, R ~0.02; D ~0.09; C ~0.01)."""
    published = {"precision": 0.477, "recall": 0.471, "density": 1.056, "coverage": 0.974}
    tol = {"precision": 0.06, "recall": 0.06, "density": 0.15, "coverage": 0.025}
    runs = []
    for seed in range(3):
        g = np.random.default_rng(seed)
        real = g.standard_normal((2000, 1000)).astype(np.float32)
        fake = g.standard_normal((2000, 1000)).astype(np.float32)
        runs.append(precision_recall(real, fake) | density_coverage(real, fake))
    for k, v in published.items():
        mean = float(np.mean([r[k] for r in runs]))
        assert abs(mean - v) <= tol[k], f"{k}: {mean:.3f} vs published {v}"
