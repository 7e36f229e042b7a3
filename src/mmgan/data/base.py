"""The one dataset interface: items are dicts with any of image, text, audio, label, attributes, vector
(and the column of any other registered codec, mmgan.modalities).

Every dataset (built-in or a user's) is a MemoryDataset: columns held in memory, so a training step
samples a batch by indexing tensors, with no loader overhead.

Columns (N items):
  image       float32 (N, C, H, W) in [-1, 1]
  vector      float32 (N, D)                 (2-D mixtures and other vector data)
  label       int64   (N,)
  attributes  int64   (N, A)                 (names/values in DataInfo.attributes)
  text        list[str]                      (one caption per item)
  audio       list[str]                      (absolute paths of audio files)
  <codec>     a registered codec's column (tensor or list)

One column is the dataset's *target*, what a model trained on it generates: info.kind names it
(load_dataset's `target`, data.target; by default the image when there is one, else the vector).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..modalities import codec_names, get_codec
from .errors import DataError

TENSOR_COLUMNS = ("image", "vector", "label", "attributes")
LIST_COLUMNS = ("text", "audio", "speaker")      # speaker: who speaks each clip (a name), for voice conditions
COLUMNS = TENSOR_COLUMNS + LIST_COLUMNS


@dataclass
class DataInfo:
    name: str
    kind: str                                   # the target column = its codec: "image", "vector", ...
    shape: tuple                                # one target item: (C, H, W), (D,), ...
    num_classes: int = 0
    class_names: list = field(default_factory=list)
    attributes: dict = field(default_factory=dict)   # {"shape": ["circle", ...], "color": [...], ...} in column order
    modalities: list = field(default_factory=list)   # columns present
    extra: dict = field(default_factory=dict)        # e.g. {"means": [[x, y], ...], "sigma": 0.01}
    version: str = ""                                # content hash of the data
    skipped: int = 0                                 # bad rows skipped with --skip-bad
    root: str = ""                                   # where the data lives on disk, if anywhere

    def to_dict(self) -> dict:
        from dataclasses import asdict

        d = asdict(self)
        d["shape"] = list(self.shape)
        return d


class MemoryDataset(torch.utils.data.Dataset):
    def __init__(self, info: DataInfo, columns: dict[str, Any]):
        unknown = set(columns) - set(COLUMNS) - set(codec_names())
        if unknown:
            raise ValueError(f"unknown dataset columns {sorted(unknown)}; valid: {COLUMNS} and the codecs' "
                             f"({', '.join(codec_names())})")
        lengths = {k: len(v) for k, v in columns.items()}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"dataset columns differ in length: {lengths}")
        if not lengths:
            raise ValueError(f"dataset {info.name!r} has no columns")
        self.info = info
        self.columns = columns
        self.info.modalities = [c for c in COLUMNS if c in columns] + [c for c in columns if c not in COLUMNS]
        if not self.info.version:
            self.info.version = content_hash(columns)

    def __len__(self) -> int:
        return len(next(iter(self.columns.values())))

    def __getitem__(self, i: int) -> dict:
        return {k: v[i] for k, v in self.columns.items()}

    def __repr__(self) -> str:
        return f"MemoryDataset({self.info.name!r}, n={len(self)}, columns={list(self.columns)}, shape={self.info.shape})"

    def has(self, column: str) -> bool:
        return column in self.columns

    def with_target(self, target: str) -> "MemoryDataset":
        """This dataset with `target` as the column a model generates (sets info.kind and info.shape;
        returns self). DataError naming the columns when it has no such column or no codec makes it."""
        if not target or target == self.info.kind:
            return self
        targets = [c for c in codec_names() if c in self.columns]
        if target not in self.columns:
            raise DataError(f"data.target={target!r}: dataset {self.info.name!r} has no {target!r} column; its "
                            f"columns: {', '.join(self.columns)} (a model can generate: {', '.join(targets) or 'none'})")
        if target not in codec_names():
            raise DataError(f"data.target={target!r}: no codec generates {target!r} columns; a model can generate "
                            f"{', '.join(codec_names())} (here: {', '.join(targets) or 'none'})")
        self.info.kind, self.info.shape = target, get_codec(target).item_shape(self.columns[target])
        return self

    def subset(self, idx) -> "MemoryDataset":
        idx = torch.as_tensor(idx, dtype=torch.long)
        cols = {}
        for k, v in self.columns.items():
            cols[k] = v[idx] if torch.is_tensor(v) else [v[int(i)] for i in idx]
        from dataclasses import replace

        return MemoryDataset(replace(self.info, version=""), cols)

    def batch(self, idx: torch.Tensor) -> dict:
        """Columns at the given indices (tensors indexed, lists gathered)."""
        out = {}
        for k, v in self.columns.items():
            out[k] = v[idx] if torch.is_tensor(v) else [v[int(i)] for i in idx]
        return out


def content_hash(columns: dict[str, Any]) -> str:
    h = hashlib.sha256()
    for k in sorted(columns):
        v = columns[k]
        h.update(k.encode())
        if torch.is_tensor(v):
            h.update(memoryview(np.ascontiguousarray(v.detach().cpu().numpy())).cast("B"))   # no copy of a big column
        else:
            for item in v:
                h.update(str(item).encode())
                h.update(b"\0")
    return h.hexdigest()[:16]
