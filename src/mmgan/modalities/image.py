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
from .pixels import from_pil, make_grid, save_grid, to_pil

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


def _grid_png(images: torch.Tensor) -> bytes:
    """A grid scaled up (nearest: crisp pixels) to about 256 px for the report."""
    img = to_pil(make_grid(images, nrow=GRID_ROW))
    scale = max(1, 256 // max(img.size))
    if scale > 1:
        img = img.resize((img.size[0] * scale, img.size[1] * scale), 0)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()
