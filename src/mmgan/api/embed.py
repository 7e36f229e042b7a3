"""The Python API of the joint space: embed anything, embedding arithmetic, nearest neighbours.

    from mmgan.multimodal import embed, arithmetic, nearest
    v = embed("runs/00003-shapes-dfgan", text=["a red circle"], image=["red.png"])   # {"text": (1, d), ...}
    q = arithmetic(space, "image:red_circle.png - text:red + text:blue")            # (d,) unit vector
    idx, scores = nearest(q, gallery, k=5)
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..conditioning.joint import JointSpace

_SPACES: dict[str, JointSpace] = {}


def load_space(source: str | Path | JointSpace) -> JointSpace:
    """A JointSpace as given, or loaded (once per process) from a run, checkpoint, export or saved space."""
    if isinstance(source, JointSpace):
        return source
    key = str(Path(source).resolve())
    if key not in _SPACES:
        _SPACES[key] = JointSpace.from_pretrained(source)
    return _SPACES[key]


def embed(source: str | Path | JointSpace, text: Sequence[str] | str | None = None, audio: Any = None,
          image: Any = None, labels: Sequence[int] | None = None) -> dict[str, np.ndarray]:
    """Unit vectors (n, dim) for every modality given."""
    space = load_space(source)
    given = {"text": text, "audio": audio, "image": image, "label": labels}
    out = {m: space.embed(m, v) for m, v in given.items() if v is not None}
    if not out:
        raise ValueError("nothing to embed: pass text, audio, image or labels")
    return out


MODALITIES = ("text", "audio", "image", "label")


def parse_expression(expr: str) -> list[tuple[int, str, str]]:
    """'image:a.png - text:red + text:blue' -> [(+1, 'image', 'a.png'), (-1, 'text', 'red'), (+1, 'text', 'blue')].

    Terms are MODALITY:ITEM joined by ' + ' or ' - ' (spaces around the sign)."""
    parts = re.split(r"\s+([+-])\s+", " + " + expr.strip())
    terms = []
    for sign, term in zip(parts[1::2], parts[2::2]):
        modality, _, item = term.partition(":")
        if modality not in MODALITIES or not item.strip():
            raise ValueError(f"cannot read the term {term!r} of {expr!r}; write terms like 'image:red.png - text:red "
                             f"+ text:blue' (modalities: {', '.join(MODALITIES)}; ' + ' or ' - ' between terms)")
        terms.append((-1 if sign == "-" else 1, modality, item.strip()))
    return terms


def arithmetic(source: str | Path | JointSpace, expr: str | Sequence[tuple[int, str, Any]]) -> np.ndarray:
    """Signed sum of embeddings, normalized: a point in the joint space to search from."""
    space = load_space(source)
    terms = parse_expression(expr) if isinstance(expr, str) else list(expr)
    total = np.zeros(space.dim, dtype=np.float32)
    for sign, modality, item in terms:
        item = int(item) if modality == "label" else item
        total += sign * space.embed(modality, [item])[0]
    n = float(np.linalg.norm(total))
    if n < 1e-8:
        raise ValueError("the expression sums to the zero vector")
    return total / n


def nearest(query: np.ndarray, gallery: np.ndarray, k: int = 5, exclude: Sequence[int] = ()) -> tuple[np.ndarray, np.ndarray]:
    """Indices and cosine scores of the k gallery vectors nearest to query (d,)."""
    scores = np.asarray(gallery) @ np.asarray(query).reshape(-1)
    scores = scores.astype(np.float64)
    scores[list(exclude)] = -np.inf
    idx = np.argsort(-scores)[:k]
    return idx, scores[idx]
