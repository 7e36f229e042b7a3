"""`mmgan restore`: restoration runs (restorer; mmgan train --task restore).

    mmgan restore RUN --image damaged.png|FOLDER [--mask mask.png|FOLDER] --out fixed.png|FOLDER [--tile 256]
"""
from __future__ import annotations

import sys

from .commands import COMMANDS
from .options import add_device, add_tiling
from ..api.restore import restore_to_path


def _add_restore(sub):
    p = sub.add_parser("restore", help="fill holes, remove noise and JPEG artefacts with a restoration run",
                       description="Restore damaged images of any size with a restorer run (mmgan train --task "
                       "restore --degrade noise,jpeg,mask). Holes and scratches are filled where --mask is white; "
                       "without --mask a model trained on noise/JPEG removes those only (one trained on holes only "
                       "asks for a mask). Big images go through in tiles, each read with extra context, so there "
                       "are no seams and memory stays bounded.")
    p.add_argument("run", help="run folder, checkpoint folder or exported pipeline")
    p.add_argument("--image", required=True, help="a damaged image, or a folder of them (then --out is a folder)")
    p.add_argument("--mask", help="the holes, white on black, the image's size: one file for every image, or a "
                   "folder with one mask per image named after it (e.g. photo.png for photo.jpg)")
    p.add_argument("--out", required=True, help="output file (.png, .jpg, ...) or folder (PNGs named after the inputs)")
    add_tiling(p, 256)
    add_device(p)


def _run_restore(args) -> int:
    for path in restore_to_path(args.run, args.image, args.out, mask=args.mask, tile=args.tile,
                                overlap=args.overlap, context=args.context, device=args.device,
                                log=lambda m: print(m, file=sys.stderr)):
        print(path)
    return 0


COMMANDS["restore"] = (_add_restore, _run_restore)
