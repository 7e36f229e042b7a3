"""`mmgan augment RUN --per-class N [--classes 3,5] [--balance DATA] --out DIR`: a labelled synthetic
training set from a label-conditioned run, with a memorisation check (mmgan.api.augment)."""
from __future__ import annotations

import json

from .commands import COMMANDS
from .options import add_device, add_seed
from ..api.augment import augment
from ..metrics.memorisation import describe


def _add_augment(sub):
    p = sub.add_parser("augment", help="write a labelled synthetic training set (manifest + PNGs) from a run",
                       description="Draw labelled images from a label-conditioned run into DIR/manifest.jsonl "
                       "(image, label, provenance: run, weights digest, step, seed, index) + DIR/images/*.png, "
                       "then check memorisation: each synthetic image's nearest real training neighbour "
                       "(pixels and in-project features) next to held-out real images', and the exact-copy rate. "
                       "`mmgan train --data DIR` reads the folder.")
    p.add_argument("run", help="run folder, checkpoint folder or exported pipeline (conditioned on labels)")
    p.add_argument("--per-class", type=int, default=0, help="images per class")
    p.add_argument("--classes", help="comma list of class indices or names (default: every class of the run)")
    p.add_argument("--balance", metavar="DATA", help="a manifest, folder or built-in dataset: add images to each "
                   "of its classes up to its largest class's count (instead of --per-class)")
    add_seed(p, "seed of the first image; image i uses seed + i (default 0)")
    p.add_argument("--truncation", type=float, default=1.0)
    p.add_argument("--data", help="the run's training data, when it has moved (for the memorisation check)")
    p.add_argument("--no-features", action="store_true", help="memorisation check in pixels only (no feature network)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    add_device(p)
    p.add_argument("--out", required=True, help="output folder")


def _run_augment(args) -> int:
    if args.balance is None and args.per_class < 1:
        raise SystemExit("error: give --per-class N (N >= 1) or --balance DATA")
    try:
        result = augment(args.run, args.out, per_class=args.per_class, classes=args.classes, balance=args.balance,
                         seed=args.seed, device=args.device, data=args.data, features=not args.no_features,
                         truncation=args.truncation)
    except ValueError as e:
        raise SystemExit(f"error: {e}") from None
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    n = sum(result["counts"].values())
    print(f"wrote {n} synthetic images ({', '.join(f'class {k}: {v}' for k, v in result['counts'].items())}) "
          f"to {result['manifest']}")
    if result["memorisation"]:
        for line in describe(result["memorisation"]):
            print(line)
    return 0


COMMANDS["augment"] = (_add_augment, _run_augment)
