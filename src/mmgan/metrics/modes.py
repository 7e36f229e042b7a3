"""Mode coverage and divergence.

2-D mixtures (ring8, grid25; PacGAN / VEEGAN protocol): 2,500 generated samples; a sample is high
quality (HQ) when it lies within 3σ of its nearest mode; modes captured = modes nearest to at least
one HQ sample; divergence = reverse KL, KL(p_gen ‖ uniform), with p_gen the histogram of HQ samples
over the modes (HQ samples only; 0·log 0 = 0).

Stacked MNIST (PacGAN protocol): 26,000 generated samples; the MNIST classifier labels each channel
and the mode is the triple (1,000 modes); modes = distinct triples; KL(p_gen ‖ uniform over 1,000).
Two diagnostics beside it: channel_kl (the per-channel digit histograms' part of the KL) and
uncertain_pct (channel digits the classifier reads with top probability < 0.9, against the real
training split's share): a KL driven by ambiguous digits is a sample-quality problem, not a
missing-mode one.

Other labelled image data: the dataset's classifier labels 10,000 samples; modes = classes seen;
KL(p_gen ‖ uniform over the classes) and KL(p_gen ‖ the training label histogram).
"""
from __future__ import annotations

import numpy as np

from .base import MetricNotApplicable, MetricResult, metric
from .features import PerChannelFeatures


def kl_to_uniform(counts, k: int | None = None) -> float:
    """KL(p ‖ uniform over k) for a histogram of counts (0·log 0 = 0); nan for an empty histogram."""
    c = np.asarray(counts, np.float64)
    k = k or len(c)
    if c.sum() <= 0:
        return float("nan")
    p = c / c.sum()
    nz = p > 0
    return float((p[nz] * np.log(p[nz] * k)).sum())


def kl(counts, reference) -> float:
    """KL(p ‖ q) for histograms p (counts) and q (counts or probabilities), 0·log 0 = 0."""
    p = np.asarray(counts, np.float64)
    q = np.asarray(reference, np.float64)
    p, q = p / p.sum(), q / q.sum()
    nz = p > 0
    if (q[nz] <= 0).any():
        return float("inf")
    return float((p[nz] * np.log(p[nz] / q[nz])).sum())


def mixture_modes(samples, means, sigma: float, threshold: float = 3.0) -> dict[str, float]:
    """HQ share (%), modes captured and reverse KL of the HQ histogram for samples (n, 2) of a mixture."""
    x = np.asarray(samples, np.float64)
    mu = np.asarray(means, np.float64)
    d = np.sqrt(((x[:, None, :] - mu[None, :, :]) ** 2).sum(-1))      # (n, K)
    nearest = d.argmin(1)
    hq = d[np.arange(len(x)), nearest] <= threshold * sigma
    counts = np.bincount(nearest[hq], minlength=len(mu))
    return {"modes": float((counts > 0).sum()), "hq_percent": float(100.0 * hq.mean()),
            "kl": kl_to_uniform(counts, len(mu))}


def label_modes(labels, k: int) -> dict[str, float]:
    """Distinct labels and KL(p_gen ‖ uniform over k) for classifier labels of generated samples."""
    counts = np.bincount(np.asarray(labels, np.int64), minlength=k)
    return {"modes": float((counts > 0).sum()), "kl": kl_to_uniform(counts, k)}


UNCERTAIN = 0.9      # a channel digit read with top probability below this counts as uncertain


def channel_stats(joint_probs, k: int = 10) -> dict[str, float]:
    """From the classifier's joint probabilities over k^3 triples (n, k^3) of stacked samples: the sum of
    the three per-channel KLs to uniform over k (of the argmax digits) and the share (%) of channel
    digits read with top probability below UNCERTAIN. Ambiguous digits go to whichever class they
    half-resemble, so a high share inflates the KL without any mode being over-produced."""
    p = np.asarray(joint_probs, np.float64).reshape(-1, k, k, k)
    marg = [p.sum(axis=(2, 3)), p.sum(axis=(1, 3)), p.sum(axis=(1, 2))]            # R, G, B: (n, k) each
    ckl = sum(kl_to_uniform(np.bincount(m.argmax(1), minlength=k), k) for m in marg)
    conf = np.stack([m.max(1) for m in marg], 1)
    return {"channel_kl": float(ckl), "uncertain_pct": float(100.0 * (conf < UNCERTAIN).mean())}


@metric("modes", 0, True, "modes captured and KL(p_gen ‖ uniform) (mixtures: 2,500 samples; stacked-mnist: 26,000)",
        counted=False)
def modes(ctx, num: int) -> MetricResult:
    extra = ctx.info.get("extra", {}) or {}
    if "means" in extra:                     # a mixture (ring8, grid25): modes are its components
        num = num or 2_500
        fake = ctx.generate(num)
        means, sigma = np.asarray(extra["means"]), float(extra["sigma"])
        vals = mixture_modes(fake.x.numpy(), means, sigma)
        return MetricResult("modes", vals, "modes", True, {
            "generated": num, "conditions": ctx.conditions_text(), "seed": ctx.seed, "max_modes": len(means),
            "hq": f"within 3σ (σ = {sigma}) of the nearest mode",
            "kl": "reverse KL, KL(p_gen ‖ uniform), p_gen = histogram of HQ samples over the modes"})
    net = ctx.feature_net
    if net.num_classes < 2:
        raise MetricNotApplicable("modes needs a classifier for this data (labels) or mixture means")
    if isinstance(net, PerChannelFeatures):
        num = num or 26_000
        fake = ctx.fake(num)
        vals = label_modes(fake.predicted, net.num_classes)
        vals.update(channel_stats(fake.probs, net.base.num_classes))
        real = ctx.real(10_000, "train")                # fid10k's reference items: embedded once for both
        vals["uncertain_pct_real"] = channel_stats(real.probs, net.base.num_classes)["uncertain_pct"]
        return MetricResult("modes", vals, "modes", True, ctx.protocol(
            num, None, max_modes=net.num_classes, labelled_by="the MNIST classifier on each channel; mode = the triple",
            kl=f"KL(p_gen ‖ uniform over {net.num_classes})",
            channel_kl="Σ over R, G, B of KL(digit histogram of the channel ‖ uniform over 10); kl − channel_kl is "
                       "the dependence between channels",
            uncertain_pct=f"% of channel digits whose top class probability is below {UNCERTAIN}; "
                          "uncertain_pct_real: the same for 10,000 items of the real training split"))
    num = num or 10_000
    fake = ctx.fake(num)
    k = net.num_classes
    vals = label_modes(fake.predicted, k)
    train_labels = ctx.train.columns["label"].numpy() if "label" in ctx.train.columns else None
    if train_labels is not None:
        vals["kl_train"] = kl(np.bincount(fake.predicted, minlength=k), np.bincount(train_labels, minlength=k))
    return MetricResult("modes", vals, "modes", True, ctx.protocol(
        num, None, max_modes=k, labelled_by="the dataset's classifier",
        kl=f"KL(p_gen ‖ uniform over {k}); kl_train: KL(p_gen ‖ training label histogram)"))
