"""load_dataset: one entry point for built-in names, image folders and manifests."""
from __future__ import annotations

from pathlib import Path

from .. import registry
from .base import MemoryDataset
from .common import convert_channels
from .errors import DataError
from .folder import load_image_folder
from .manifest import MANIFEST_NAMES, find_manifest, load_manifest


def list_datasets() -> list[str]:
    """Names of the built-in datasets."""
    return registry.names("dataset")


def load_dataset(spec: str, split: str = "train", resolution: int = 0, n: int = 0, seed: int = 0,
                 skip_bad: bool = False, channels: int = 0, target: str = "") -> MemoryDataset:
    """A dataset by built-in name, or a path to an image folder, a manifest (.jsonl/.csv) or a folder
    holding manifest.jsonl/manifest.csv.

    resolution > 0 resizes images to that square size; n > 0 takes n items (a seeded subset for users'
    data, n generated items for built-ins); channels (1 or 3) sets image channels: built-ins are
    converted, users' images of the other kind are bad rows. skip_bad skips bad rows of users' data
    (counted in info.skipped, listed in info.extra["bad_rows"]) instead of raising BadRowsError.
    target names the column a model generates (data.target; "" = the image when there is one, else
    the vector); it must be a column of the data that a registered codec makes.
    """
    return _load(spec, split, resolution, n, seed, skip_bad, channels).with_target(target)


def _load(spec: str, split: str, resolution: int, n: int, seed: int, skip_bad: bool, channels: int) -> MemoryDataset:
    spec = str(spec).strip()
    if not spec:
        raise DataError(f"no dataset given; use a built-in name ({', '.join(list_datasets())}) or a path")
    if resolution < 0 or n < 0:
        raise DataError(f"resolution and n must be >= 0, got resolution={resolution}, n={n}")
    if spec.lower() in list_datasets():
        ds = registry.build("dataset", spec.lower(), split=split, n=n, seed=seed, resolution=resolution)
        if channels and ds.has("image") and channels != ds.columns["image"].shape[1]:
            ds.columns["image"] = convert_channels(ds.columns["image"], channels, ds.info.name)
            ds.info.shape = tuple(ds.columns[ds.info.kind].shape[1:])
            ds.info.version = ""
            ds = MemoryDataset(ds.info, ds.columns)   # recompute the content hash
        return ds

    path = Path(spec).expanduser()
    kwargs = dict(split=split, resolution=resolution, n=n, seed=seed, skip_bad=skip_bad, channels=channels)
    if path.is_file():
        return load_manifest(path.resolve(), **kwargs)
    if path.is_dir():
        manifest = find_manifest(path)
        if manifest is not None:
            return load_manifest(manifest.resolve(), **kwargs)
        return load_image_folder(path.resolve(), **kwargs)
    raise DataError(f"unknown dataset {spec!r}: not a built-in ({', '.join(list_datasets())}) and no file or "
                    f"folder at {path.absolute()} (a path may be an image folder, a manifest .jsonl/.csv, or a "
                    f"folder holding {' or '.join(MANIFEST_NAMES)})")
