"""restore_to_path(): what `mmgan restore` calls (restorer runs: mmgan train --task restore)."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from ..modalities.image_files import IMAGE_SUFFIXES
from ..pipeline import Pipeline
from .upscale import image_jobs, save_image


def restore_to_path(run: str | Path, image: str | Path, out: str | Path, mask: str | Path | None = None,
                    tile: int = 256, overlap: int = 8, context: int = 0, device: str = "auto",
                    pipe: Pipeline | None = None, log: Callable[[str], None] = print) -> list[Path]:
    """One damaged image -> one file, or a folder -> a folder of PNGs of the same stems (as `upscale_to_path`).
    mask: a mask file (white = hole) for every image, or a folder holding one mask per image under the
    image's stem (any image suffix). Without a mask a model trained with holes restores noise and JPEG only
    (said in `log`); one trained on holes only raises. Returns the files written."""
    pipe = pipe or Pipeline.from_pretrained(run, device=device)
    g = pipe.generator
    if not getattr(g, "restores", False):
        raise ValueError(f"{run} is a {pipe.model_config['family']} model; `mmgan restore` takes a restoration run "
                         f"(restorer: mmgan train --task restore)")
    files, targets = image_jobs(image, out)
    masks = mask_files(mask, files)
    if masks is None and g.fills_holes and any(k in g.kinds for k in ("noise", "jpeg")):
        log("no --mask: restoring noise and JPEG artefacts only; to fill holes or scratches give a mask "
            "(white = hole)")
    written = []
    for i, (f, t) in enumerate(zip(files, targets)):    # one at a time: memory stays bounded by one image
        img = pipe.restore(f, mask=None if masks is None else masks[i], tile=tile, overlap=overlap,
                           context=context).objects[0]
        written.append(save_image(img, t))
    return written


def mask_files(mask: str | Path | None, images: list[Path]) -> list[Path] | None:
    """--mask FILE (the same for every image) or FOLDER (IMAGE's stem + any image suffix) -> one path per image."""
    if mask is None:
        return None
    mask = Path(mask)
    if not mask.exists():
        raise FileNotFoundError(f"mask not found: {mask}")
    if not mask.is_dir():
        return [mask] * len(images)
    found = {p.stem: p for p in sorted(mask.iterdir()) if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES}
    missing = [f.name for f in images if f.stem not in found]
    if missing:
        raise FileNotFoundError(f"--mask {mask} has no mask for {missing[0]}"
                                f"{f' (and {len(missing) - 1} more)' if len(missing) > 1 else ''}: name each mask "
                                f"after its image (e.g. {Path(missing[0]).stem}.png, white = hole)")
    return [found[f.stem] for f in images]
