"""Run folders: what a path names (a run, a checkpoint or an exported pipeline), numbered runs, the
latest checkpoint and its meta. Everyone who turns a user's path into weights asks here.

    RUN/config.yaml  RUN/checkpoints/latest  RUN/checkpoints/step-000500/{meta.json, G_ema.safetensors, ...}
    EXPORT/config.json (format mmgan-pipeline) + EXPORT/generator.safetensors

    ref = resolve("runs/00003-shapes")          # ModelRef(kind="run", checkpoint=.../step-..., ...)
    ref.generator_file("G_ema"), ref.conditioner_file, ref.config (the pipeline config), ref.step
    weights_digest(ref)                         # the model_version the server and `mmgan index` record
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import torch
from safetensors.torch import load_file

from .utils import load_json

EXPORT_VERSION = 1
PIPELINE_FORMAT = "mmgan-pipeline"
DIGEST_CHARS = 16


def next_run_dir(root: str | os.PathLike, tag: str) -> Path:
    """Numbered run folder in the StyleGAN2-ADA manner: ROOT/00003-tag/."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    ids = []
    for p in root.iterdir():
        head = p.name.split("-", 1)[0]
        if p.is_dir() and head.isdigit():
            ids.append(int(head))
    n = max(ids) + 1 if ids else 0
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in tag)
    return root / f"{n:05d}-{safe}"


def latest_checkpoint(run_dir: str | Path) -> Path | None:
    """The newest complete checkpoint of a run (trusting `latest`, falling back to a scan)."""
    root = Path(run_dir) / "checkpoints"
    if not root.is_dir():
        return None
    pointer = root / "latest"
    if pointer.exists():
        p = root / pointer.read_text().strip()
        if (p / "meta.json").exists():
            return p
    done = sorted((p for p in root.glob("step-*") if (p / "meta.json").exists()), key=lambda p: p.name)
    return done[-1] if done else None


def read_meta(ckpt: str | Path) -> dict:
    return load_json(Path(ckpt) / "meta.json")


def pipeline_config(meta: dict) -> dict:
    """The exported pipeline's config.json from a checkpoint's meta (or the trainer's live meta)."""
    data = dict(meta.get("data", {}))
    keep = ("name", "kind", "shape", "num_classes", "class_names", "attributes", "modalities", "extra", "version")
    # data.target: the column the model generates; runs saved before it existed generated data.kind
    target = (meta["config"].get("data") or {}).get("target") or data.get("kind") or "image"
    return {
        "format": PIPELINE_FORMAT,
        "version": EXPORT_VERSION,
        "model": meta["config"]["model"],
        "conditioner": meta["conditioner"],
        "data": {k: data[k] for k in keep if k in data} | {"target": target},
        "step": meta.get("step", 0),
    }


# ---- what a path names ----------------------------------------------------------------------------
def _is_export(p: Path) -> bool:
    return (p / "config.json").exists() and (p / "generator.safetensors").exists()


def _is_checkpoint(p: Path) -> bool:
    return (p / "meta.json").exists()


def looks_like_model(path: str | Path) -> bool:
    """Cheap shape test (no file is read): a folder laid out as a run (checkpoints/, complete or not),
    a checkpoint (meta.json) or an export (config.json + generator.safetensors). `mmgan index` uses it
    to tell a model from a dataset; resolve() says what is wrong with one that does not load."""
    p = Path(path)
    return p.is_dir() and ((p / "checkpoints").is_dir() or _is_checkpoint(p) or _is_export(p))


@dataclass(frozen=True)
class ModelRef:
    """A resolved run, checkpoint or exported pipeline.

    kind        "run" (a run folder: its latest checkpoint), "checkpoint" or "export"
    path        the path as given
    run_dir     the run folder (a run; a checkpoint inside RUN/checkpoints/), else None
    checkpoint  the checkpoint folder (run, checkpoint), else None
    folder      the folder holding the weights (the checkpoint, or the export)
    config      the pipeline config ({"format": "mmgan-pipeline", "model", "conditioner", "data", "step"})
    meta        the checkpoint's meta.json (None for an export)
    """
    kind: str
    path: Path
    run_dir: Path | None
    checkpoint: Path | None
    folder: Path
    config: dict = field(compare=False, repr=False)
    meta: dict | None = field(default=None, compare=False, repr=False)

    @property
    def step(self) -> int:
        return int((self.meta or self.config).get("step", 0) or 0)

    def generator_file(self, weights: str = "G_ema") -> Path:
        """The generator's weights: an export's generator.safetensors; a checkpoint's WEIGHTS.safetensors
        (G_ema or G), falling back to G.safetensors (runs trained without EMA)."""
        if self.kind == "export":
            return self.folder / "generator.safetensors"
        f = self.folder / f"{weights}.safetensors"
        return f if f.exists() else self.folder / "G.safetensors"

    @property
    def conditioner_file(self) -> Path | None:
        """conditioner.safetensors when the conditioner has weights, else None."""
        f = self.folder / "conditioner.safetensors"
        return f if f.exists() else None

    def file(self, name: str) -> Path | None:
        """Another file beside the weights (D.safetensors, critic.json, ...), None when absent."""
        f = self.folder / name
        return f if f.exists() else None


def resolve(path: str | Path) -> ModelRef:
    """What `path` names: an exported pipeline, a checkpoint folder, or a run folder (its latest checkpoint).

    FileNotFoundError: the path does not exist, or holds none of these; ValueError: config.json beside
    generator.safetensors is not an mmgan pipeline config."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such run, checkpoint or exported pipeline: {path}")
    if _is_export(path):
        cfg = load_json(path / "config.json")
        if cfg.get("format") != PIPELINE_FORMAT:
            raise ValueError(f"{path}/config.json is not an mmgan pipeline config")
        return ModelRef("export", path, None, None, path, cfg, None)
    if _is_checkpoint(path):
        meta = read_meta(path)
        run_dir = path.parent.parent if path.parent.name == "checkpoints" else None
        return ModelRef("checkpoint", path, run_dir, path, path, pipeline_config(meta), meta)
    ckpt = latest_checkpoint(path)
    if ckpt is None:
        raise FileNotFoundError(f"{path} holds no checkpoint (checkpoints/step-*/meta.json) and no exported "
                                f"pipeline (config.json + generator.safetensors)")
    meta = read_meta(ckpt)
    return ModelRef("run", path, path, ckpt, ckpt, pipeline_config(meta), meta)


# ---- which weights ----------------------------------------------------------------------------------
def weights_digest(source: Any, weights: str = "G_ema") -> str:
    """model_version: a short hash of a generator's weights, the same wherever those weights are.

    source: a ModelRef or a path (resolved; its generator file for `weights`), a module or a state dict
    (its tensors; None or anything without weights counts as no tensors). The digest is over the tensors' contents, not the file's
    bytes: sha256 over the keys in sorted order, each as key, dtype, shape and the raw little-endian
    bytes, first 16 hex chars. So a run, its latest checkpoint, an export of it and a Pipeline loaded
    from any of them give one digest, however safetensors happened to lay out the file."""
    if isinstance(source, (str, os.PathLike)):
        source = resolve(source)
    if isinstance(source, ModelRef):
        state: Mapping[str, torch.Tensor] = load_file(str(source.generator_file(weights)))
    elif isinstance(source, Mapping):
        state = source
    elif hasattr(source, "state_dict"):
        state = source.state_dict()
    else:
        state = {}                                      # None, or a stand-in without weights
    h = hashlib.sha256()
    for k in sorted(state):
        t = state[k].detach().to("cpu").contiguous()
        h.update(f"{k}\0{str(t.dtype).removeprefix('torch.')}\0{tuple(t.shape)}\0".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:DIGEST_CHARS]
