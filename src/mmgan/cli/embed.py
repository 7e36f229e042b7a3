"""`mmgan embed`: embed text, audio, images and labels into a run's joint space.

    mmgan embed RUN --text "a red circle" --image red.png --audio say.wav [--label 2] [--out vecs.npy]
    mmgan embed RUN --expr "image:red.png - text:red + text:blue" --image blue1.png --image blue2.png
Prints each input's first values and the cosine similarities between all inputs; --out writes the
vectors (.npy: an (n, dim) array; .jsonl: one {"modality", "item", "vector"} per line).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .commands import COMMANDS
from ..api.embed import arithmetic, load_space


def _add(sub) -> None:
    p = sub.add_parser("embed", help="embed text, audio, images or labels into a run's joint space",
                       description="Embed items of any modality into the joint space of a run (RUN/joint), an "
                       "exported pipeline or a saved space, and compare them.")
    p.add_argument("space", help="run folder, checkpoint, exported pipeline or joint-space folder")
    p.add_argument("--text", action="append", default=[], help="a caption (repeatable)")
    p.add_argument("--audio", action="append", default=[], help="an audio file: WAV, FLAC, OGG (repeatable)")
    p.add_argument("--image", action="append", default=[], help="an image file (repeatable)")
    p.add_argument("--label", action="append", default=[], type=int, help="a class index (repeatable)")
    p.add_argument("--expr", action="append", default=[],
                   help="embedding arithmetic, e.g. 'image:red.png - text:red + text:blue' (repeatable)")
    p.add_argument("--out", help="write the vectors to FILE.npy or FILE.jsonl")


def _run(args) -> int:
    space = load_space(args.space)
    rows: list[tuple[str, str, np.ndarray]] = []
    for modality, items in (("text", args.text), ("audio", args.audio), ("image", args.image), ("label", args.label)):
        if items:
            for item, vec in zip(items, space.embed(modality, items)):
                rows.append((modality, str(item), vec))
    for expr in args.expr:
        rows.append(("expr", expr, arithmetic(space, expr)))
    if not rows:
        raise ValueError("nothing to embed: give --text, --audio, --image, --label or --expr")
    print(f"joint space {space.id}, dim {space.dim}, modalities {', '.join(space.modalities)}")
    for i, (m, item, v) in enumerate(rows):
        print(f"[{i}] {m:5s} {item[:60]!r}: [{', '.join(f'{x:+.3f}' for x in v[:4])}, ...]")
    if len(rows) > 1:
        vecs = np.stack([v for _, _, v in rows])
        sims = vecs @ vecs.T
        print("cosine similarity:")
        print("      " + " ".join(f"[{j}]".rjust(6) for j in range(len(rows))))
        for i, row in enumerate(sims):
            print(f"[{i}]".ljust(6) + " ".join(f"{s:6.3f}" for s in row))
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.suffix == ".jsonl":
            out.write_text("".join(json.dumps({"modality": m, "item": item, "vector": v.tolist()}) + "\n"
                                   for m, item, v in rows))
        else:
            np.save(out, np.stack([v for _, _, v in rows]))
        print(f"wrote {len(rows)} vectors to {out}")
    return 0


COMMANDS["embed"] = (_add, _run)
