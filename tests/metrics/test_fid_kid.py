"""FID / KID / IS: known answers on tiny inputs and torchmetrics cross-checked against numpy/scipy."""
from __future__ import annotations

import numpy as np
import pytest
from helpers_metrics import one_thread  # noqa: F401  (autouse)

from mmgan.metrics.fid import fid_from_features, fid_numpy, frechet_distance_numpy, kid_from_features, mmd2_poly_numpy
from mmgan.metrics.inception_score import inception_score, inception_score_numpy


def _gauss(n, d, seed, scale=1.0, shift=0.0):
    return np.random.default_rng(seed).standard_normal((n, d)) * scale + shift


def test_fid_identical_sets_is_zero():
    x = _gauss(500, 16, 0)
    assert fid_from_features(x, x) == pytest.approx(0.0, abs=1e-6)


def test_fid_matches_numpy_scipy_on_the_same_features():
    real, fake = _gauss(800, 32, 0), _gauss(700, 32, 1, scale=1.3, shift=0.25)
    tm, ref = fid_from_features(real, fake), fid_numpy(real, fake)
    assert tm == pytest.approx(ref, rel=1e-6)
    assert tm > 1.0


def test_fid_closed_form_for_known_gaussians():
    # N(0, I) vs N(mu, s^2 I) in d dims: |mu|^2 + d (1 - s)^2
    d, mu, s = 4, np.full(4, 0.5), 2.0
    assert frechet_distance_numpy(np.zeros(d), np.eye(d), mu, s * s * np.eye(d)) == pytest.approx(1.0 + d * (1 - s) ** 2)


def test_fid_of_disjoint_sets_is_large():
    assert fid_from_features(_gauss(300, 8, 0), _gauss(300, 8, 1, shift=10.0)) > 700


def test_kid_matches_numpy_unbiased_mmd_and_is_near_zero_for_one_distribution():
    real, fake = _gauss(300, 16, 0), _gauss(300, 16, 1, shift=0.5)
    mean, std = kid_from_features(real, fake, subsets=1, subset_size=300)
    assert mean == pytest.approx(mmd2_poly_numpy(real, fake), rel=1e-6)
    same_mean, _ = kid_from_features(_gauss(400, 16, 2), _gauss(400, 16, 3), subsets=20, subset_size=200)
    assert abs(same_mean) < 0.05 * mean


def test_inception_score_bounds_and_numpy_agreement():
    k = 10
    onehot = np.eye(k)[np.arange(1000) % k]
    assert inception_score(onehot, splits=1)[0] == pytest.approx(inception_score_numpy(onehot), rel=1e-6)
    assert inception_score(onehot, splits=1)[0] == pytest.approx(k, rel=1e-6)
    assert inception_score(onehot, splits=10)[0] == pytest.approx(k, rel=0.06)    # splits are not balanced
    constant = np.tile(np.eye(k)[3], (500, 1))
    assert inception_score(constant, splits=5)[0] == pytest.approx(1.0, abs=1e-6)


def test_without_torchmetrics_the_numpy_estimators_take_over(monkeypatch):
    import mmgan.metrics.fid as fid_mod

    real, fake = _gauss(400, 8, 0), _gauss(400, 8, 1, shift=0.3)
    with_tm = fid_from_features(real, fake), kid_from_features(real, fake, subsets=1, subset_size=400)[0]
    monkeypatch.setattr(fid_mod, "have_torchmetrics", lambda: False)
    assert fid_mod.fid_from_features(real, fake) == pytest.approx(with_tm[0], rel=1e-6)
    assert fid_mod.kid_from_features(real, fake, subsets=1, subset_size=400)[0] == pytest.approx(with_tm[1], rel=1e-6)
    assert "numpy" in fid_mod.estimator("FrechetInceptionDistance")
    onehot = np.eye(5)[np.arange(500) % 5]
    assert inception_score(onehot, splits=1)[0] == pytest.approx(5.0, rel=1e-6)
