"""JointSpace: one embedding space for text, audio, images and labels (in the manner of ImageBind).

Each modality has an encoder (mmgan.encoders) and a linear head into the shared space; embeddings
are L2-normalized, so cosine similarity is a dot product. One modality is the hub every other one is
bound to with a contrastive (InfoNCE) loss and a learned temperature (mmgan.training.joint): images,
or, for data without images (sound with captions: spoken-digits, sfx), the audio.

    space = JointSpace.from_pretrained("runs/00003-shapes-dfgan")     # RUN, RUN/joint, an export
    v = space.embed("text", ["a small red circle at the top"])       # (1, dim) float32, unit norm
    q = space.embed("image", ["red.png"]) - space.embed("text", ["red"]) + space.embed("text", ["blue"])

It implements mmgan.embedding.Embedder. A saved space is config.json + model.safetensors; the frozen
MiniLM text model is loaded from its package, never saved into the space.
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..encoders import collate, default_encoder
from ..models.base import ConfigModule, load_json, load_weights, save_json, save_weights, state_to_cpu
from ..registry import build
from ..runs import resolve
from ..utils import auto_device
from .base import build_conditioner

FORMAT = "mmgan-joint-space"
HUBS = ("image", "audio")                 # what the other modalities are bound to (see train_joint)


@dataclass
class JointOutput:
    pooled: torch.Tensor                  # (b, dim), unit norm
    tokens: torch.Tensor | None           # (b, n, dim)
    mask: torch.Tensor | None             # (b, n)


def encoder_specs(modalities: Sequence[str], dim: int = 256, channels: int = 3, resolution: int = 32,
                  num_classes: int = 0, overrides: dict | None = None) -> dict[str, dict]:
    """Default encoder configs for the given modalities ({modality: {"name": ..., **kwargs}})."""
    specs: dict[str, dict] = {}
    for m in modalities:
        name = default_encoder(m)
        if m == "image":
            spec = {"name": name, "dim": dim, "channels": channels, "resolution": resolution, "width": 16}
        elif m == "label":
            spec = {"name": name, "num_classes": num_classes, "dim": dim}
        elif m == "text" and name == "tiny-text":
            spec = {"name": name, "dim": 128}
        elif m == "audio":
            spec = {"name": name, "dim": dim, "width": 64}
        else:
            spec = {"name": name}
        spec.update((overrides or {}).get(m, {}))
        specs[m] = spec
    return specs


class JointSpace(ConfigModule):
    def __init__(self, encoders: dict[str, dict], dim: int = 256, temperature: float = 0.07,
                 heads: str = "linear", hub: str = "image"):
        if hub not in HUBS:
            raise ValueError(f"a joint space's hub is one of {', '.join(HUBS)}, got {hub!r}")
        if hub not in encoders:
            raise ValueError(f"a joint space binds modalities to its hub ({hub}): include an {hub!r} encoder")
        # hub is written only when it is not the image, so a space saved before it existed keeps its id
        super().__init__(encoders={m: dict(s) for m, s in encoders.items()}, dim=dim, temperature=temperature,
                         heads=heads, **({"hub": hub} if hub != "image" else {}))
        self.dim = dim
        self.hub = hub
        self.encoders = nn.ModuleDict()
        for m, spec in encoders.items():
            args = {k: v for k, v in spec.items() if k != "name"}
            enc = build("encoder", spec["name"], **args)
            if enc.modality != m:
                raise ValueError(f"encoder {spec['name']!r} encodes {enc.modality}, not {m}")
            self.encoders[m] = enc

        def head(d_in: int) -> nn.Module:
            if heads == "mlp":
                return nn.Sequential(nn.Linear(d_in, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))
            return nn.Linear(d_in, dim)

        self.heads = nn.ModuleDict({m: head(e.dim) for m, e in self.encoders.items()})
        self.token_heads = nn.ModuleDict({m: nn.Linear(e.dim, dim) for m, e in self.encoders.items()})
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1.0 / temperature)))
        self._memo: dict[tuple, dict[str, torch.Tensor]] = {}

    # ---- Embedder protocol ---------------------------------------------------------------
    @property
    def modalities(self) -> tuple:
        return tuple(self.encoders)

    @property
    def id(self) -> str:
        """Stable id: 'joint-' + a hash of the config and the weights."""
        h = hashlib.sha256(json.dumps(self.config, sort_keys=True, default=str).encode())
        for k, v in sorted(state_to_cpu(self).items()):
            h.update(k.encode())
            h.update(v.numpy().tobytes())
        return "joint-" + h.hexdigest()[:12]

    @torch.no_grad()
    def embed(self, modality: str, items: Sequence[Any], batch_size: int = 256) -> np.ndarray:
        """(n, dim) float32 unit vectors for items of one modality."""
        self._check(modality)
        was = self.training
        self.eval()
        try:
            if torch.is_tensor(items):
                chunks = [items[i : i + batch_size] for i in range(0, len(items), batch_size)]
            else:
                items = _as_list(modality, items)
                chunks = [items[i : i + batch_size] for i in range(0, len(items), batch_size)]
            out = [self.encode(modality, c).pooled.float().cpu() for c in chunks]
        finally:
            self.train(was)
        return torch.cat(out).numpy()

    # ---- encoding --------------------------------------------------------------------------
    def _check(self, modality: str) -> None:
        if modality not in self.encoders:
            raise ValueError(f"this joint space embeds {', '.join(self.encoders)}; got modality {modality!r}")

    def prepare(self, modality: str, items: Any) -> dict[str, torch.Tensor]:
        """Raw items -> prepared tensors (CPU). Repeated hashable items (captions, paths) are prepared once."""
        self._check(modality)
        enc = self.encoders[modality]
        if torch.is_tensor(items) or modality == "label":
            return enc.prepare(items)
        items = _as_list(modality, items)
        keys = [_memo_key(modality, it) for it in items]
        if any(k is None for k in keys):
            return enc.prepare(items)
        first = {k: i for i, k in reversed(list(enumerate(keys)))}
        found = {k: self._memo.pop(k) for k in first if k in self._memo}
        todo = [k for k in first if k not in found]
        if todo:
            new = enc.prepare([items[first[k]] for k in todo])
            for j, k in enumerate(todo):
                found[k] = {name: v[j : j + 1] for name, v in new.items()}
        out = collate([found[k] for k in keys])
        self._memo.update(found)                                      # most recently used last
        for k in list(self._memo)[: max(0, len(self._memo) - 1024)]:  # keep the newest 1024
            del self._memo[k]
        return out

    def forward(self, modality: str, batch: dict[str, torch.Tensor]) -> JointOutput:
        """Prepared tensors -> joint-space output (pooled unit vectors, tokens projected to dim)."""
        out = self.encoders[modality](batch)
        pooled = F.normalize(self.heads[modality](out.pooled).float(), dim=-1)
        return JointOutput(pooled, self.token_heads[modality](out.tokens), out.mask)

    def encode(self, modality: str, items: Any) -> JointOutput:
        dev = self.logit_scale.device
        batch = {k: v.to(dev) for k, v in self.prepare(modality, items).items()}
        return self(modality, batch)

    # ---- saving / loading ---------------------------------------------------------------------
    def save_pretrained(self, out_dir: str | Path) -> Path:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        save_weights(self, out / "model.safetensors")
        save_json({"format": FORMAT, "version": 1, "config": self.config, "id": self.id}, out / "config.json")
        return out

    @classmethod
    def from_config(cls, config: dict) -> "JointSpace":
        return cls(**config)

    @classmethod
    def from_pretrained(cls, path: str | Path, device: str = "cpu") -> "JointSpace":
        """From a saved space, a run (RUN/joint), a checkpoint or an exported pipeline (its conditioner's space)."""
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"no joint space, run or pipeline at {path}")
        for cand in (path, path / "joint"):
            cfg_file = cand / "config.json"
            if cfg_file.exists() and load_json(cfg_file).get("format") == FORMAT:
                space = cls(**load_json(cfg_file)["config"])
                load_weights(space, cand / "model.safetensors")
                return space.to(device).eval()
        try:
            ref = resolve(path)
        except (FileNotFoundError, ValueError) as e:
            raise FileNotFoundError(f"{path} holds no joint space (config.json with format {FORMAT!r}) and no "
                                    f"multimodal pipeline ({e})") from None
        cond = build_conditioner(ref.config["conditioner"])       # the model's conditioner, without its generator
        space = getattr(cond, "joint", None)
        if space is None:
            raise ValueError(f"{path}: this model is not conditioned through a joint space (conditions: "
                             f"{list(cond.modalities) or 'none'})")
        if ref.conditioner_file is not None:
            load_weights(cond, ref.conditioner_file, strict=False)
        space = space.to(auto_device(device))
        return space.eval()


def _as_list(modality: str, items: Any) -> list:
    if isinstance(items, (str, Path)) or (modality == "image" and hasattr(items, "convert")):
        return [items]
    if isinstance(items, np.ndarray) and modality == "audio" and items.ndim == 1:
        return [items]
    return list(items)


def _memo_key(modality: str, item: Any) -> tuple | None:
    if isinstance(item, str) and modality == "text":
        return (modality, item)
    if isinstance(item, (str, Path)):
        p = Path(item)
        try:
            st = p.stat()
        except OSError:
            return None                                      # let the encoder raise its clear error
        return (modality, str(p.resolve()), st.st_size, st.st_mtime_ns)
    return None


def load_embedder(path: str | Path) -> "JointSpace":
    """The joint space (an mmgan.embedding.Embedder) saved in a run (RUN/joint/), a checkpoint's run, or an
    exported pipeline."""
    return JointSpace.from_pretrained(path)
