"""Served models: each named run gets its Pipeline and its MicroBatcher; a batch of generate jobs becomes one
Pipeline call, what its target's codec answers for each object (a PNG, a WAV, a vector), and one write of all
its items to the store.

Seeds make batching invisible: each job's latents are drawn from its own seed exactly as
`Pipeline.__call__(num_images=n, seed=s)` draws them, so an object is the same whether it was generated
alone or beside other requests, and its provenance (run, step, seed, n, index, conditions) regenerates it.
"""
from __future__ import annotations

import hashlib
import secrets
import time
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from .. import __version__
from ..modalities import Codec, codec_of
from ..runs import weights_digest
from ..store.schema import content_id as store_content_id
from .batching import MicroBatcher
from .items import ItemStore, NewItem, audio_sample_rate


class StoreWriteError(RuntimeError):
    """The items were generated but the store failed to keep them (answered 503)."""


@dataclass
class GenerateJob:
    n: int
    seed: int
    truncation: float = 1.0
    label: int | None = None
    text: str | None = None
    audio: np.ndarray | None = None
    image: Any = None                        # PIL image
    audio_sha256: str | None = None
    image_sha256: str | None = None
    mask: Any = None                         # PIL image: a restoration model's holes (white = hole)
    mask_sha256: str | None = None
    voice: np.ndarray | None = None          # a reference recording (a voice condition), at voice_sample_rate
    voice_sha256: str | None = None
    store: ItemStore | None = None           # where to write the items (None = do not store)
    requested_by: str | None = None
    options: dict = field(default_factory=dict)   # the generator's call options (a captioner's decode, ...)

    def group(self) -> tuple:
        """Jobs conditioned on the same set of modalities (and truncation and options) can share a Pipeline call."""
        return (self.label is not None, self.text is not None, self.audio is not None, self.image is not None,
                self.mask is not None, self.voice is not None, self.truncation, tuple(sorted(self.options.items())))


@dataclass
class GeneratedItem:
    """One generated object as the service answers it: `media`, the file its codec serves it as (the codec's
    media_type: PNG, WAV; None for codecs that answer in fields only) and `fields`, the rest of the codec's
    response ({"vector": [...]}, {"seconds": 0.5, "sample_rate": 16000}, {})."""
    index: int
    seed: int
    media: bytes | None = None
    fields: dict = field(default_factory=dict)
    id: str | None = None
    provenance: dict = field(default_factory=dict)
    pending: tuple | None = field(default=None, repr=False)     # (store, NewItem) until the store has it


def split_response(response: dict) -> tuple[bytes | None, dict]:
    """A codec's response ({"png": b"..."}, {"wav": b"...", "seconds": 0.5, ...}) -> (its one file, the other
    fields)."""
    files = [k for k, v in response.items() if isinstance(v, (bytes, bytearray))]
    if len(files) > 1:
        raise TypeError(f"a codec's response holds at most one file, got {', '.join(files)}")
    media = bytes(response[files[0]]) if files else None
    return media, {k: v for k, v in response.items() if k not in files}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def random_seed() -> int:
    return secrets.randbelow(2**31)


class ServedModel:
    """One named run: its Pipeline, where it came from, and its batcher."""

    def __init__(self, name: str, pipe, source: str = "", on_generated: Callable[[str, int], None] | None = None):
        self.name, self.pipe, self.source = name, pipe, str(source)
        self.on_generated = on_generated
        self.version = weights_digest(getattr(pipe, "generator", None))   # mmgan.runs: as `mmgan index` records it
        self.codec: Codec = codec_of(pipe)       # the target's: what an item carries, whether the store keeps it
        self.batcher: MicroBatcher | None = None
        self.loaded_at = time.time()

    # ---- description -----------------------------------------------------------------------------------
    @property
    def config(self) -> dict:
        return getattr(self.pipe, "config", {}) or {}

    def info(self) -> dict:
        cfg = self.config
        model = cfg.get("model", {})
        data = cfg.get("data", {})
        return {
            "name": self.name,
            "modalities": list(self.pipe.modalities),
            "class_names": list(self.pipe.class_names),
            "target": self.codec.name,
            "is_image": self.codec.is_image,
            "family": model.get("family"),
            "resolution": model.get("resolution") or (data.get("shape") or [0, 0, 0])[-1],
            "channels": model.get("channels"),
            "data": data.get("name"),
            "step": cfg.get("step"),
            "source": Path(self.source).name if self.source else "",
            "reads": self.reads,                     # the modality a captioner / recogniser reads raw, else None
            "transcribes": bool(getattr(getattr(self.pipe, "generator", None), "transcribes", False)),
        }

    @property
    def voice_sample_rate(self) -> int:
        """The rate a voice condition's speaker encoder reads uploads at (16 kHz when the model has none)."""
        enc = getattr(getattr(self.pipe, "conditioner", None), "encoder", None)
        return int(getattr(enc, "sample_rate", 16000))

    @property
    def audio_sample_rate(self) -> int:
        return audio_sample_rate(getattr(getattr(self.pipe, "conditioner", None), "joint", None),
                                 self.config.get("data", {}).get("extra", {}).get("sample_rate"))

    def store_refusal(self, store: ItemStore, text: str | None = None) -> str | None:
        """Why `store` cannot keep what this model makes for a request (None when it can). The store finds items
        by their embeddings, so its embedder must read the generated modality or the request's prompt. Codecs
        the store never keeps (no store_asset: vectors) answer None too; their requests are simply not stored."""
        if self.codec.store_asset is None:
            return None
        reads = tuple(getattr(store.embedder, "modalities", ()))
        if self.codec.name in reads or (text and "text" in reads):
            return None
        unless = " without a prompt" if "text" in reads and "text" in self.pipe.modalities else ""
        return (f"not stored: the store's embedder ({getattr(store.embedder, 'id', '?')}) embeds "
                f"{', '.join(reads) or 'nothing'}, so it cannot index generated {self.codec.name}{unless}; serve "
                f"with --embedder RUN/joint (a joint space that embeds {self.codec.name}) to store them")

    @property
    def z_dim(self) -> int:
        return int(self.config.get("model", {}).get("z_dim", 0))

    # ---- lifecycle ---------------------------------------------------------------------------------------
    async def start(self, max_batch: int, max_wait_ms: float, executor: Executor | None, metrics=None,
                    store_executor: Executor | None = None) -> None:
        on_batch = on_queue = None
        if metrics is not None:
            on_batch = lambda units, _s: metrics.batch.observe(self.name, value=units)  # noqa: E731
            on_queue = lambda units: metrics.queue.set(self.name, value=units)          # noqa: E731
        self.batcher = MicroBatcher(self.generate_batch, max_batch=max_batch, max_wait_ms=max_wait_ms,
                                    executor=executor, size=lambda job: job.n, group=lambda job: job.group(),
                                    on_batch=on_batch, on_queue=on_queue, finish=self.store_batch,
                                    finish_executor=store_executor)
        await self.batcher.start()

    async def stop(self) -> None:
        if self.batcher is not None:
            await self.batcher.stop()

    async def generate(self, job: GenerateJob) -> list[GeneratedItem]:
        return await self.batcher.submit(job)

    # ---- a batch of jobs: one model call (model thread), then one store write (store thread) -------------
    def run_batch(self, jobs: list[GenerateJob]) -> list[list[GeneratedItem]]:
        """Both stages in this thread (what the batcher does in two, overlapping the next model call)."""
        return self.store_batch(jobs, self.generate_batch(jobs))

    def store_batch(self, jobs: list[GenerateJob], results: list[list[GeneratedItem]]) -> list[list[GeneratedItem]]:
        """Write the batch's items, one add() per store; the ids are known already (content-addressed)."""
        writes: dict[int, tuple[ItemStore, list[NewItem]]] = {}
        for g in (g for r in results for g in r if g.pending is not None):
            store, item = g.pending
            writes.setdefault(id(store), (store, []))[1].append(item)
            g.pending = None
        for store, items in writes.values():
            try:
                store.add(items)
            except Exception as e:
                raise StoreWriteError(f"the store could not write {len(items)} generated items "
                                      f"({type(e).__name__}: {e})") from e
        return results

    @property
    def reads(self) -> str | None:
        """The modality the model reads raw (a captioner: image), whose items each give n samples; else None."""
        return (getattr(getattr(self.pipe, "conditioner", None), "source", None) or {}).get("modality")

    def _call(self, jobs: list[GenerateJob]) -> list:
        """One Pipeline call for the batch -> its objects, job after job. A model that reads its source raw makes
        n samples of each item it is given, so each job gives its item once (Pipeline: n per source item)."""
        total = sum(j.n for j in jobs)
        first = jobs[0]
        in_w = getattr(getattr(self.pipe, "generator", None), "truncation_in_w", False)   # style-based: the
        scale = lambda j: 1.0 if in_w else j.truncation        # noqa: E731  Pipeline truncates w itself
        z = torch.cat([_latents(j.n, self.z_dim, j.seed, scale(j)) for j in jobs]) if self.z_dim else None
        if self.reads is not None:
            if len({j.n for j in jobs}) > 1:             # n per item is one number per call
                return [o for j in jobs for o in self._call([j])]
            per = lambda j: [j]                          # noqa: E731  each item once
        else:
            per = lambda j: [j] * j.n                    # noqa: E731  each sample its own copy of the condition
        kwargs: dict[str, Any] = {"truncation": first.truncation} if first.truncation != 1.0 else {}
        for key, attr in (("labels", "label"), ("text", "text"), ("audio", "audio"), ("image", "image"),
                          ("mask", "mask"), ("voice", "voice")):
            if getattr(first, attr) is not None:
                kwargs[key] = [getattr(k, attr) for j in jobs for k in per(j)]
        if first.options:
            kwargs["options"] = dict(first.options)
        n = first.n if self.reads is not None else total
        out = self.pipe(num_images=n, z=z, **kwargs)
        return getattr(out, self.codec.attribute)          # the target's objects: images, sounds, vectors, text

    def generate_batch(self, jobs: list[GenerateJob]) -> list[list[GeneratedItem]]:
        total = sum(j.n for j in jobs)
        objects = self._call(jobs)
        results: list[list[GeneratedItem]] = []
        at = 0
        for job in jobs:
            mine = []
            for i in range(job.n):
                obj = objects[at + i]
                media, fields = split_response(self.codec.response(obj))
                g = GeneratedItem(index=i, seed=job.seed, media=media, fields=fields,
                                  provenance=self._provenance(job, i))
                if job.store is not None and self.codec.store_asset is not None:
                    g.id = content_id("synthetic", np.asarray(obj), self.name, self.version,
                                      {k: v for k, v in g.provenance.items() if k not in ("requested_by", "created")})
                    words = self.codec.caption_of(obj)        # generated words (captions) are the item's caption
                    g.pending = (job.store, NewItem(
                        id=g.id, metadata=self._metadata(job, words), provenance=g.provenance,
                        conditions=dict(g.provenance["conditions"]),
                        assets={self.codec.store_asset: self.codec.stored_file(obj, media)},
                        embed={self.codec.name: obj}, text=words or job.text))
                mine.append(g)
            at += job.n
            results.append(mine)
        if self.on_generated is not None:
            self.on_generated(self.name, total)
        return results

    def _metadata(self, job: GenerateJob, words: str | None = None) -> dict:
        """The item's filterable fields, named as in mmgan.store's schema (caption: the generated words, else the
        prompt)."""
        md: dict[str, Any] = {"kind": "synthetic", "model": self.name, "model_version": self.version,
                              "step": int(self.config.get("step") or 0), "seed": job.seed,
                              "dataset": self.config.get("data", {}).get("name", ""), "user": job.requested_by or "",
                              "label": -1, "class_name": "", "caption": words or job.text or ""}
        if job.label is not None:
            md["label"] = job.label
            names = self.pipe.class_names
            if 0 <= job.label < len(names):
                md["class_name"] = names[job.label]
                md["caption"] = md["caption"] or names[job.label]     # so keyword search finds label-only images
        return md

    def _provenance(self, job: GenerateJob, index: int) -> dict:
        cond: dict[str, Any] = {}
        if job.label is not None:
            cond["label"] = job.label
        if job.text is not None:
            cond["text"] = job.text
        if job.audio_sha256:
            cond["audio_sha256"] = job.audio_sha256
        if job.image_sha256:
            cond["image_sha256"] = job.image_sha256
        if job.options:
            cond["options"] = dict(job.options)
        if job.mask_sha256:
            cond["mask_sha256"] = job.mask_sha256
        if job.voice_sha256:
            cond["voice_sha256"] = job.voice_sha256
        return {"model": self.name, "run": self.source, "model_version": self.version, "step": self.config.get("step"),
                "seed": job.seed, "num_images": job.n, "index": index, "truncation": job.truncation,
                "conditions": cond, "requested_by": job.requested_by, "created": time.time(),
                "mmgan_version": __version__}


def content_id(kind: str, *parts: Any) -> str:
    """The store's content hash (ids are content-addressed: the same object from the same request is one item)."""
    return store_content_id(kind, *parts)


def _latents(n: int, z_dim: int, seed: int, truncation: float) -> torch.Tensor:
    """Exactly the latents Pipeline.__call__(num_images=n, seed=seed, truncation=t) draws."""
    z = torch.randn(n, z_dim, generator=torch.Generator().manual_seed(int(seed)))
    return z * truncation if truncation != 1.0 else z


class ModelRegistry:
    """The served models by name. Their batchers start in the app's lifespan, or lazily on first use (tests)."""

    def __init__(self, models: dict[str, Any] | None = None, max_batch: int = 64, max_wait_ms: float = 2.0,
                 metrics=None):
        from concurrent.futures import ThreadPoolExecutor

        self.max_batch, self.max_wait_ms, self.metrics = max_batch, max_wait_ms, metrics
        self.executor = ThreadPoolExecutor(1, thread_name_prefix="mmgan-model")   # one model call at a time
        self.store_executor = ThreadPoolExecutor(1, thread_name_prefix="mmgan-store")   # one writer
        self.models: dict[str, ServedModel] = {}
        for name, pipe in (models or {}).items():
            self.models[name] = pipe if isinstance(pipe, ServedModel) else ServedModel(name, pipe)
        for m in self.models.values():
            m.on_generated = self._count

    def _count(self, name: str, n: int) -> None:
        if self.metrics is not None:
            self.metrics.generated.inc(name, amount=n)

    @property
    def default(self) -> str | None:
        return next(iter(self.models), None)

    def names(self) -> list[str]:
        return list(self.models)

    def get(self, name: str | None) -> ServedModel:
        """The named model (or the default); KeyError naming the valid ones."""
        name = name or self.default
        if name is None:
            raise KeyError("this service serves no models; start it with mmgan serve RUN")
        if name not in self.models:
            raise KeyError(f"no model named {name!r}; served models: {', '.join(self.models)}")
        return self.models[name]

    async def ensure_started(self, model: ServedModel) -> ServedModel:
        if model.batcher is None:
            await model.start(self.max_batch, self.max_wait_ms, self.executor, self.metrics, self.store_executor)
        return model

    async def start(self) -> None:
        for m in self.models.values():
            await self.ensure_started(m)

    async def add(self, name: str, pipe, source: str = "") -> ServedModel:
        if name in self.models:
            raise ValueError(f"a model named {name!r} is already served; unload it first")
        m = ServedModel(name, pipe, source, on_generated=self._count)
        self.models[name] = m
        await self.ensure_started(m)
        return m

    async def remove(self, name: str) -> None:
        m = self.get(name)
        del self.models[name]
        await m.stop()

    async def stop(self) -> None:
        for m in list(self.models.values()):
            await m.stop()
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.store_executor.shutdown(wait=True)          # let a running write finish: no half-written batch
