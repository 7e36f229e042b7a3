"""A folder of images: files directly inside (unconditional) or one sub-folder per class (labels).

Class names are the sorted sub-folder names; hidden entries (".name") and non-image files are ignored.
Rows, for error reports, are the image files in sorted order (class folder, then file name), from 1.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .base import DataInfo, MemoryDataset
from .common import rng_for
from .errors import BadRow, DataError, settle_bad_rows
from .images import IMAGE_SUFFIXES, LoadedImage, RowProblem, check_channels_arg, read_image, stack_images

CONVENTION = "rows are the image files in sorted order, counted from 1"


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_SUFFIXES)


def user_subset(rows: list, n: int, seed: int) -> list:
    """A seeded subset of n rows (in their original order) for quick runs on big folders; it depends
    on the seed and the row count only, so a moved or copied folder gives the same subset."""
    if n <= 0 or n >= len(rows):
        return rows
    keep = np.sort(rng_for(seed, "user-data", "subset").permutation(len(rows))[:n])
    return [rows[i] for i in keep]


def check_user_split(source: str, split: str) -> None:
    if split not in ("train", "all"):
        raise DataError(f"{source}: split {split!r} asked for, but this data has no splits (a manifest may "
                        "have a 'split' column with values such as train/test); use split=train or all")


def load_image_folder(root: Path, split: str = "train", resolution: int = 0, n: int = 0, seed: int = 0,
                      skip_bad: bool = False, channels: int = 0) -> MemoryDataset:
    source = f"image folder {root}"
    check_user_split(source, split)
    check_channels_arg(channels)
    top = _images_in(root)
    class_dirs = [d for d in sorted(root.iterdir()) if d.is_dir() and not d.name.startswith(".") and _images_in(d)]
    if top and class_dirs:
        raise DataError(f"{source} holds both images ({top[0].name}, ...) and class sub-folders "
                        f"({class_dirs[0].name}/, ...); put every image in a class folder, or none")
    if not top and not class_dirs:
        raise DataError(f"{source} has no images ({', '.join(IMAGE_SUFFIXES)}) directly inside nor in "
                        "sub-folders, and no manifest.jsonl/manifest.csv")
    class_names = [d.name for d in class_dirs]
    files = [(p, None) for p in top] + [(p, k) for k, d in enumerate(class_dirs) for p in _images_in(d)]
    rows = user_subset(list(enumerate(files, start=1)), n, seed)

    bad: list[BadRow] = []
    loaded: list[LoadedImage] = []
    for row, (path, _) in rows:
        try:
            pixels, ch = read_image(path, resolution)
            loaded.append(LoadedImage(row, pixels, ch))
        except RowProblem as e:
            bad.append(BadRow(row, "image", str(e)))
    ch_bad, index, x, target = stack_images(loaded, channels, resolution, source)
    bad += ch_bad
    skip = settle_bad_rows(source, bad, len(rows), CONVENTION, skip_bad)
    kept = [(row, label) for row, (_, label) in rows if row not in skip]

    x = x[torch.tensor([index[row] for row, _ in kept])]
    columns = {"image": x}
    if class_names:
        columns["label"] = torch.tensor([label for _, label in kept], dtype=torch.long)
    extra = {"bad_rows": [b.to_dict() for b in sorted(bad, key=lambda b: b.row)]} if bad else {}
    info = DataInfo(name=root.name, kind="image", shape=tuple(x.shape[1:]), num_classes=len(class_names),
                    class_names=class_names, extra=extra, skipped=len(skip), root=str(root))
    return MemoryDataset(info, columns)
