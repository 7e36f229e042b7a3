"""R-precision in a joint embedding space (AttnGAN / DM-GAN protocol).

For each generated image, rank its true condition (caption or utterance) among 100 candidates — the
true one and 99 drawn from pool items of other classes / attribute sets — by cosine similarity in the
joint space; R-precision is the share of images whose true condition ranks first (strictly above
every mismatched candidate). Images are split into 10 folds; we report mean ± std over folds.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any, Sequence

import numpy as np

from ..embedding import normalize
from ..conditioning import load_embedder
from .base import MetricNotApplicable, MetricResult, metric


def _key(g: Any) -> Any:
    if g is None:
        return None
    a = np.asarray(g)
    return a.item() if a.ndim == 0 else tuple(a.reshape(-1).tolist())


def r_precision(embedder, images, conditions: Sequence[Any], pool: Sequence[Any], groups: Sequence[Any] | None = None,
                pool_groups: Sequence[Any] | None = None, modality: str = "text", num_candidates: int = 100,
                folds: int = 10, seed: int = 0) -> dict[str, float]:
    """R-precision of generated `images` against their `conditions` (captions, or audio for modality="audio").

    embedder     an mmgan.embedding.Embedder (embeds "image" and `modality`)
    images       (b, c, h, w) tensor in [-1, 1] (or whatever the embedder takes for "image")
    conditions   the b conditions the images were generated from
    pool         candidate conditions to draw mismatches from (e.g. the test split's captions)
    groups       class / attribute set of each condition; mismatches come from pool items of another
                 group (pool_groups gives the pool's). Without groups, from pool items that differ.
    Returns {"r_precision": mean over folds, "r_precision_std": std, "folds": folds, "candidates": ...}.
    """
    n = len(conditions)
    if n < folds:
        raise ValueError(f"r_precision needs at least {folds} images (one per fold), got {n}")
    if (groups is None) != (pool_groups is None):
        raise ValueError("give both groups and pool_groups, or neither")
    img = normalize(embedder.embed("image", images))
    cond = normalize(embedder.embed(modality, list(conditions)))
    pool_emb = normalize(embedder.embed(modality, list(pool)))
    rng = np.random.default_rng(seed)
    by_group: dict[Any, list[int]] = defaultdict(list)
    if groups is not None:
        for j, g in enumerate(pool_groups):
            by_group[_key(g)].append(j)
    all_idx = np.arange(len(pool))
    pool_str = [str(p) for p in pool]
    eligible_cache: dict[Any, np.ndarray] = {}
    hits = np.zeros(n, dtype=bool)
    k = num_candidates - 1
    for i in range(n):
        key = _key(groups[i]) if groups is not None else str(conditions[i])
        if key not in eligible_cache:
            if groups is not None:
                eligible_cache[key] = np.setdiff1d(all_idx, np.asarray(by_group.get(key, []), dtype=np.int64))
            else:
                eligible_cache[key] = np.array([j for j, p in enumerate(pool_str) if p != key], dtype=np.int64)
        eligible = eligible_cache[key]
        if len(eligible) == 0:
            raise ValueError(f"no mismatched candidates for condition {conditions[i]!r}: the pool holds only its group")
        cand = rng.choice(eligible, size=k, replace=len(eligible) < k)
        true_sim = float(img[i] @ cond[i])
        hits[i] = true_sim > float((pool_emb[cand] @ img[i]).max())
    order = rng.permutation(n)
    scores = np.array([hits[f].mean() for f in np.array_split(order, folds)])
    return {"r_precision": float(scores.mean()), "r_precision_std": float(scores.std()), "folds": folds,
            "candidates": num_candidates}


def _groups(ds, rows) -> list | None:
    if "attributes" in ds.columns:
        return [tuple(r) for r in ds.columns["attributes"][rows].tolist()]
    if "label" in ds.columns:
        return ds.columns["label"][rows].tolist()
    return None


@metric("rprec", 1_000, True, "R-precision of generated images vs their captions/utterances in the joint space",
        counted=False)
def rprec(ctx, num: int) -> MetricResult:
    mods = [m for m in ctx.modalities if m in ("text", "audio")]
    if not mods:
        raise MetricNotApplicable("rprec needs a model conditioned on text or audio")
    modality = mods[0]
    if ctx.embedder is None:
        if ctx.run_dir is None:
            raise MetricNotApplicable("rprec needs a joint embedding space (none given and no run folder)")
        try:
            ctx.embedder = load_embedder(ctx.run_dir)
        except Exception as e:  # the multimodal package may be absent, or the run has no joint space
            raise MetricNotApplicable(f"rprec: no joint embedding space for {ctx.run_dir} ({type(e).__name__}: {e})")
    fake = ctx.generate(num)
    train = ctx.train
    conditions = [train.columns[modality][int(i)] for i in fake.rows]
    pool_ds = ctx.test if (ctx.test is not None and modality in ctx.test.columns) else train
    pool = list(pool_ds.columns[modality])
    groups = _groups(train, fake.rows)
    pool_groups = _groups(pool_ds, np.arange(len(pool_ds))) if groups is not None else None
    vals = r_precision(ctx.embedder, fake.x, conditions, pool, groups, pool_groups, modality=modality, seed=ctx.seed)
    vals = {k: float(v) for k, v in vals.items()}
    return MetricResult("rprec", vals, "r_precision", True, {
        "generated": num, "conditions": ctx.conditions_text(), "seed": ctx.seed, "candidates": 100, "folds": 10,
        "pool": f"{modality} of the {pool_ds.info.name} {'test' if pool_ds is ctx.test else 'train'} split "
                f"({len(pool)} items); mismatches from other {'attribute sets' if 'attributes' in train.columns else 'classes'}",
        "embedder": getattr(ctx.embedder, "id", type(ctx.embedder).__name__)})
