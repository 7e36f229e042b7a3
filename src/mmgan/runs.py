"""Run folders: what a path names (a run, a checkpoint or an exported pipeline), numbered runs, the
latest checkpoint and its meta. Everyone who turns a user's path into weights asks here.

    RUN/config.yaml  RUN/checkpoints/latest  RUN/checkpoints/step-000500/{meta.json, G_ema.safetensors, ...}
    EXPORT/config.json (format mmgan-pipeline) + EXPORT/generator.safetensors
"""
from __future__ import annotations

import os
from pathlib import Path

from .utils import load_json


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

