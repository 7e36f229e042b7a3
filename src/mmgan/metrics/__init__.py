"""mmgan.metrics: sample-quality metrics in a registry, each stating its protocol, and the feature
networks they see through. Nothing is downloaded.

    from mmgan.metrics import evaluate
    ev = evaluate("runs/00003-mnist-dcgan", metrics=["fid10k", "pr10k", "cond_acc"])
    print(ev.table())                       # also appended to RUN/metrics.jsonl, drawn in RUN/report.html

Registered metrics (kind "metric"; a name may carry its sample count: fid10k, pr2k, kid500):
  fid, kid, intra_fid     Fréchet / kernel distance of feature statistics           (fid.py)
  pr, dc                  precision/recall k=3, density/coverage k=5                 (prdc.py)
  is                      Inception Score with the dataset's classifier              (inception_score.py)
  cond_acc, cas           conditional accuracy; classification accuracy score        (classify.py)
  modes                   modes captured + KL(p_gen ‖ uniform)                       (modes.py)
  rprec                   R-precision in a joint embedding space                     (rprecision.py)
  diversity_ratio         pairwise feature distance within a condition, generated / real (diversity.py)
Feature networks: features.py (in-project, cached) and inception.py (users' Inception weights).
Audio (SC09 protocol, bench/sc09.py): sound_judge.py (a log-mel digit CNN, cached), sound_scores.py
(IS, FID, mIS, AM, label accuracy on its outputs), sphinx.py (pocketsphinx, an independent judge);
sound_features.py (the judge as the feature network of audio targets: `mmgan eval` on spoken digits);
speech_quality.py (a vocoder's copy synthesis: MCD, F0 RMSE, voicing F1, STOI, PESQ; bench/vocoder.py).
"""
from __future__ import annotations

from . import classify, diversity, fid, inception_score, modes, prdc, rprecision, sound_features  # noqa: F401  (registration)
from .base import MetricNotApplicable, MetricResult, describe_metrics, parse_metric_name, resolve_metric
from .context import EvalContext, SampleSet
from .evaluate import Evaluation, compute_metrics, default_metrics, evaluate
from .features import (FeatureNetwork, Recipe, feature_network_for, load_feature_network, train_convnet)
from .fid import fid_from_features, fid_numpy, kid_from_features
from .inception_score import inception_score
from .modes import kl_to_uniform, label_modes, mixture_modes
from .prdc import density_coverage, precision_recall, prdc
from .rprecision import r_precision

__all__ = [
    "evaluate", "compute_metrics", "default_metrics", "Evaluation", "EvalContext", "SampleSet", "MetricResult",
    "MetricNotApplicable", "parse_metric_name", "resolve_metric", "describe_metrics", "FeatureNetwork", "Recipe",
    "feature_network_for", "load_feature_network", "train_convnet", "fid_from_features", "fid_numpy",
    "kid_from_features", "inception_score", "precision_recall", "density_coverage", "prdc", "mixture_modes",
    "label_modes", "kl_to_uniform", "r_precision",
]
