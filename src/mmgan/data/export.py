"""write_manifest: a dataset to a folder that load_dataset reads back to the same data.

Layout of out_dir:
  images/000000.png ...   images (8-bit PNG: pixel values within 1/255 of the originals)
  audio/...               copies of audio files (files already inside out_dir are referenced in place)
  vectors.npy             float32 (N, D) when the dataset has vectors; rows say "vector": row index
  <codec files>           another registered codec's column, as that codec writes it (write_column)
  manifest.jsonl          one object per item: image, text, audio, label, vector, attributes {name: value},
                          speaker
  dataset.json            the DataInfo: name, class_names, attributes, extra (e.g. mixture means), ...
manifest.jsonl is written last and atomically, so a folder with a manifest is complete.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from ..modalities import codec_names, get_codec
from ..utils import atomic_write_text
from .base import MemoryDataset


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False


def write_manifest(ds: MemoryDataset, out_dir: str | os.PathLike) -> Path:
    """Write ds under out_dir (see the module docstring); returns the path of manifest.jsonl."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cols, n = ds.columns, len(ds)
    rows: list[dict] = [{} for _ in range(n)]

    for col in (c for c in codec_names() if c in cols):     # image, vector, ...: the codec writes its files
        for i, cell in enumerate(get_codec(col).write_column(cols[col], out)):
            rows[i][col] = cell
    if "audio" in cols:
        copied: dict[str, str] = {}
        for i, src in enumerate(cols["audio"]):
            if src not in copied:
                p = Path(src)
                if _inside(p, out):
                    copied[src] = p.resolve().relative_to(out.resolve()).as_posix()
                else:
                    rel = f"audio/{len(copied):06d}{p.suffix.lower() or '.wav'}"
                    (out / "audio").mkdir(exist_ok=True)
                    shutil.copyfile(p, out / rel)
                    copied[src] = rel
            rows[i]["audio"] = copied[src]
    if "text" in cols:
        for i, t in enumerate(cols["text"]):
            rows[i]["text"] = t
    if "speaker" in cols:
        for i, who in enumerate(cols["speaker"]):
            rows[i]["speaker"] = who
    if "label" in cols:
        for i, y in enumerate(cols["label"].tolist()):
            rows[i]["label"] = int(y)
    if "attributes" in cols:
        table = ds.info.attributes or {}
        a = cols["attributes"].tolist()
        names = list(table) if len(table) == len(a[0]) else [f"attribute{j}" for j in range(len(a[0]))]
        for i, vals in enumerate(a):
            rows[i]["attributes"] = {k: (table[k][v] if k in table else int(v)) for k, v in zip(names, vals)}

    meta = ds.info.to_dict()
    for key in ("version", "skipped", "root", "modalities"):
        meta.pop(key, None)
    meta["extra"] = {k: v for k, v in meta["extra"].items() if k != "bad_rows"}
    meta["format"] = "mmgan-manifest/1"
    meta["attribute_names"] = list(ds.info.attributes)   # column order, even if a tool re-sorts the keys
    # not sort_keys: the order of `attributes` is the order of the attribute columns
    atomic_write_text(out / "dataset.json", json.dumps(meta, indent=2, ensure_ascii=False, default=str) + "\n")
    manifest = out / "manifest.jsonl"
    atomic_write_text(manifest, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return manifest
