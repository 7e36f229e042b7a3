"""Put datasets and a run's generated samples into the store, in batches, idempotently.

    index_dataset(store, embedder, "shapes", split="test")           # real items
    index_run(store, embedder, "runs/00003-shapes", per_condition=8)  # synthetic items, with provenance

Ids are content hashes, so indexing the same items again writes nothing; after a kill, running the
same command again skips the batches that were committed (without embedding them again) and adds
the rest. Each batch is written in one insert, after its assets.
"""
from __future__ import annotations

import getpass
import hashlib
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from ..config import ModelConfig
from ..embedding import Embedder, normalize
from ..models import build_gan
from ..models.base import load_weights
from ..runs import resolve, weights_digest
from .schema import Item, content_id
from .store import DUP_THRESHOLD, AddReport, Store
from ..data import load_dataset
from ..data.base import MemoryDataset
from ..modalities import codec_of
from ..modalities.pixels import to_pil, to_uint8
from ..pipeline import Pipeline


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return ""


def _file_digest(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _check_embedder(embedder: Embedder) -> None:
    for attr in ("dim", "id", "modalities", "embed"):
        if not hasattr(embedder, attr):
            raise TypeError(f"{type(embedder).__name__} is not an Embedder: it has no {attr!r} "
                            f"(see mmgan.embedding.Embedder)")


def _embed(embedder: Embedder, modality: str, items: Any, n: int) -> np.ndarray:
    v = np.asarray(embedder.embed(modality, items), dtype=np.float32)
    if v.shape != (n, embedder.dim):
        raise ValueError(f"embedder {embedder.id!r} returned shape {v.shape} for {n} {modality} items; "
                         f"expected ({n}, {embedder.dim})")
    return normalize(v)


def embed_query(embedder: Embedder, text: str | None = None, image: Any = None, audio: Any = None) -> np.ndarray:
    """One query vector from any of text, an image (file path or PIL) and an audio file: the normalised
    mean of their embeddings."""
    _check_embedder(embedder)
    parts = []
    for modality, value in (("text", text), ("image", image), ("audio", audio)):
        if value is None:
            continue
        if modality not in embedder.modalities:
            raise ValueError(f"embedder {embedder.id!r} does not embed {modality}; it embeds "
                             f"{', '.join(embedder.modalities)}")
        if modality in ("image", "audio") and isinstance(value, (str, Path)) and not Path(value).exists():
            raise FileNotFoundError(f"no such {modality} file: {value}")
        parts.append(_embed(embedder, modality, [str(value) if isinstance(value, Path) else value], 1)[0])
    if not parts:
        raise ValueError("a query needs text, an image or an audio file")
    return normalize(np.mean(parts, axis=0))


def real_ids(ds, idx: Sequence[int]) -> list[str]:
    """Content ids of dataset rows: pixels (as bytes), caption, label and the audio file's bytes."""

    cols = ds.columns
    u8 = to_uint8(cols["image"][torch.as_tensor(list(idx))]).numpy() if "image" in cols else None
    ids = []
    for j, i in enumerate(idx):
        parts = [u8[j] if u8 is not None else None, str(cols["text"][i]) if "text" in cols else None,
                 int(cols["label"][i]) if "label" in cols else None,
                 _file_digest(str(cols["audio"][i])) if "audio" in cols and cols["audio"][i] else None]
        ids.append(content_id("real", *parts))
    return ids


def dataset_items(store: Store, embedder: Embedder, ds, idx: Sequence[int], user: str = "",
                  ids: list[str] | None = None, skip_ids: set | None = None) -> list[Item]:
    """Items for dataset rows idx: ids, embeddings, assets (written now) and metadata."""

    info = ds.info
    cols = ds.columns
    idx = list(idx)
    has_img = "image" in cols and "image" in embedder.modalities
    has_txt = "text" in cols and "text" in embedder.modalities
    has_aud = "audio" in cols and "audio" in embedder.modalities
    imgs = cols["image"][torch.as_tensor(idx)] if "image" in cols else None
    texts = [str(cols["text"][i]) for i in idx] if "text" in cols else None
    audios = [str(cols["audio"][i]) for i in idx] if "audio" in cols else None
    labels = [int(cols["label"][i]) for i in idx] if "label" in cols else None
    ids = real_ids(ds, idx) if ids is None else ids
    keep = [j for j, iid in enumerate(ids) if not (skip_ids and iid in skip_ids)]
    if not keep:
        return []
    vec: dict[str, np.ndarray] = {}
    if has_img:
        vec["image"] = _embed(embedder, "image", imgs[torch.as_tensor(keep)], len(keep))
    if has_txt:
        vec["text"] = _embed(embedder, "text", [texts[j] for j in keep], len(keep))
    if has_aud:
        vec["audio"] = _embed(embedder, "audio", [audios[j] for j in keep], len(keep))
    if not vec:
        raise ValueError(f"dataset {info.name!r} has columns {list(cols)}, none of which the embedder "
                         f"{embedder.id!r} embeds ({', '.join(embedder.modalities)})")
    names = list(info.attributes)
    eid = embedder.id                                   # may hash the weights: once per batch
    out = []
    for r, j in enumerate(keep):
        iid, i = ids[j], idx[j]
        extra: dict[str, Any] = {"index": int(i)}
        if "attributes" in cols and names:
            a = cols["attributes"][i].tolist()
            extra["attributes"] = {n: info.attributes[n][v] for n, v in zip(names, a)}
        files = {}
        if imgs is not None:
            files["image"] = (to_pil(imgs[j]), "png")
        if audios and audios[j]:
            extra["audio"] = audios[j]
            files["audio"] = (audios[j], Path(audios[j]).suffix.lstrip(".") or "wav")
        asset = store.asset_rel(iid, "png") if imgs is not None and store.assets is not None else ""
        if "audio" in files and store.assets is not None:
            extra["audio_asset"] = store.asset_rel(iid, files["audio"][1])
        label = labels[j] if labels else -1
        match = float(vec["image"][r] @ vec["text"][r]) if "image" in vec and "text" in vec else None
        out.append(Item(
            id=iid, kind="real", vectors={m: v[r] for m, v in vec.items()}, caption=texts[j] if texts else "",
            label=label, class_name=info.class_names[label] if 0 <= label < len(info.class_names) else "",
            dataset=info.name, dataset_version=info.version, user=user, match_score=match, asset=asset,
            embedder=eid, extra=extra, files=files if store.assets is not None else {}))
    return out


def _progress(total: int, desc: str, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="item", disable=not enabled, dynamic_ncols=True)


def index_dataset(store: Store, embedder: Embedder, data, split: str = "train", n: int = 0, seed: int = 0,
                  batch_size: int = 256, user: str | None = None, on_duplicate: str = "keep",
                  dup_threshold: float = DUP_THRESHOLD, progress: bool = True, on_batch=None) -> AddReport:
    """Index a dataset (a built-in name, a path, or a MemoryDataset) as real items.

    on_batch(report) is called after each committed batch with that batch's AddReport.
    Near-duplicates are reported and kept by default: real items are not dropped unless asked."""

    _check_embedder(embedder)
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    ds = data if isinstance(data, MemoryDataset) else load_dataset(str(data), split=split, n=n, seed=seed)
    if not any(c in ds.columns for c in ("image", "text", "audio")):
        raise ValueError(f"dataset {ds.info.name!r} has no image, text or audio to embed (columns: {list(ds.columns)})")
    if not store.exists:
        store.create(embedder.dim, embedder.id)
    user = _user() if user is None else user
    report = AddReport()
    bar = _progress(len(ds), f"index {ds.info.name}", progress)
    for start in range(0, len(ds), batch_size):
        idx = list(range(start, min(len(ds), start + batch_size)))
        ids = real_ids(ds, idx)
        stored = {it.id for it in store.get(ids)}            # a resumed run skips these without embedding
        items = dataset_items(store, embedder, ds, idx, user, ids=ids, skip_ids=stored)
        rep = store.add(items, on_duplicate=on_duplicate, dup_threshold=dup_threshold)
        rep.existing += sorted(stored)
        report.merge(rep)
        if on_batch is not None:
            on_batch(rep)
        bar.update(len(idx))
        bar.set_postfix(added=len(report.added), dup=len(report.duplicates))
    bar.close()
    return report


# ---- runs -------------------------------------------------------------------------------------------
def _discriminator(run: Path, pipe):
    """The run's discriminator (its checkpoint's D), for d_score; None when there is none."""
    try:
        d_file = resolve(run).file("D.safetensors")
    except (FileNotFoundError, ValueError):
        return None
    if d_file is None:
        return None
    try:
        cfg = ModelConfig(**pipe.config["model"])
        cfg.cond_dim = pipe.conditioner.cond_dim
        _, D = build_gan(cfg, with_discriminator=True)
        load_weights(D, d_file)
        return D.eval().to(pipe.device)
    except Exception:                                   # a score is a nicety; never block indexing on it
        return None


@torch.no_grad()
def _d_scores(D, pipe, x: torch.Tensor, inputs: dict) -> list:
    if D is None:
        return [None] * len(x)
    try:
        cond = pipe.conditioner(**{k: (v.to(pipe.device) if torch.is_tensor(v) else v) for k, v in inputs.items()}) \
            if pipe.modalities else None
        out = D(x.to(pipe.device), cond.vec if cond is not None else None)
        out = out.reshape(out.shape[0], -1)[:, 0].float().cpu()
        if out.shape[0] != len(x):                      # PacGAN packs samples: no per-sample score
            return [None] * len(x)
        return [float(v) for v in out]
    except Exception:
        return [None] * len(x)


def run_conditions(pipe, labels: Sequence | None = None, prompts: Sequence[str] | None = None,
                   max_prompts: int = 16) -> list[dict]:
    """The conditions to sample a run at: given labels/prompts, else every class and some dataset captions."""
    mods = pipe.modalities
    if not mods:
        return [{}]
    conds: list[dict] = []
    if "label" in mods:
        labs = list(labels) if labels else list(range(len(pipe.class_names) or pipe.conditioner.num_classes))
        conds = [{"labels": pipe.label_index(l)} for l in labs]
    if "text" in mods:
        if not prompts:

            name = pipe.config["data"].get("name")
            try:
                ds = load_dataset(name, split="test", n=max_prompts * 4)
                prompts = list(dict.fromkeys(ds.columns.get("text", [])))[:max_prompts]
            except Exception as e:
                raise ValueError(f"this run is conditioned on text; pass prompts (--prompt) "
                                 f"(could not take captions from its dataset {name!r}: {e})") from e
        tconds = [{"text": p} for p in prompts]
        conds = [{**c, **t} for c in (conds or [{}]) for t in tconds] if "label" in mods else tconds
    if not conds:
        raise ValueError(f"this run is conditioned on {mods}; index it with labels or prompts")
    return conds


def index_run(store: Store, embedder: Embedder, run: str | Path, per_condition: int = 4, seed: int = 0,
              labels: Sequence | None = None, prompts: Sequence[str] | None = None, batch_size: int = 64,
              user: str | None = None, device: str = "cpu", on_duplicate: str = "skip",
              dup_threshold: float = DUP_THRESHOLD, progress: bool = True, pipe=None) -> AddReport:
    """Generate per_condition samples for each condition with the run's Pipeline and store them as
    synthetic items: model id, weights version, step, seed, conditions, scores and the image asset.

    Sample i of a condition has seed `seed + i`: pipe(<condition>, num_images=1, seed=seed + i)
    regenerates it exactly."""

    _check_embedder(embedder)
    if per_condition < 1:
        raise ValueError(f"per_condition must be at least 1, got {per_condition}")
    run = Path(run)
    pipe = pipe or Pipeline.from_pretrained(run, device=device)
    codec = codec_of(pipe)
    if codec.name != "image":         # this indexer draws, scores and embeds pictures
        raise ValueError(f"run {run} generates {codec.attribute}, not images; `mmgan index` indexes image runs "
                         f"(the server stores generated sounds: mmgan serve RUN --store DIR --embedder JOINT)")
    if not store.exists:
        store.create(embedder.dim, embedder.id)
    user = _user() if user is None else user
    model, step = str(run.resolve()), int(pipe.config.get("step", 0))
    version = weights_digest(getattr(pipe, "generator", None))    # the weights drawing these items, as the server records them
    D = _discriminator(run, pipe)
    conds = run_conditions(pipe, labels, prompts)
    zdim = int(pipe.model_config["z_dim"])
    eid = embedder.id
    jobs = [(c, seed + i) for c in conds for i in range(per_condition)]
    report = AddReport()
    bar = _progress(len(jobs), f"index {run.name}", progress)
    for start in range(0, len(jobs), batch_size):
        part = jobs[start:start + batch_size]
        items = []
        for c in {id(c): c for c, _ in part}.values():     # one pipeline call per condition in this batch
            seeds = [s for cc, s in part if cc is c]
            z = torch.cat([torch.randn(1, zdim, generator=torch.Generator().manual_seed(s)) for s in seeds])
            out = pipe(num_images=len(seeds), z=z, output_type="tensor",
                       **({"labels": c["labels"]} if "labels" in c else {}),
                       **({"text": [c["text"]] * len(seeds)} if "text" in c else {}))
            x = out.tensor                                              # (b, c, h, w) in [-1, 1]
            inputs = pipe.conditioner.expand(len(seeds), **{k: ([v] * len(seeds) if k == "text" else v)
                                                             for k, v in c.items()})
            dsc = _d_scores(D, pipe, x, inputs)
            u8 = to_uint8(x).numpy()
            img_vec = _embed(embedder, "image", x, len(seeds))
            prompt = c.get("text", "")
            label = int(c["labels"]) if "labels" in c else -1
            cname = pipe.class_names[label] if 0 <= label < len(pipe.class_names) else ""
            cond_vec = None
            if prompt and "text" in embedder.modalities:
                cond_vec = _embed(embedder, "text", [prompt], 1)[0]
            elif label >= 0 and "label" in embedder.modalities:
                cond_vec = _embed(embedder, "label", [label], 1)[0]
            for j, s in enumerate(seeds):
                iid = content_id("synthetic", u8[j], model, version, step, c, s)
                vectors = {"image": img_vec[j]}
                if prompt and cond_vec is not None:
                    vectors["text"] = cond_vec
                items.append(Item(
                    id=iid, kind="synthetic", vectors=vectors, caption=prompt or cname, label=label,
                    class_name=cname, dataset=pipe.config["data"].get("name", ""),
                    dataset_version=pipe.config["data"].get("version", ""), model=model, model_version=version,
                    step=step, seed=s, user=user, d_score=dsc[j],
                    match_score=float(img_vec[j] @ cond_vec) if cond_vec is not None else None,
                    asset=store.asset_rel(iid, "png") if store.assets is not None else "",
                    files={"image": (to_pil(x[j]), "png")} if store.assets is not None else {},
                    embedder=eid, conditions=c,
                    extra={"regenerate": {"num_images": 1, "seed": s, **c}}))
        report.merge(store.add(items, on_duplicate=on_duplicate, dup_threshold=dup_threshold))
        bar.update(len(part))
        bar.set_postfix(added=len(report.added), dup=len(report.duplicates))
    bar.close()
    return report
