"""Measurements in the joint space: cross-modal retrieval, R-precision, embedding arithmetic.

A retrieved item counts as a hit when it shares the query's description group (same attributes on
`shapes`, else the same caption): a caption fits many images, which differ only in details it does
not mention (jitter, rotation, background).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch


def _t(x) -> torch.Tensor:
    return x.float() if torch.is_tensor(x) else torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))


def recall_at_k(query: np.ndarray, gallery: np.ndarray, query_groups: Sequence[int], gallery_groups: Sequence[int],
                ks: Sequence[int] = (1, 5, 10)) -> dict[str, float]:
    """Recall@k: share of queries with a same-group gallery item among their k nearest (cosine)."""
    sims = _t(query) @ _t(gallery).t()
    top = sims.topk(min(max(ks), sims.shape[1]), dim=1).indices                   # (q, kmax)
    hit = torch.as_tensor(np.asarray(gallery_groups))[top] == torch.as_tensor(np.asarray(query_groups))[:, None]
    return {f"R@{k}": float(hit[:, :k].any(1).float().mean()) for k in ks}


def r_precision(image_emb: np.ndarray, text_emb: np.ndarray, groups: Sequence[int], candidates: int = 100,
                folds: int = 10, seed: int = 0) -> dict[str, float]:
    """R-precision (AttnGAN / DM-GAN protocol): for each image, rank its true caption among `candidates`
    captions (true + others drawn from items of other groups) by cosine similarity; share ranked first,
    mean and std over `folds` folds of the images."""
    rng = np.random.default_rng(seed)
    groups = np.asarray(groups)
    img, txt = _t(image_emb), _t(text_emb)
    n = len(groups)
    order = rng.permutation(n)
    scores = []
    for fold in np.array_split(order, folds):
        hits = []
        for i in fold:
            others = np.flatnonzero(groups != groups[i])
            pick = rng.choice(others, size=min(candidates - 1, len(others)), replace=False)
            cand = torch.cat([txt[i : i + 1], txt[pick]])
            hits.append(bool((cand @ img[i]).argmax() == 0))
        scores.append(float(np.mean(hits)))
    return {"mean": float(np.mean(scores)), "std": float(np.std(scores)), "folds": folds, "candidates": candidates}


def arithmetic_trials(space, images: torch.Tensor, attributes: torch.Tensor, names: dict[str, list[str]],
                      attribute: str = "color", trials: int = 200, seed: int = 0,
                      word: str = "{value}", examples: int = 5) -> dict:
    """image(x) - text(x's value) + text(another value), nearest other image in the gallery.

    Correct (as in "a red circle - red + blue lands on blue circles") when the nearest image has the new
    value and the same shape; `strict` also asks the other attributes to stay.
    """
    keys = list(names)
    a = keys.index(attribute)
    s = keys.index("shape") if "shape" in keys else None
    rng = np.random.default_rng(seed)
    gallery = torch.as_tensor(space.embed("image", images))
    words = {v: torch.as_tensor(space.embed("text", [word.format(value=v)]))[0] for v in names[attribute]}
    ok, strict, shown = 0, 0, []
    for t in range(trials):
        i = int(rng.integers(len(images)))
        old = names[attribute][int(attributes[i, a])]
        new = names[attribute][int(rng.choice([j for j in range(len(names[attribute])) if names[attribute][j] != old]))]
        q = gallery[i] - words[old] + words[new]
        q = q / q.norm()
        sims = gallery @ q
        sims[i] = -2
        j = int(sims.argmax())
        got = attributes[j]
        want = attributes[i].clone()
        want[a] = names[attribute].index(new)
        good = bool(got[a] == want[a]) and (s is None or bool(got[s] == want[s]))
        ok += good
        strict += bool((got == want).all())
        if t < examples:
            shown.append({"source": i, "minus": old, "plus": new, "nearest": j,
                             "nearest_attributes": {k: names[k][int(v)] for k, v in zip(keys, got)}, "correct": good})
    return {"accuracy": ok / trials, "strict": strict / trials, "trials": trials, "attribute": attribute,
            "examples": shown}
