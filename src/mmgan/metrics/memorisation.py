"""Memorisation check of a synthetic set: how close each synthetic item lies to its nearest real training item.

A generator that copies its training data puts synthetic items at distance ~0 from a training item;
one that generalises puts them about as far from the training set as real images it never saw are.
So the report gives, per space (pixels, and the in-project feature network's features when given):

  synthetic_nn   nearest training neighbour distance of each synthetic item: mean, median, 5th percentile
  heldout_nn     the same for held-out real items (the reference; absent without a held-out set)
  copy_rate      fraction of synthetic items within `copy_tol` of a training item (pixels: RMS distance
                 in [-1, 1] units, so 0.02 is about 2.5 grey levels of 255 per pixel)
  ratio          median synthetic_nn / median heldout_nn: well below 1 means samples hug the training set
"""
from __future__ import annotations

import numpy as np
import torch

COPY_TOL = 0.02


def nearest_distances(queries: torch.Tensor, reference: torch.Tensor, batch: int = 512) -> torch.Tensor:
    """(n,) Euclidean distance of each query row to its nearest reference row, divided by sqrt(dim) (an RMS
    distance, comparable across image sizes). queries (n, ...) and reference (m, ...) are flattened."""
    q = queries.reshape(len(queries), -1).float()
    r = reference.reshape(len(reference), -1).float()
    out = [torch.cdist(q[i:i + batch], r).min(dim=1).values for i in range(0, len(q), batch)]
    return torch.cat(out) / q.shape[1] ** 0.5 if out else torch.zeros(0)


def _summary(d: torch.Tensor) -> dict:
    a = d.numpy()
    return {"mean": float(a.mean()), "median": float(np.median(a)), "p5": float(np.percentile(a, 5)),
            "min": float(a.min())}


def memorisation_report(synthetic: torch.Tensor, train: torch.Tensor, heldout: torch.Tensor | None = None,
                        features=None, copy_tol: float = COPY_TOL) -> dict:
    """{space: {synthetic_nn, heldout_nn, copy_rate, ratio, ...}} for "pixels" and, with a feature network
    (mmgan.metrics.features: anything with .features(x) -> (b, d)), "features". Images in [-1, 1]."""
    spaces = {"pixels": lambda x: x}
    if features is not None:
        spaces["features"] = lambda x: torch.cat([features.features(x[i:i + 256]).detach().float()
                                                  for i in range(0, len(x), 256)])
    report = {"n_synthetic": len(synthetic), "n_train": len(train),
              "n_heldout": 0 if heldout is None else len(heldout), "copy_tol_pixels": copy_tol}
    for name, f in spaces.items():
        with torch.no_grad():
            tr = f(train)
            syn = nearest_distances(f(synthetic), tr)
            entry = {"synthetic_nn": _summary(syn)}
            if heldout is not None and len(heldout):
                ho = nearest_distances(f(heldout), tr)
                entry["heldout_nn"] = _summary(ho)
                entry["ratio"] = entry["synthetic_nn"]["median"] / max(entry["heldout_nn"]["median"], 1e-12)
            if name == "pixels":
                entry["copy_rate"] = float((syn <= copy_tol).float().mean())
        report[name] = entry
    return report


def describe(report: dict) -> list[str]:
    """Human-readable lines of a memorisation_report."""
    lines = [f"memorisation check: {report['n_synthetic']} synthetic vs {report['n_train']} training images"
             + (f", {report['n_heldout']} held-out real as the reference" if report["n_heldout"] else
                " (no held-out split: no reference)")]
    for space in ("pixels", "features"):
        e = report.get(space)
        if not e:
            continue
        s = e["synthetic_nn"]
        line = f"  {space}: nearest training neighbour, synthetic median {s['median']:.4f} (p5 {s['p5']:.4f}, min {s['min']:.4f})"
        if "heldout_nn" in e:
            line += f"; held-out real median {e['heldout_nn']['median']:.4f} (ratio {e['ratio']:.2f})"
        if "copy_rate" in e:
            line += f"; exact-copy rate {100 * e['copy_rate']:.2f}% (RMS distance <= {report['copy_tol_pixels']})"
        lines.append(line)
    return lines
