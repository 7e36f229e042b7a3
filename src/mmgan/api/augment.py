"""augment(): a labelled synthetic training set from a label-conditioned run, what `mmgan augment` calls.

DIR/manifest.jsonl has one row per synthetic image: image (a PNG under DIR/images), label (a class
index; DIR/dataset.json holds the class names) and provenance {run, weights, step, seed, draw, position,
index, truncation, drs}: each class is one Pipeline call, so
`Pipeline.from_pretrained(run)(labels=[label] * draw, num_images=draw, seed=seed).tensor[position]`
redraws the row's image (the weights digest, mmgan.runs.weights_digest, names the same generator
wherever it is copied); index is the row's place in the manifest.
`mmgan train --data DIR` reads the folder like any other manifest (provenance is kept out of training).
"""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import torch

from ..data import DataError, load_dataset
from ..metrics.features import feature_network_for
from ..metrics.memorisation import memorisation_report
from ..modalities.pixels import to_pil
from ..pipeline import Pipeline
from ..runs import resolve, weights_digest
from ..utils import atomic_write_text


def parse_classes(spec, pipe: Pipeline) -> list[int]:
    """'3,5' / 'three,five' / [3, 'five'] -> class indices of the run, or a ValueError naming the valid ones."""
    items = [s.strip() for s in spec.split(",")] if isinstance(spec, str) else list(spec)
    n = int(pipe.config["data"].get("num_classes") or len(pipe.class_names))
    valid = ", ".join(pipe.class_names) or f"0..{n - 1}"
    out = []
    for it in items:
        if it == "":
            continue
        try:
            k = pipe.label_index(it)
        except ValueError:
            raise ValueError(f"unknown class {it!r}; the run's classes: {valid}") from None
        if not 0 <= k < n:
            raise ValueError(f"unknown class {it!r}; the run's classes: {valid}")
        out.append(k)
    if not out:
        raise ValueError(f"no classes given; the run's classes: {valid}")
    return list(dict.fromkeys(out))


def balance_counts(data, pipe: Pipeline) -> dict[int, int]:
    """{class index of the run: images to add} so that every class of `data` (a manifest, folder or
    built-in name, or a loaded dataset) reaches its largest class's count."""
    ds = load_dataset(data) if isinstance(data, (str, Path)) else data
    if "label" not in ds.columns:
        raise DataError(f"--balance {data}: the data has no labels to balance")
    names = list(ds.info.class_names or [])
    counts = Counter(int(y) for y in ds.columns["label"].tolist())
    n_run = int(pipe.config["data"].get("num_classes") or len(pipe.class_names))
    top = max(counts.values())
    need = {}
    for k in range(len(names) or n_run):
        name = names[k] if names else str(k)
        try:
            idx = pipe.label_index(name) if names and pipe.class_names else k
        except ValueError:
            raise ValueError(f"--balance: class {name!r} of the data is not a class of the run "
                             f"({', '.join(pipe.class_names)})") from None
        if top - counts.get(k, 0) > 0:
            need[idx] = top - counts.get(k, 0)
    return need


def _real_images(ref, pipe: Pipeline, data, split: str) -> torch.Tensor | None:
    spec = data or (ref.meta or {}).get("config", {}).get("data", {}).get("name") or pipe.config["data"].get("name")
    res = int(pipe.config["data"]["shape"][-1])
    try:
        ds = load_dataset(str(spec), split=split, resolution=res)
    except (DataError, FileNotFoundError, ValueError):
        return None
    return ds if "image" in ds.columns else None


def augment(run: str | Path, out: str | Path, per_class: int = 0, classes=None, balance=None, seed: int = 0,
            device: str = "auto", data: str | None = None, features: bool = True, truncation: float = 1.0,
            pipe: Pipeline | None = None, log=print) -> dict:
    """Write a labelled synthetic set to out (see the module docstring); returns {manifest, counts,
    memorisation}. per_class images of each of `classes` (default: all the run's classes); balance: data
    whose classes are topped up to its largest class instead. The memorisation check compares the set
    with the run's training data (`data` when it has moved): nearest real neighbour distances in pixels
    and, with features=True, in the in-project feature network's space (mmgan.metrics.memorisation)."""
    ref = resolve(run)
    pipe = pipe or Pipeline.from_pretrained(run, device=device)
    if "label" not in pipe.modalities:
        raise ValueError(f"{run} is not conditioned on labels (its conditions: {', '.join(pipe.modalities) or 'none'}); "
                         f"`mmgan augment` needs a label-conditioned run, e.g. mmgan train --data DIR --set condition=[label]")
    if not pipe.codec.is_image:
        raise ValueError(f"{run} generates {pipe.target}, not images; `mmgan augment` writes image sets")
    if balance is not None:
        if classes is not None:
            raise ValueError("give --classes or --balance, not both (--balance picks the classes that need images)")
        counts = balance_counts(balance, pipe)
    else:
        if per_class < 1:
            raise ValueError(f"--per-class must be at least 1, got {per_class}")
        n = int(pipe.config["data"].get("num_classes") or len(pipe.class_names))
        ks = parse_classes(classes, pipe) if classes is not None else list(range(n))
        counts = {k: per_class for k in ks}
    out = Path(out)
    (out / "images").mkdir(parents=True, exist_ok=True)
    digest = weights_digest(ref)
    step = int(ref.config.get("step", 0))
    run_name = str(run)
    rows, tensors, first = [], [], seed
    for k, n in sorted(counts.items()):
        # one call per class; the next class's seed is past this one's count, so classes never share a seed
        res = pipe(labels=[k] * n, num_images=n, seed=first, truncation=truncation, output_type="pt")
        for i in range(n):
            name = f"images/{k:03d}-{i:06d}.png"
            to_pil(res.tensor[i]).save(out / name)
            rows.append({"image": name, "label": k,
                         "provenance": {"run": run_name, "weights": digest, "step": step, "seed": first,
                                        "draw": n, "position": i, "index": len(rows), "truncation": truncation, "drs": bool(res.drs)}})
        tensors.append(res.tensor.float().cpu())
        first += n
    info = {"name": f"augment-{pipe.config['data'].get('name', 'data')}", "kind": "image",
            "class_names": pipe.class_names, "format": "mmgan-manifest/1",
            "extra": {"synthetic": {"run": run_name, "weights": digest, "step": step, "seed": seed}}}
    atomic_write_text(out / "dataset.json", json.dumps(info, indent=2, ensure_ascii=False) + "\n")
    atomic_write_text(out / "manifest.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    report = {"manifest": str(out / "manifest.jsonl"), "counts": {str(k): v for k, v in sorted(counts.items())}}
    train_ds = _real_images(ref, pipe, data, "train")
    if train_ds is None or not rows:
        report["memorisation"] = None
        log("memorisation check skipped: the run's training data could not be loaded (pass data=...)")
        return report
    test_ds = _real_images(ref, pipe, data, "test")
    heldout = test_ds.columns["image"] if test_ds is not None and test_ds.info.version != train_ds.info.version else None
    synth = 1.0 * torch.cat(tensors).to(train_ds.columns["image"].dtype)
    net = feature_network_for(train_ds, None, log=log) if features and "label" in train_ds.columns else None
    report["memorisation"] = memorisation_report(synth, train_ds.columns["image"], heldout, net)
    atomic_write_text(out / "memorisation.json", json.dumps(report["memorisation"], indent=2) + "\n")
    return report
