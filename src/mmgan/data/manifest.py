"""Manifests: manifest.jsonl (one JSON object per line) or manifest.csv (header row), validated in full.

Columns, any subset (but one that a model can generate is needed: image, vector, or another
registered codec's column, read by that codec: mmgan.modalities):
  image       path of an image file, relative to the manifest's folder (absolute allowed)
  text        a caption (non-empty)
  audio       path of an audio file (kept as an absolute path; must be readable, non-empty and not silent;
              read by the audio codec, the target when the data has no image)
  label       a class index (an integer, or a string of digits) or a class name (names map to sorted
              indices, kept in class_names; dataset.json's class_names win when present)
  vector      row index into vectors.npy next to the manifest (vector data, e.g. written 2-D mixtures)
  attributes  {name: value} (a JSON object; in CSV a JSON string), names/values from dataset.json
  speaker     who speaks the row's audio (a name or number, non-empty): clips of one speaker are one voice
              for a voice condition (`--set "model.condition=[label,voice]"`, `mmgan generate --voice ref.wav`)
  split       optional: train/test/...; with it, split=... selects rows (all = every row)
  provenance  optional, not read: where a synthetic row came from (`mmgan augment`: run, weights, step, seed)
A column is present when any row has it; then every row needs a value. dataset.json next to the
manifest (written by write_manifest) restores name, class names, attributes and extra.

Row numbers: 1-based data rows. In .jsonl row N is line N (blank lines are skipped but counted);
in .csv row 1 is the first row after the header.
"""
from __future__ import annotations

import csv
import json
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from ..modalities import ColumnError, ReadOptions, codec_names, default_target, get_codec
from .base import DataInfo, MemoryDataset
from .errors import BadRow, DataError, settle_bad_rows
from .folder import user_subset
from .images import RowProblem, check_channels_arg

MANIFEST_NAMES = ("manifest.jsonl", "manifest.csv")
KNOWN = ("image", "text", "audio", "label", "vector", "attributes", "speaker", "split", "provenance")
JSONL_CONVENTION = "row N is line N of the .jsonl file, counted from 1"
CSV_CONVENTION = "row 1 is the first data row after the CSV header, so row N is line N+1"
_DIGITS = re.compile(r"-?\d+")


@dataclass
class Row:
    row: int
    values: dict


def find_manifest(folder: Path) -> Path | None:
    for name in MANIFEST_NAMES:
        if (folder / name).is_file():
            return folder / name
    return None


# ---- reading ---------------------------------------------------------------------------------------

def read_jsonl(path: Path) -> tuple[list[Row], list[str], list[BadRow]]:
    rows, bad, columns = [], [], {}
    with open(path, encoding="utf-8-sig") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line.strip())     # strip: an error column refers to this line
            except json.JSONDecodeError as e:
                bad.append(BadRow(lineno, "row", f"not valid JSON ({e.msg} at column {e.colno})"))
                continue
            if not isinstance(obj, dict):
                bad.append(BadRow(lineno, "row", f"expected a JSON object {{...}}, got {type(obj).__name__}"))
                continue
            columns.update(dict.fromkeys(obj))
            rows.append(Row(lineno, obj))
    return rows, list(columns), bad


def read_csv(path: Path) -> tuple[list[Row], list[str], list[BadRow]]:
    rows, bad = [], []
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if not header:
            raise DataError(f"{path}: empty CSV file; the first line must be a header such as image,text,label")
        header = [h.strip() for h in header]
        if "" in header or len(set(header)) != len(header):
            raise DataError(f"{path}: CSV header has empty or repeated column names: {header}")
        for i, cells in enumerate(reader, start=1):
            if not any(c.strip() for c in cells):
                continue
            if len(cells) != len(header):
                bad.append(BadRow(i, "row", f"{len(cells)} cells but the header has {len(header)} "
                                            f"({', '.join(header)}); quote values that contain commas"))
                continue
            # CSV has no null: an empty cell is a missing value
            rows.append(Row(i, {h: (c if c.strip() else None) for h, c in zip(header, cells)}))
    return rows, header, bad


def read_dataset_json(folder: Path) -> dict:
    p = folder / "dataset.json"
    if not p.is_file():
        return {}
    try:
        d = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise DataError(f"{p}: not valid JSON ({e.msg} at line {e.lineno}); fix or delete it") from None
    if not isinstance(d, dict):
        raise DataError(f"{p}: expected a JSON object with name, class_names, attributes, extra")
    return d


# ---- one value at a time (each raises RowProblem) ---------------------------------------------------

def known_columns() -> tuple[str, ...]:
    """KNOWN, then the columns of codecs registered beyond image and vector."""
    return KNOWN + tuple(c for c in codec_names() if c not in KNOWN)


def _a(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def _present(v) -> bool:
    return v is not None and not (isinstance(v, str) and not v.strip())




def parse_text(v) -> str:
    if v is None:
        raise RowProblem("missing value (a caption)")
    if not isinstance(v, str):
        raise RowProblem(f"caption must be a string, got {type(v).__name__} {v!r}")
    if not v.strip():
        raise RowProblem("empty caption")
    return v.strip()


def parse_speaker(v) -> str:
    """A speaker: a non-empty name, or a whole number (kept as its text)."""
    if not _present(v):
        raise RowProblem("missing value (who speaks the clip: a name or number)")
    if isinstance(v, bool) or not isinstance(v, (int, float, str)):
        raise RowProblem(f"speaker must be a name or number, got {type(v).__name__} {v!r}")
    if isinstance(v, float):
        if not v.is_integer():
            raise RowProblem(f"speaker {v!r} is not a whole number; give a name or an integer")
        v = int(v)
    return str(v).strip()


def parse_label(v) -> int | str:
    if not _present(v):
        raise RowProblem("missing value (a class index or name)")
    if isinstance(v, bool) or not isinstance(v, (int, float, str)):
        raise RowProblem(f"unknown label type {type(v).__name__} {v!r}; use an integer class index or a class name")
    if isinstance(v, float):
        if not v.is_integer():
            raise RowProblem(f"label {v!r} is not a whole number")
        v = int(v)
    if isinstance(v, str):
        v = v.strip()
        if not _DIGITS.fullmatch(v):
            return v
        v = int(v)
    if v < 0:
        raise RowProblem(f"negative label {v}")
    return v


def parse_attributes(v) -> dict:
    if not _present(v):
        raise RowProblem("missing value (an object of attribute name: value)")
    if isinstance(v, str):
        try:
            v = json.loads(v)
        except json.JSONDecodeError:
            raise RowProblem(f"not a JSON object: {v!r}") from None
    if not isinstance(v, dict):
        raise RowProblem(f"expected an object of attribute name: value, got {type(v).__name__}")
    return v


# ---- whole-column mappings --------------------------------------------------------------------------

def map_labels(values: dict[int, int | str], known: list) -> tuple[dict[int, int], list, list[BadRow]]:
    bad, out = [], {}
    if known:
        for row, v in values.items():
            if isinstance(v, str) and v not in known:
                bad.append(BadRow(row, "label", f"class {v!r} is not among dataset.json's class_names"))
            elif isinstance(v, int) and v >= len(known):
                bad.append(BadRow(row, "label", f"class index {v} but dataset.json lists {len(known)} class_names"))
            else:
                out[row] = known.index(v) if isinstance(v, str) else v
        return out, list(known), bad
    names = sorted({v for v in values.values() if isinstance(v, str)})
    numbers = [r for r, v in values.items() if isinstance(v, int)]
    if names and numbers:  # mixed: the minority kind is the mistake
        use_names = len(values) - len(numbers) >= len(numbers)
        for row, v in values.items():
            if isinstance(v, int) == use_names:
                bad.append(BadRow(row, "label", f"label {v!r} is a {'number' if use_names else 'name'} but most "
                                                f"rows use class {'names' if use_names else 'indices'}"))
        if not use_names:
            names = []
    if names:
        out = {r: names.index(v) for r, v in values.items() if isinstance(v, str)}
        return out, names, bad
    return {r: v for r, v in values.items() if isinstance(v, int)}, [], bad


def map_attributes(values: dict[int, dict], known: dict, order: list | None = None,
                   ) -> tuple[dict[int, list[int]], dict, list[BadRow]]:
    bad, out = [], {}
    if known:
        order = [k for k in (order or []) if k in known]
        order += [k for k in known if k not in order]
        table = {k: list(known[k]) for k in order}
    else:  # build the value lists from the data: integers as indices, anything else sorted as text
        keys = list(dict.fromkeys(k for d in values.values() for k in d))
        table = {}
        for k in keys:
            vals = [d[k] for d in values.values() if k in d]
            if all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in vals):
                table[k] = [str(i) for i in range(max(vals) + 1)]
            else:
                table[k] = sorted({str(v) for v in vals})
    for row, d in values.items():
        problems, idx = [], []
        for k, vals in table.items():
            if k not in d:
                problems.append(f"missing attribute {k!r}")
                continue
            v = d[k]
            if isinstance(v, int) and not isinstance(v, bool) and 0 <= v < len(vals):
                idx.append(v)
            elif str(v) in vals:
                idx.append(vals.index(str(v)))
            else:
                problems.append(f"unknown {k} {v!r}; known: {', '.join(vals)}")
        extra = [k for k in d if k not in table]
        if extra:
            problems.append(f"unknown attribute names {extra}; known: {', '.join(table)}")
        if problems:
            bad.append(BadRow(row, "attributes", "; ".join(problems)))
        else:
            out[row] = idx
    return out, table, bad


# ---- the loader -------------------------------------------------------------------------------------

def load_manifest(path: Path, split: str = "train", resolution: int = 0, n: int = 0, seed: int = 0,
                  skip_bad: bool = False, channels: int = 0) -> MemoryDataset:
    check_channels_arg(channels)
    folder = path.parent
    is_csv = path.suffix.lower() == ".csv"
    if path.suffix.lower() not in (".jsonl", ".csv"):
        raise DataError(f"{path}: a manifest must be .jsonl (one JSON object per line) or .csv (with a header)")
    convention = CSV_CONVENTION if is_csv else JSONL_CONVENTION
    rows, columns, bad = (read_csv if is_csv else read_jsonl)(path)
    meta = read_dataset_json(folder)
    source = f"manifest {path}"

    if not rows:  # nothing parsed: report the unreadable lines (or the emptiness), not "missing columns"
        settle_bad_rows(source, bad, len(bad), convention, skip_bad)
    known = known_columns()
    unknown = [c for c in columns if c not in known]
    if unknown:
        warnings.warn(f"{source}: ignoring unknown columns {unknown}; known columns: {', '.join(known)}",
                      stacklevel=3)
    targets = [c for c in codec_names() if c in columns]       # columns a model can generate
    kind = meta.get("kind")
    if not targets:
        hint = f" (dataset.json says this is {_a(kind)} {kind} dataset)" if kind else ""
        others = ", ".join(repr(c) for c in codec_names() if c != "image")
        raise DataError(f"{source}: no 'image' column{hint} (nor another column a model can generate: {others}); "
                        f"columns found: {', '.join(columns) or 'none'}. Every row needs an image path in 'image' "
                        "(or a row index into vectors.npy in 'vector')")
    if kind in codec_names() and kind not in columns:
        raise DataError(f"{source}: no {kind!r} column, but dataset.json says this is {_a(kind)} {kind} dataset; "
                        f"columns found: {', '.join(columns)}")

    # split selection: by the split column when there is one
    if "split" in columns:
        if split != "all":
            for r in rows:
                if not _present(r.values.get("split")):
                    bad.append(BadRow(r.row, "split", "missing value (train, test, ...)"))
            present = sorted({str(r.values["split"]).strip() for r in rows if _present(r.values.get("split"))})
            rows = [r for r in rows if _present(r.values.get("split")) and str(r.values["split"]).strip() == split]
            if not rows:
                raise DataError(f"{source}: no rows with split {split!r}; splits present: {', '.join(present)}")
    elif split not in ("train", "all"):
        raise DataError(f"{source}: split {split!r} asked for, but the manifest has no 'split' column; "
                        "add one (values such as train/test) or use split=train or all")
    rows = user_subset(rows, n, seed)
    total = len(rows) + len({b.row for b in bad})

    opts = ReadOptions(folder, resolution, channels, source)
    try:                                                      # one reader per codec column (image, vector, ...)
        readers = {c: get_codec(c).reader(opts) for c in targets}
    except ColumnError as e:
        raise DataError(f"{source}: {e}") from None

    values: dict[str, dict[int, object]] = {c: {} for c in known}
    for r in rows:
        for col in known:
            if col not in columns or col == "split":
                continue
            v = r.values.get(col)
            try:
                if col in readers:
                    values[col][r.row] = readers[col].read(v)
                elif col == "text":
                    values["text"][r.row] = parse_text(v)
                elif col == "label":
                    values["label"][r.row] = parse_label(v)
                elif col == "speaker":
                    values["speaker"][r.row] = parse_speaker(v)
                else:
                    values["attributes"][r.row] = parse_attributes(v)
            except RowProblem as e:
                bad.append(BadRow(r.row, col, str(e)))

    labels, class_names, label_bad = map_labels(values["label"], meta.get("class_names") or [])
    attrs, attr_table, attr_bad = map_attributes(values["attributes"], meta.get("attributes") or {},
                                                 meta.get("attribute_names") or [])
    read = {}
    for col, reader in readers.items():
        try:
            read[col] = reader.collate(values[col])
        except ColumnError as e:
            raise DataError(f"{source}: {e}") from None
        bad += [BadRow(row, col, problem) for row, problem in read[col].bad]
    bad += label_bad + attr_bad
    bad.sort(key=lambda b: (b.row, known.index(b.column) if b.column in known else -1))
    skip = settle_bad_rows(source, bad, total, convention, skip_bad)
    kept = [r.row for r in rows if r.row not in skip]

    cols: dict = {}
    for col, c in read.items():
        at = [c.index[r] for r in kept]
        cols[col] = c.values[torch.tensor(at)] if torch.is_tensor(c.values) else [c.values[i] for i in at]
    if "label" in columns:
        cols["label"] = torch.tensor([labels[r] for r in kept], dtype=torch.long)
    if "attributes" in columns:
        cols["attributes"] = torch.tensor([attrs[r] for r in kept], dtype=torch.long).reshape(len(kept), -1)
    if "text" in columns:                                     # captions after the labels (the text codec read them)
        cols["text"] = cols.pop("text") if "text" in cols else [values["text"][r] for r in kept]
    if "speaker" in columns:
        cols["speaker"] = [values["speaker"][r] for r in kept]

    extra = dict(meta.get("extra") or {})
    extra.pop("bad_rows", None)
    for c in read.values():                                   # what a column tells the info (a video column's fps)
        extra.update(c.extra)
    if bad:
        extra["bad_rows"] = [b.to_dict() for b in bad]
    if "label" not in cols:
        class_names = []
    target = default_target(cols)
    num_classes = max(len(class_names), int(cols["label"].max()) + 1 if "label" in cols else 0,
                      int(meta.get("num_classes") or 0) if "label" in cols else 0)
    info = DataInfo(name=str(meta.get("name") or folder.name), kind=target,
                    shape=get_codec(target).item_shape(cols[target]), num_classes=num_classes, class_names=list(class_names),
                    attributes=attr_table if "attributes" in cols else {}, extra=extra,
                    skipped=len(skip), root=str(folder))
    return MemoryDataset(info, cols)
