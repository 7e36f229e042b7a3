"""SC09-protocol scores from a digit judge's outputs (probabilities (n, k), features (n, d)).

  is          exp(E_x KL(p(y|x) ‖ p(y))), 10 splits (inception_score.py); 1 .. k. Each split's marginal
              is estimated from its own clips, so small splits read lower (about (k-1)/2 nats / split
              size: 100-clip splits of ten balanced classes lose ~4%): compare sets of similar size
  fid         Fréchet distance of the judge's features to the real test set's (fid.py)
  mis         modified IS, exp(E_{x,x'} KL(p(y|x) ‖ p(y|x'))) over all pairs of clips: what the
              WaveGAN/SaShiMi evaluation code computes (10,000 random pairs there; here the exact mean
              over all ordered pairs), the number published next to SC09 IS; high when every clip is
              confident and the classes are balanced
  mis_within  the same mean KL within each class (Gurumurthy et al. 2017, DeLiGAN: within-class
              diversity of the judge's beliefs), exp per class, then averaged over the classes
  am          AM score (Zhou et al. 2018): KL(p_train(y) ‖ p_gen(y)) + E_x H(p(y|x)), lower is better
  label_acc   share of clips whose judged digit is the one asked for (conditional generation)
"""
from __future__ import annotations

import numpy as np

from .fid import fid_from_features
from .inception_score import inception_score

EPS = 1e-12


def _probs(p) -> np.ndarray:
    p = np.asarray(p, dtype=np.float64)
    if p.ndim != 2 or len(p) < 1:
        raise ValueError(f"probabilities must be (n, classes) with n >= 1, got shape {p.shape}")
    if (p < -1e-6).any() or not np.allclose(p.sum(1), 1.0, atol=1e-4):
        raise ValueError("each row of probabilities must be a distribution (>= 0, summing to 1)")
    return np.clip(p, EPS, None)


def mean_pairwise_kl(probs) -> float:
    """E_{x,x'} KL(p(y|x) ‖ p(y|x')) over all ordered pairs (i = j included, as random pairs with
    replacement are): mean_i Σ p_i log p_i − mean_{i,j} Σ p_i log p_j, with no n × n matrix."""
    p = _probs(probs)
    logp = np.log(p)
    return float((p * logp).sum(1).mean() - p.mean(0) @ logp.mean(0))


def modified_inception_score(probs, classes=None) -> float:
    """mIS over all pairs (classes None), or within each class of `classes` (n,) averaged over the classes."""
    if classes is None:
        return float(np.exp(mean_pairwise_kl(probs)))
    p, c = _probs(probs), np.asarray(classes).reshape(-1)
    if len(c) != len(p):
        raise ValueError(f"{len(c)} classes for {len(p)} clips")
    return float(np.mean([np.exp(mean_pairwise_kl(p[c == k])) for k in np.unique(c)]))


def am_score(probs, reference_probs) -> float:
    """KL(mean reference prediction ‖ mean prediction) + mean entropy of the predictions (lower is better)."""
    p, ref = _probs(probs), _probs(reference_probs)
    if p.shape[1] != ref.shape[1]:
        raise ValueError(f"{p.shape[1]} classes against {ref.shape[1]} in the reference")
    ref_m, gen_m = ref.mean(0), p.mean(0)
    return float((ref_m * (np.log(ref_m) - np.log(gen_m))).sum() - (p * np.log(p)).sum(1).mean())


def label_accuracy(probs, labels) -> dict[str, float]:
    """Share judged as asked, overall and for the worst asked-for class."""
    pred, y = _probs(probs).argmax(1), np.asarray(labels).reshape(-1)
    if len(y) != len(pred):
        raise ValueError(f"{len(y)} labels for {len(pred)} clips")
    per = [float((pred[y == k] == k).mean()) for k in np.unique(y)]
    return {"label_acc": float((pred == y).mean()), "label_acc_min_class": float(min(per))}


def sc09_scores(probs, features, train_probs, test_features, labels=None, splits: int = 10, seed: int = 0) -> dict:
    """Every SC09 score of one set of clips: IS (± std), FID to the real test features, mIS (all pairs and,
    with labels, within each asked-for class), AM against the real training predictions, label accuracy."""
    is_mean, is_std = inception_score(_probs(probs), splits, seed)
    out = {"is": is_mean, "is_std": is_std, "fid": fid_from_features(test_features, features),
           "mis": modified_inception_score(probs), "am": am_score(probs, train_probs), "n": len(probs), "is_split_size": len(probs) // splits}
    if labels is not None:
        out["mis_within"] = modified_inception_score(probs, labels)
        out.update(label_accuracy(probs, labels))
    return out
