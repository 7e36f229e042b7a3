"""Which joint space embeds a store's items when the user names none (`mmgan index DATA --store DIR`).

In order: the space the store was built with (its recorded source, else DIR/joint/), then the joint
space of a run trained on the same data (RUN/joint/ of runs/*, newest first). When there is none,
the CLI fits one on the data and keeps it in DIR/joint/, where later searches find it.
"""
from __future__ import annotations

from pathlib import Path

import yaml

from .store import Store

SPACE_DIRNAME = "joint"              # DIR/joint/: a joint space fitted for this store
RUNS_ROOT = "runs"                   # where `mmgan train` puts numbered runs by default (train.out)


def store_space_dir(store: Store) -> Path | None:
    """DIR/joint/ of a store folder (None for a store reached only by URI)."""
    return store.endpoint.path / SPACE_DIRNAME if store.endpoint.path is not None else None


def _has_space(path: Path | None) -> bool:
    return path is not None and (path / "config.json").exists()


def store_space(store: Store) -> str:
    """The joint space this store's vectors come from: its recorded source when that still exists, else
    DIR/joint/; "" when neither is known."""
    src = store.embedder_source
    if src and Path(src).exists():
        return src
    own = store_space_dir(store)
    if _has_space(own):
        return str(own)
    return src


def _data_key(name: str, base: Path) -> str:
    """A comparable form of a data source: a resolved folder for a manifest or folder, else the name."""
    p = Path(name).expanduser()
    if not p.is_absolute():
        p = base / p
    if p.exists():
        p = p.resolve()
        return str(p.parent if p.is_file() and p.stem == "manifest" else p)
    return name.strip().lower()


def runs_trained_on(data: str, root: str | Path = RUNS_ROOT) -> list[Path]:
    """Runs under `root` with a joint space (RUN/joint/) trained on `data`, newest first. A run's
    relative data path is read against the folder that holds `root` (where `mmgan train` ran)."""
    root = Path(root)
    if not root.is_dir():
        return []
    want = _data_key(str(data), Path.cwd())
    found = []
    for run in root.iterdir():
        cfg_file = run / "config.yaml"
        if not (_has_space(run / SPACE_DIRNAME) and cfg_file.exists()):
            continue
        try:
            name = ((yaml.safe_load(cfg_file.read_text()) or {}).get("data") or {}).get("name") or ""
        except (OSError, yaml.YAMLError):
            continue
        if name and _data_key(str(name), root.resolve().parent) == want:
            found.append(run)
    return sorted(found, key=lambda r: (r / SPACE_DIRNAME / "config.json").stat().st_mtime, reverse=True)
