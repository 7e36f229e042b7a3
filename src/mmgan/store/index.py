"""Put datasets and a run's generated samples into the store, in batches, idempotently.

    index_dataset(store, embedder, "shapes", split="test")           # real items
    index_run(store, embedder, "runs/00003-shapes", per_condition=8)  # synthetic items, with provenance
    store_outputs(store, embedder, pipe, result, seed=0)              # what `mmgan generate --store` drew

Every item's content (Item.content) is what the data or the run makes (the dataset's target column, the
run's codec): an image, a clip. Its file is the codec's stored file (Codec.store_asset, stored_file).

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
from .schema import Item, asset_slot, content_id, place_asset
from .store import DUP_THRESHOLD, AddReport, Store
from ..data import load_dataset
from ..data.base import MemoryDataset
from ..modalities import codec_of, target_of
from ..modalities.pixels import to_pil, to_uint8
from ..pipeline import Pipeline


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return ""


def _file_digest(path: str, row: int | None = None, source: str = "") -> str:
    """sha256 of a file; a missing or unreadable audio file names its dataset row."""
    if row is not None:
        _check_audio_file(path, row, source)
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _check_audio_file(path: str, row: int, source: str) -> None:
    import soundfile as sf

    where = f"{source} row {row}" if source else f"row {row}"
    if not Path(path).is_file():
        raise ValueError(f"{where}: audio file not found: {path}; nothing of this batch was stored")
    try:
        info = sf.info(str(path))
    except Exception as e:  # LibsndfileError, RuntimeError, ...
        raise ValueError(f"{where}: unreadable audio {path} ({type(e).__name__}: {e}); nothing of this batch "
                         f"was stored") from None
    if info.frames == 0:
        raise ValueError(f"{where}: empty audio (0 frames): {path}; nothing of this batch was stored")


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
                 _file_digest(str(cols["audio"][i]), int(i), f"dataset {ds.info.name!r}")
                 if "audio" in cols and cols["audio"][i] else None]
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
        try:
            vec["audio"] = _embed(embedder, "audio", [audios[j] for j in keep], len(keep))
        except ValueError as e:                         # AudioError: name the row, not only the file
            bad = next((idx[j] for j in keep if audios[j] in str(e)), None)
            raise ValueError(f"dataset {info.name!r}" + (f" row {bad}" if bad is not None else
                             f" rows {idx[keep[0]]}..{idx[keep[-1]]}") + f": {e}; nothing of this batch was stored") from e
    if not vec:
        raise ValueError(f"dataset {info.name!r} has columns {list(cols)}, none of which the embedder "
                         f"{embedder.id!r} embeds ({', '.join(embedder.modalities)})")
    names = list(info.attributes)
    content = target_of(ds) if target_of(ds) in vec else ""     # what a row is: the data's target column
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
        label = labels[j] if labels else -1
        match = float(vec["image"][r] @ vec["text"][r]) if "image" in vec and "text" in vec else None
        item = Item(
            id=iid, kind="real", vectors={m: v[r] for m, v in vec.items()}, caption=texts[j] if texts else "",
            label=label, class_name=info.class_names[label] if 0 <= label < len(info.class_names) else "",
            dataset=info.name, dataset_version=info.version, user=user, match_score=match,
            embedder=eid, extra=extra, files=files if store.assets is not None else {}, content=content)
        if store.assets is not None:                    # the store's layout (schema.place_asset), as for runs
            for slot, (_, ext) in files.items():
                place_asset(item, store.asset_rel(iid, ext), f"{slot}.{ext}")
        out.append(item)
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


def _media(codec, obj) -> bytes | None:
    """The one file of a codec's response for obj (a PNG, a WAV), as the server serves it."""
    return next((bytes(v) for v in codec.response(obj).values() if isinstance(v, (bytes, bytearray))), None)


def storable_codec(pipe, embedder: Embedder):
    """The run's codec, when the store can keep what it makes: the codec names a stored file and the embedder
    reads its modality (else a ValueError that says what to do)."""
    codec = codec_of(pipe)
    if codec.store_asset is None:
        raise ValueError(f"the store does not keep generated {codec.attribute} (the {codec.name} codec names no "
                         f"store_asset)")
    if codec.name not in embedder.modalities:
        raise ValueError(f"the store's embedder {embedder.id!r} embeds {', '.join(embedder.modalities)}, so it "
                         f"cannot index generated {codec.name}; use a joint space that embeds {codec.name} (for "
                         f"sound: `mmgan index` clips with captions into a new store first, which fits one)")
    return codec


def synthetic_items(store: Store, embedder: Embedder, pipe, objects: list, x: torch.Tensor, conditions: list[dict],
                    provenance: list[dict], model: str, version: str, step: int, user: str = "",
                    d_scores: Sequence | None = None) -> list[Item]:
    """Items for a run's generated objects (x: their batch in data units), the i-th made under conditions[i]
    ({"labels": 3}, {"text": "..."}) with provenance[i] (its seed, how to regenerate it). The content is what
    the run's codec makes, embedded as that modality; its file is the codec's stored file; a prompt is
    embedded as text too. Nothing is written here."""
    codec = storable_codec(pipe, embedder)
    n = len(objects)
    u8 = to_uint8(x).numpy()                            # what the id hashes (pixels, or the clip at 8 bits)
    vec = _embed(embedder, codec.name, objects, n)
    eid = embedder.id
    d_scores = list(d_scores) if d_scores is not None else [None] * n
    text_vec, label_vec = {}, {}
    for c in conditions:
        if c.get("text") and "text" in embedder.modalities and c["text"] not in text_vec:
            text_vec[c["text"]] = _embed(embedder, "text", [c["text"]], 1)[0]
        if "labels" in c and "label" in embedder.modalities and int(c["labels"]) not in label_vec:
            label_vec[int(c["labels"])] = _embed(embedder, "label", [int(c["labels"])], 1)[0]
    out = []
    for j, (obj, c, prov) in enumerate(zip(objects, conditions, provenance)):
        prompt = c.get("text", "")
        label = int(c["labels"]) if "labels" in c else -1
        cname = pipe.class_names[label] if 0 <= label < len(pipe.class_names) else ""
        cond_vec = text_vec.get(prompt) if prompt else label_vec.get(label)
        iid = content_id("synthetic", u8[j], model, version, step, c, prov.get("seed", -1),
                         *([prov["index"]] if "index" in prov else []))
        vectors = {codec.name: vec[j]}
        if prompt and cond_vec is not None:
            vectors["text"] = cond_vec
        words = codec.caption_of(obj)          # generated words (a caption, a transcript) are the item's caption
        item = Item(id=iid, kind="synthetic", vectors=vectors, caption=words or prompt or cname, label=label,
                    class_name=cname,
                    dataset=pipe.config["data"].get("name", ""), dataset_version=pipe.config["data"].get("version", ""),
                    model=model, model_version=version, step=step, seed=int(prov.get("seed", -1)), user=user,
                    d_score=d_scores[j], match_score=float(vec[j] @ cond_vec) if cond_vec is not None else None,
                    embedder=eid, conditions=c, extra={"regenerate": prov}, content=codec.name)
        if store.assets is not None:
            _, ext = asset_slot(codec.store_asset)
            place_asset(item, store.asset_rel(iid, ext), codec.store_asset)
            item.files = {codec.store_asset: (codec.stored_file(obj, _media(codec, obj)), ext)}
        out.append(item)
    return out


def index_run(store: Store, embedder: Embedder, run: str | Path, per_condition: int = 4, seed: int = 0,
              labels: Sequence | None = None, prompts: Sequence[str] | None = None, batch_size: int = 64,
              user: str | None = None, device: str = "cpu", on_duplicate: str = "skip",
              dup_threshold: float = DUP_THRESHOLD, progress: bool = True, pipe=None) -> AddReport:
    """Generate per_condition samples for each condition with the run's Pipeline and store them as
    synthetic items: model id, weights version, step, seed, conditions, scores and the codec's file
    (an image, a clip).

    Sample i of a condition has seed `seed + i`: pipe(<condition>, num_images=1, seed=seed + i)
    regenerates it exactly."""

    _check_embedder(embedder)
    if per_condition < 1:
        raise ValueError(f"per_condition must be at least 1, got {per_condition}")
    run = Path(run)
    pipe = pipe or Pipeline.from_pretrained(run, device=device)
    storable_codec(pipe, embedder)
    if not store.exists:
        store.create(embedder.dim, embedder.id)
    user = _user() if user is None else user
    model, step = str(run.resolve()), int(pipe.config.get("step", 0))
    version = weights_digest(getattr(pipe, "generator", None))    # the weights drawing these items, as the server records them
    D = _discriminator(run, pipe)
    conds = run_conditions(pipe, labels, prompts)
    zdim = int(pipe.model_config["z_dim"])
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
            x = out.tensor                                              # (b, ...) in data units
            inputs = pipe.conditioner.expand(len(seeds), **{k: ([v] * len(seeds) if k == "text" else v)
                                                             for k, v in c.items()})
            items += synthetic_items(store, embedder, pipe, pipe.codec.to_objects(x), x, [c] * len(seeds),
                                     [{"num_images": 1, "seed": s, **c} for s in seeds], model, version, step, user,
                                     _d_scores(D, pipe, x, inputs))
        report.merge(store.add(items, on_duplicate=on_duplicate, dup_threshold=dup_threshold))
        bar.update(len(part))
        bar.set_postfix(added=len(report.added), dup=len(report.duplicates))
    bar.close()
    return report


def store_outputs(store: Store, embedder: Embedder, pipe, result, run: str | Path, seed: int, user: str | None = None,
                  settings: dict | None = None) -> AddReport:
    """Store what one Pipeline call made (`mmgan generate RUN ... --store DIR`): each object with its
    provenance (run, weights, step, the call's seed and the sample's index in it, its condition, settings
    such as truncation) and its codec's file. Generated items are kept even when they look alike."""
    _check_embedder(embedder)
    storable_codec(pipe, embedder)
    if not store.exists:
        store.create(embedder.dim, embedder.id)
    objects, x = list(result.objects), result.tensor
    n = len(objects)
    if x is None or len(x) != n:
        raise ValueError("this pipeline output has no batch tensor of its objects; it cannot be stored")
    conds = []
    for i in range(n):                                  # the call's conditions, one per sample
        c = {}
        for k, v in (result.conditions or {}).items():
            v = v[i] if isinstance(v, list) and len(v) == n else v
            if k == "labels":
                c[k] = int(v[0] if isinstance(v, list) else v)
            elif k == "text" and v:
                c[k] = str(v)
            elif k == "source_names" and v:             # what a captioner / recogniser read: the input's name
                c["source"] = str(v)
        conds.append(c)
    prov = [{"num_images": n, "seed": int(seed), "index": i, **(settings or {}), **c} for i, c in enumerate(conds)]
    model, step = str(Path(run).resolve()), int(pipe.config.get("step", 0))
    version = weights_digest(getattr(pipe, "generator", None))
    items = synthetic_items(store, embedder, pipe, objects, x, conds, prov, model, version, step,
                            _user() if user is None else user)
    return store.add(items, on_duplicate="keep", dup_threshold=1.01)
