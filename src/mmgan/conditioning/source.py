"""SourceConditioner: the one way a family reads its source modality raw (pixels, a waveform), not as a
pooled joint-space vector -- an image captioner attends over the image's regions, a speech recogniser
reads the clip's frames.

    A family declares the modalities it can read raw on its options class (a ClassVar):
        class CaptionerOptions(TextOptions):  reads: ClassVar = ("image",)
    Its source is the first condition it reads (model.condition=[image] or [image, label]); any label
    condition stays a one-hot vector c (the captioner's caption style).
    configure_source(cfg, ds) (training.setup.resolve) writes model.extra.source = {"modality": m, **spec},
    spec from m's codec: Codec.source_spec(column) (image: resolution, channels; audio: sample_rate, samples).
    The trainer's and the Pipeline's conditioner is then a SourceConditioner (kind "source", no weights):
    both prepare raw items with the source codec (Codec.prepare_source(items, spec): paths, PIL images,
    Sounds, arrays, tensors -> one batch tensor) and hand it to G and D as a keyword:
        cond = conditioner(image=[...], labels=...)      # Cond(vec=one-hot labels or None, source=(b, ...))
        G(z, cond.vec, **cond.kwargs())                  # -> G.forward(z, c, source=images (b, c, h, w))
    In training, from_batch prepares the batch's rows of the source column (staged tensors pass as they
    are); the phases get them as cond_kw["source"].

Generation: `pipe(image=[a, b], num_images=5)` makes 5 samples of each source item (10 in all, item
by item): expand() repeats each prepared item num_images times and records its name (the path, or
"image 0", ...) in `source_names`, which the Pipeline returns in out.conditions and the text codec
writes into captions.jsonl. A label (style) is one for all items or one per item.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import torch
import torch.nn.functional as F

from ..fusion.base import Cond
from ..modalities import get_codec
from ..model_options import family_options
from .base import KNOWN_MODALITIES, Conditioner, register_conditioner


def reads(family: str) -> tuple[str, ...]:
    """The modalities a family reads raw (its options' `reads`; empty for the others)."""
    return tuple(getattr(family_options(family), "reads", ()))


def source_of(family: str, condition: Sequence[str]) -> str:
    """The condition a family reads raw: the first of model.condition it declares it reads."""
    can = reads(family)
    src = next((m for m in condition if m in can), None)
    if src is None:
        raise ValueError(f"model.family={family} reads its source raw ({' or '.join(can)}); model.condition="
                         f"[{','.join(condition)}] names none of them: set model.condition=[{can[0]}]")
    extra = [m for m in condition if m not in (src, "label")]
    if extra:
        raise ValueError(f"model.family={family} reads one source ({src}) and an optional label; "
                         f"model.condition also names {extra}")
    return src


def configure_source(cfg: Any, ds: Any) -> None:
    """For a family that reads its source raw: model.extra.source = {"modality", **the codec's spec}."""
    m = cfg.model
    if not reads(m.family):
        return
    src = source_of(m.family, list(m.condition or []))
    if not ds.has(src):
        raise ValueError(f"model.family={m.family} reads {src}; dataset {ds.info.name!r} has no {src} column "
                         f"(columns: {', '.join(ds.columns)})")
    m.extra["source"] = {"modality": src, **get_codec(src).source_spec(ds.columns[src])}


@register_conditioner
class SourceConditioner(Conditioner):
    """Passes the source (prepared by its codec) through to G and D; labels become one-hot vectors."""

    kind = "source"

    def __init__(self, modalities: Sequence[str] = (), num_classes: int = 0, source: dict | None = None,
                 class_names: Sequence[str] = ()):
        if not source or source.get("modality") not in KNOWN_MODALITIES:
            raise ValueError(f"a source conditioner needs source={{'modality': one of {KNOWN_MODALITIES}, ...}}, "
                             f"got {source!r}")
        super().__init__(modalities, num_classes)
        self.source = dict(source)
        self.class_names = list(class_names)
        self.name = self.source["modality"]

    @classmethod
    def for_config(cls, cfg: Any, class_names: Sequence[str] = ()) -> "SourceConditioner":
        src = cfg.model.extra.get("source")
        if not src:
            raise ValueError("model.extra.source is unset: resolve the config against its data first "
                             "(training.setup.resolve writes it)")
        return cls(list(cfg.model.condition), cfg.model.num_classes, src, class_names)

    @property
    def config(self) -> dict:
        return {**super().config, "source": self.source, "class_names": self.class_names}

    def prepare(self, items: Any) -> torch.Tensor:
        return get_codec(self.name).prepare_source(items, self.source)

    def forward(self, labels: Any = None, **inputs: Any) -> Cond:
        items = inputs.get(self.name)
        if items is None:
            raise ValueError(f"this model reads {self.name}: pass {self.name}=... (paths, objects or a tensor)")
        x = self.prepare(items)                 # idempotent: prepared tensors pass as they are
        if "label" not in self.modalities:
            return Cond(source=x)
        if labels is None:
            labels = torch.zeros(len(x), dtype=torch.long)            # the first class (the neutral style)
        labels = torch.as_tensor(labels, dtype=torch.long).reshape(-1).to(x.device)
        if labels.numel() and (labels.min() < 0 or labels.max() >= self.num_classes):
            raise ValueError(f"labels must be in 0..{self.num_classes - 1}, got {labels.tolist()[:10]}")
        return Cond(vec=F.one_hot(labels, self.num_classes).float(), labels=labels, source=x)

    def from_batch(self, batch: dict, device: torch.device) -> Cond:
        x = self.prepare(batch[self.name]).to(device)
        labels = batch["label"].to(device) if "label" in self.modalities else None
        return self(labels=labels, **{self.name: x})

    def samples(self, n: int, inputs: dict) -> int:
        src = inputs.get(self.name)
        return n if src is None else len(src)

    def expand(self, n: int, **inputs: Any) -> dict[str, Any]:
        """Each source item repeated n times (item by item), with its name in source_names; labels: one
        for all items or one per item."""
        items = inputs.get(self.name)
        if items is None:
            raise ValueError(f"this model reads {self.name}: pass {self.name}=... (one item or a list)")
        names = _names(items, self.name)
        x = self.prepare(items)
        out = dict(inputs)
        out[self.name] = x.repeat_interleave(n, dim=0)
        out["source_names"] = [nm for nm in names for _ in range(n)]
        labels = inputs.get("labels")
        if labels is not None:
            labels = torch.as_tensor(labels, dtype=torch.long).reshape(-1)
            if labels.numel() == 1:
                labels = labels.repeat(len(x))
            if labels.numel() != len(x):
                raise ValueError(f"got {labels.numel()} labels for {len(x)} {self.name} items; give one or one per item")
            out["labels"] = labels.repeat_interleave(n)
        return out

    def sample_inputs(self, ds: Any, n: int) -> dict[str, Any]:
        """The trainer's preview: n // 8 dataset items (8 samples each), their labels when conditioned."""
        k = max(1, n // 8)
        pick = torch.arange(k) * max(1, len(ds) // k) % len(ds)
        col = ds.columns[self.name]
        out = {self.name: col[pick] if torch.is_tensor(col) else [col[int(i)] for i in pick]}
        if "label" in self.modalities:
            out["labels"] = ds.columns["label"][pick]
        return out


def _names(items: Any, modality: str) -> list[str]:
    if isinstance(items, (str, Path)):
        return [str(items)]
    if torch.is_tensor(items):
        n = 1 if (modality == "image" and items.dim() == 3) or (modality == "audio" and items.dim() == 1) else len(items)
        return [f"{modality} {i}" for i in range(n)]
    if hasattr(items, "convert") or hasattr(items, "_fields") or getattr(items, "ndim", 2) == 1:
        return [f"{modality} 0"]
    return [str(it) if isinstance(it, (str, Path)) else f"{modality} {i}" for i, it in enumerate(items)]
