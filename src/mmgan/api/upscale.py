"""upscale_to_path() and interpolate(): what `mmgan upscale` and `mmgan interpolate` call."""
from __future__ import annotations

from pathlib import Path

from ..modalities.image_files import IMAGE_SUFFIXES
from ..pipeline import Pipeline
from ..utils import atomic_write

UPSCALE_FAMILIES = ("srresnet", "esrgan")


def upscale_to_path(run: str | Path, image: str | Path, out: str | Path, tile: int = 128, overlap: int = 8,
                    context: int = 0, device: str = "auto", pipe: Pipeline | None = None) -> list[Path]:
    """One image -> one file (out: a file name; a folder gets IMAGE's stem + .png), or a folder of images ->
    a folder of PNGs of the same stems. Returns the files written."""
    pipe = pipe or Pipeline.from_pretrained(run, device=device)
    if not getattr(pipe.generator, "upscales", False):
        raise ValueError(f"{run} is a {pipe.model_config['family']} model; `mmgan upscale` takes a super-resolution "
                         f"run ({', '.join(UPSCALE_FAMILIES)}: mmgan train --task upscale)")
    files, targets = image_jobs(image, out)
    written = []
    for f, t in zip(files, targets):                 # one at a time: memory stays bounded by one image
        img = pipe.upscale(f, tile=tile, overlap=overlap, context=context).objects[0]
        written.append(save_image(img, t))
    return written


def image_jobs(image: str | Path, out: str | Path) -> tuple[list[Path], list[Path]]:
    """--image FILE|FOLDER and --out FILE|FOLDER -> (input files, output files): a folder's images (sorted) go
    to a folder of PNGs of the same stems; one image to `out` (a folder: IMAGE's stem + .png)."""
    src, out = Path(image), Path(out)
    if src.is_dir():
        files = sorted(p for p in src.iterdir() if p.is_file() and not p.name.startswith(".")
                       and p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise FileNotFoundError(f"{src} holds no images ({', '.join(IMAGE_SUFFIXES)})")
        if out.suffix:
            raise ValueError(f"--image {src} is a folder: --out must be a folder too, got {out}")
        return files, [out / f"{p.stem}.png" for p in files]
    if not src.exists():
        raise FileNotFoundError(f"image not found: {src}")
    return [src], [out / f"{src.stem}.png" if (out.is_dir() or not out.suffix) else out]


def save_image(img, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(target, lambda tmp, fmt=image_format(target): img.save(tmp, format=fmt))
    return target


def image_format(path: Path) -> str:
    """PIL's format name for a file name (PNG unless the suffix names another)."""
    ext = path.suffix.lower()
    return {".jpg": "JPEG", ".jpeg": "JPEG", ".bmp": "BMP", ".webp": "WEBP", ".tif": "TIFF", ".tiff": "TIFF"}.get(ext, "PNG")


def interpolate(psnr_run: str | Path, gan_run: str | Path, alpha: float, out: str | Path) -> Path:
    """ESRGAN's network interpolation: theta = (1 - alpha) theta_PSNR + alpha theta_GAN, weight by weight, for
    two runs with the same generator (the GAN twin started from the PSNR run). Writes an exported pipeline
    (config.json + generator.safetensors) with the GAN run's config and a note of the blend."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"--alpha must lie in [0, 1] (0 = the PSNR model, 1 = the GAN), got {alpha}")
    a = Pipeline.from_pretrained(psnr_run, device="cpu")
    b = Pipeline.from_pretrained(gan_run, device="cpu")
    for p, name in ((a, psnr_run), (b, gan_run)):
        if p.model_config["family"] not in UPSCALE_FAMILIES:
            raise ValueError(f"{name} is a {p.model_config['family']} run; interpolation takes "
                             f"{' / '.join(UPSCALE_FAMILIES)} runs")
    sa, sb = a.generator.state_dict(), b.generator.state_dict()
    diff = [k for k in sa if k not in sb or sa[k].shape != sb[k].shape]
    diff += [k for k in sb if k not in sa]
    if diff:
        raise ValueError(f"{psnr_run} and {gan_run} have different generators (e.g. {diff[:3]}); interpolation needs "
                         f"the same model.g_width and model.extra scale/body/blocks/growth/skip")
    mixed = {k: ((1 - alpha) * sa[k].float() + alpha * sb[k].float()).to(sa[k].dtype)
             if sa[k].is_floating_point() and not k.startswith("examples_") else sb[k] for k in sb}
    b.generator.load_state_dict(mixed)
    b.config = {**b.config, "interpolated": {"psnr": str(psnr_run), "gan": str(gan_run), "alpha": float(alpha)}}
    return b.save_pretrained(out)
