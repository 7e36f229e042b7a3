"""Per-item features of a dataset, computed once and cached on disk by content.

prepared_column(): what an encoder's prepare() makes of every item of a column (MiniLM outputs for
captions, log-mel spectrograms for audio), padded to one length and stored as float16 safetensors
under .mmgan-cache/features/ (or $MMGAN_CACHE), keyed by a hash of the encoder config and the items
(text itself; an audio file's path, size and modification time). Training steps index these tensors
and never re-run MiniLM or librosa.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from ..encoders import collate
from ..fusion.base import ModalityFeatures
from ..utils import atomic_write


SEQUENCE_KEYS = ("tokens", "mask", "mel", "ids")      # prepared tensors whose dim 1 is a length


def cache_root(cache_dir: str | Path | None = None) -> Path:
    return Path(cache_dir or os.environ.get("MMGAN_CACHE") or ".mmgan-cache")


def _item_key(item: Any, modality: str) -> str:
    """Captions by their text; files by path, size and modification time; arrays by their bytes."""
    if modality == "text":
        return str(item)
    if isinstance(item, (str, Path)):
        p = Path(item)
        st = p.stat() if p.is_file() else None
        return f"{p.resolve()}|{st.st_size}|{st.st_mtime_ns}" if st else str(p)
    return hashlib.sha256(np.ascontiguousarray(item).tobytes()).hexdigest()


def column_key(encoder_config: dict, keys: Sequence[str], keep_tokens: bool) -> str:
    h = hashlib.sha256(json.dumps([encoder_config, keep_tokens], sort_keys=True, default=str).encode())
    for k in keys:
        h.update(k.encode())
        h.update(b"\0")
    return h.hexdigest()[:24]


def prepared_column(encoder, items: Sequence[Any], cache_dir: str | Path | None = None, keep_tokens: bool = True,
                    chunk: int = 256, log: Callable[[str], None] | None = None) -> dict[str, torch.Tensor]:
    """Prepared tensors for every item (first dim = len(items)); unique items are prepared once.

    keep_tokens=False keeps only sentence-level text features (MiniLM tokens are large).
    """
    items = list(items)
    keys = [_item_key(it, encoder.modality) for it in items]
    cfg = {"modality": encoder.modality, **encoder.prepare_config}
    path = cache_root(cache_dir) / "features" / f"{encoder.modality}-{column_key(cfg, keys, keep_tokens)}.safetensors"
    if path.is_file():
        try:
            return load_file(str(path))
        except Exception:                       # a damaged cache file is recomputed, not fatal
            path.unlink(missing_ok=True)
    first = {}                                  # unique key -> its first item
    for it, k in zip(items, keys):
        first.setdefault(k, it)
    uniq = list(first)
    t0, parts = time.time(), []
    for i in range(0, len(uniq), chunk):
        batch = encoder.prepare([first[k] for k in uniq[i : i + chunk]])
        if not keep_tokens and "pooled" in batch:           # a frozen encoder: its sentence features suffice
            batch = {k: v for k, v in batch.items() if k == "pooled"}
        parts.append({k: (v.half() if v.is_floating_point() else v) for k, v in batch.items()})
        if log and (i // chunk) % 8 == 7:
            log(f"  {encoder.modality} features: {min(i + chunk, len(uniq))}/{len(uniq)} ({time.time() - t0:.0f}s)")
    out = collate(parts)
    pos = {k: j for j, k in enumerate(uniq)}
    where = torch.tensor([pos[k] for k in keys], dtype=torch.long)
    out = {k: v[where].contiguous() for k, v in out.items()}
    atomic_write(path, lambda tmp: save_file(out, tmp))
    if log:
        log(f"  {encoder.modality} features for {len(items)} items ({len(uniq)} unique) in {time.time() - t0:.0f}s "
            f"-> {path}")
    return out


def take(column: dict[str, torch.Tensor], idx: torch.Tensor, device: torch.device | str = "cpu"
         ) -> dict[str, torch.Tensor]:
    """Rows idx of a prepared column as float32 on device, trimmed to the longest real length in the batch."""
    out = {k: v[idx] for k, v in column.items()}
    if "mask" in out and out["mask"].dim() == 2:
        n = int(out["mask"].sum(1).max().clamp_min(1))
        out = {k: (v[:, :n] if k in SEQUENCE_KEYS else v) for k, v in out.items()}
    return {k: (v.float() if v.is_floating_point() else v).to(device) for k, v in out.items()}


def features_at(f: dict[str, torch.Tensor], idx: torch.Tensor, present: torch.Tensor | None = None,
                device: torch.device | str = "cpu") -> ModalityFeatures:
    """ModalityFeatures of rows idx of a feature table (float32 on device)."""
    t = take(f, idx, device)
    return ModalityFeatures(pooled=t["pooled"], present=None if present is None else present.to(device),
                            tokens=t.get("tokens"), mask=t.get("mask"))
