"""The image codec: (c, h, w) tensors in [-1, 1] <-> PIL images; PNG files, sample grids, PNGs served."""
from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from PIL import Image

from ..config import ConfigError
from ..utils import atomic_write
from .base import Codec, Column, ColumnReader, Figure, ReadOptions, cell_path, register_codec
from .image_files import LoadedImage, read_image, stack_images
from .pixels import from_pil, make_grid, resize_images, save_grid, to_pil

GRID_ROW = 8                  # images per row of a sample grid (the logger's rows are one class each)


@register_codec
class ImageCodec(Codec):
    name = "image"
    attribute = "images"
    media_type = "image/png"
    store_asset = "image.png"
    rank = 0
    preview_count = 64
    bf16_auto = True
    channels_last = True
    is_image = True

    def to_object(self, x: torch.Tensor) -> Image.Image:
        return to_pil(x)

    def from_object(self, obj: Any) -> torch.Tensor:
        return from_pil(obj)

    def to_generator(self, x: torch.Tensor, model: Mapping) -> torch.Tensor:
        res = int(model["resolution"])
        if x.shape[-1] == res:
            return x
        return F.interpolate(x, size=res, mode="bilinear", antialias=True, align_corners=False).clamp(-1, 1)

    def source_spec(self, column: Any) -> dict:
        c, h, w = (int(v) for v in column.shape[1:])
        if h != w:
            raise ConfigError(f"images are {h}x{w}; a family reading images needs square ones: set data.resolution")
        return {"resolution": h, "channels": c}

    def prepare_source(self, items: Any, spec: Mapping) -> torch.Tensor:
        """Paths, PIL images, or tensors ((c, h, w) or (b, c, h, w) in [-1, 1]) -> (b, c, res, res) in [-1, 1]."""
        return load_images(items, int(spec["resolution"]), int(spec["channels"]))

    def configure(self, cfg: Any, ds: Any) -> None:
        super().configure(cfg, ds)
        m, (c, h, w) = cfg.model, ds.info.shape
        m.channels = m.channels or int(c)
        if m.channels != c:
            raise ConfigError(f"model.channels={m.channels} but the data has {c} channels")
        m.resolution = cfg.data.resolution or m.resolution or int(h)
        if h != w:
            raise ConfigError(f"images are {h}x{w}; mmgan trains on square images: set data.resolution")

    # ---- manifests ------------------------------------------------------------------------------
    def reader(self, opts: ReadOptions) -> ColumnReader:
        return _ImageReader(self, opts)

    def write_column(self, column: torch.Tensor, folder: Path) -> list:
        (Path(folder) / "images").mkdir(parents=True, exist_ok=True)
        cells = []
        for i, x in enumerate(column):
            name = f"images/{i:06d}.png"
            to_pil(x).save(Path(folder) / name, format="PNG")     # not fsynced one by one: the manifest is last
            cells.append(name)
        return cells

    # ---- outputs --------------------------------------------------------------------------------
    def write(self, objects: list, x: torch.Tensor, folder: Path, info: Mapping) -> list[Path]:
        written = []
        for i, img in enumerate(objects):
            p = Path(folder) / f"{i:05d}.png"
            atomic_write(p, lambda tmp, img=img: img.save(tmp, format="PNG"))
            written.append(p)
        written.append(self.preview(x, Path(folder) / "grid.png", info))
        return written

    def preview(self, x: torch.Tensor, path: Path, info: Mapping, title: str = "",
                real: torch.Tensor | None = None) -> Path:
        return save_grid(x, path, nrow=GRID_ROW)

    def report_figures(self, fake: torch.Tensor, real: torch.Tensor, info: Mapping, name: str) -> list[Figure]:
        return [Figure(_grid_png(fake), "generated (EMA generator; one row per class or condition)"),
                Figure(_grid_png(real), f"real ({name} training split)")]

    def tensorboard(self, writer: Any, x: torch.Tensor, step: int) -> None:
        writer.add_images("samples", (x[:32] + 1) / 2, step)

    def response(self, obj: Image.Image) -> dict:
        buf = io.BytesIO()
        obj.save(buf, format="PNG", compress_level=1)       # fast; these are small images
        return {"png": buf.getvalue()}


class _ImageReader(ColumnReader):
    """Decodes and checks each file as it is read; channels and sizes are settled over the column."""

    def read(self, value: Any) -> LoadedImage:
        pixels, ch = read_image(cell_path(value, self.opts.folder), self.opts.resolution)
        return LoadedImage(0, pixels, ch)

    def collate(self, cells: Mapping[int, LoadedImage]) -> Column:
        loaded = [LoadedImage(row, it.pixels, it.channels) for row, it in sorted(cells.items())]
        bad, index, x, _ = stack_images(loaded, self.opts.channels, self.opts.resolution)
        return Column(x, index, bad)


def load_images(image: Any, resolution: int, channels: int) -> torch.Tensor:
    """Paths, PIL images or tensors ((c, h, w) or (b, c, h, w) in [-1, 1]) -> (b, c, res, res); a file
    that is missing or not an image is an error naming it."""
    if torch.is_tensor(image):
        x = image[None] if image.dim() == 3 else image
        if x.dim() != 4 or x.shape[1] != channels:
            raise ValueError(f"images have shape {tuple(image.shape)}; this model takes {channels}-channel images "
                             f"((c, h, w) or (b, c, h, w) in [-1, 1])")
        return resize_images(x.float(), resolution)
    items = [image] if isinstance(image, (str, Path)) or hasattr(image, "convert") else list(image)
    out = []
    for item in items:
        if torch.is_tensor(item):
            out.append(load_images(item, resolution, channels)[0])
            continue
        if isinstance(item, (str, Path)):
            if not Path(item).is_file():
                raise FileNotFoundError(f"image not found: {item}")
            try:
                with Image.open(item) as im:
                    item = im.copy()
            except Exception as e:          # PIL raises UnidentifiedImageError, OSError, ... for broken files
                raise ValueError(f"unreadable image {item} ({type(e).__name__}: {e})") from None
        elif not hasattr(item, "convert"):
            raise ValueError(f"expected an image path, a PIL image or a tensor, got {type(item).__name__}")
        out.append(from_pil(item, resolution, channels))
    if not out:
        raise ValueError("no images given")
    return torch.stack(out)


def _grid_png(images: torch.Tensor) -> bytes:
    """A grid scaled up (nearest: crisp pixels) to about 256 px for the report."""
    img = to_pil(make_grid(images, nrow=GRID_ROW))
    scale = max(1, 256 // max(img.size))
    if scale > 1:
        img = img.resize((img.size[0] * scale, img.size[1] * scale), 0)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()
