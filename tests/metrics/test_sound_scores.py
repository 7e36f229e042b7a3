"""SC09 scores on probability arrays with known answers."""
from __future__ import annotations

import math

import numpy as np
import pytest

from mmgan.metrics.inception_score import inception_score
from mmgan.metrics.sound_scores import (am_score, label_accuracy, mean_pairwise_kl, modified_inception_score,
                                        sc09_scores)

K = 10


def confident(labels, top: float = 1.0) -> np.ndarray:
    """Each row puts `top` on its label and the rest evenly on the other classes."""
    labels = np.asarray(labels)
    p = np.full((len(labels), K), (1 - top) / (K - 1))
    p[np.arange(len(labels)), labels] = top
    return p


BALANCED = np.arange(1000) % K


def test_uniform_predictions_score_one():
    p = np.full((500, K), 1 / K)
    assert inception_score(p, splits=10)[0] == pytest.approx(1.0, abs=1e-6)
    assert modified_inception_score(p) == pytest.approx(1.0, abs=1e-9)


def test_confident_and_balanced_scores_the_number_of_classes():
    assert inception_score(confident(BALANCED), splits=1)[0] == pytest.approx(10.0, rel=1e-6)
    assert 9.0 < inception_score(confident(BALANCED), splits=10)[0] <= 10.0 + 1e-6   # random splits: near balanced
    assert inception_score(confident(np.zeros(500, int)), splits=10)[0] == pytest.approx(1.0, abs=1e-6)  # one mode


def test_mis_matches_a_pairwise_loop_and_its_closed_form():
    p = confident(np.arange(40) % K, top=0.91)
    loop = np.mean([(a * np.log(a / b)).sum() for a in p for b in p])
    assert mean_pairwise_kl(p) == pytest.approx(loop, rel=1e-9)
    # different classes (9 in 10 pairs): KL = (0.91 - 0.01) log(0.91 / 0.01); same class: 0
    assert modified_inception_score(p) == pytest.approx(math.exp(0.9 * 0.9 * math.log(91)), rel=1e-9)
    assert modified_inception_score(p, classes=np.arange(40) % K) == pytest.approx(1.0)   # no spread within a class


def test_mis_within_class_sees_spread_inside_a_class():
    a, b = confident([3], 0.91)[0], confident([4], 0.91)[0]
    p = np.stack([a, b, a, b])
    assert modified_inception_score(p, classes=[3, 3, 3, 3]) == pytest.approx(modified_inception_score(p))
    assert modified_inception_score(p, classes=[3, 3, 3, 3]) > 2.0


def test_am_score():
    real = confident(BALANCED)
    assert am_score(real, real) == pytest.approx(0.0, abs=1e-6)                       # same marginal, no doubt
    assert am_score(np.full((100, K), 1 / K), real) == pytest.approx(math.log(K))      # balanced but unsure
    collapsed = am_score(confident(np.zeros(100, int), 0.91), real)
    assert collapsed > am_score(confident(BALANCED, 0.91), real) + 1.0                 # one mode: far marginal


def test_label_accuracy_and_the_shifted_control():
    p = confident(BALANCED)
    assert label_accuracy(p, BALANCED) == {"label_acc": 1.0, "label_acc_min_class": 1.0}
    assert label_accuracy(p, (BALANCED + 1) % K)["label_acc"] == 0.0
    wrong = BALANCED.copy()
    wrong[BALANCED == 7] = 0                                                             # every "seven" is off
    assert label_accuracy(confident(wrong), BALANCED) == {"label_acc": 0.9, "label_acc_min_class": 0.0}


def test_sc09_scores_collects_everything():
    rng = np.random.default_rng(0)
    p = confident(BALANCED[:200], 0.91)
    out = sc09_scores(p, rng.normal(size=(200, 8)), p, rng.normal(size=(300, 8)), labels=BALANCED[:200])
    assert set(out) >= {"is", "is_std", "fid", "mis", "mis_within", "am", "label_acc", "n"}
    assert out["label_acc"] == 1.0 and out["fid"] < 1.0 and out["n"] == 200


@pytest.mark.parametrize("bad", [np.ones((4, K)), np.ones(K) / K, -np.ones((3, K))])
def test_rows_that_are_not_distributions_are_refused(bad):
    with pytest.raises(ValueError, match="probabilities|distribution"):
        modified_inception_score(bad)
