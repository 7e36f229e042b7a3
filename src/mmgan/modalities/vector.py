"""The vector codec: (d,) float tensors <-> numpy vectors in the data's units; samples.npy, scatters
over a mixture's modes, JSON lists served. Generators make them scaled (model.extra.data_scale)."""
from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..config import ConfigError
from ..model_options import family_options
from ..plots import scatter_modes
from ..utils import atomic_write
from .base import CellError, Codec, Column, ColumnError, ColumnReader, Figure, ReadOptions, register_codec

VECTORS_FILE = "vectors.npy"
_DIGITS = re.compile(r"-?\d+")


@register_codec
class VectorCodec(Codec):
    name = "vector"
    attribute = "vectors"
    media_type = "application/json"
    families = ("mlp",)
    rank = 1
    preview_count = 2500

    def to_object(self, x: torch.Tensor) -> np.ndarray:
        return x.detach().cpu().numpy()

    def from_object(self, obj: Any) -> torch.Tensor:
        return torch.as_tensor(np.asarray(obj, dtype=np.float32)).reshape(-1)

    @staticmethod
    def scale(model: Mapping) -> float:
        return float((model.get("extra") or {}).get("data_scale", 1.0))

    def to_generator(self, x: torch.Tensor, model: Mapping) -> torch.Tensor:
        return x * self.scale(model)

    def from_generator(self, x: torch.Tensor, model: Mapping) -> torch.Tensor:
        return x / self.scale(model)

    def configure(self, cfg: Any, ds: Any) -> None:
        m = cfg.model
        m.data_dim = int(ds.info.shape[0])
        m.channels = m.resolution = 0
        super().configure(cfg, ds)
        if cfg.loss.diffaug:
            raise ConfigError("loss.diffaug works on images; set loss.diffaug='' for vector data")
        opts = family_options(m.family)
        if "g_out" in opts.names() and opts.value(m.extra, "g_out") == "linear":
            m.extra.setdefault("data_scale", 1.0)       # no tanh to fit into: the data keeps its units
        elif "data_scale" not in m.extra:
            # tanh output: map the data into (-0.9, 0.9) and remember the scale to undo it
            peak = float(ds.columns[self.name].abs().max())
            m.extra["data_scale"] = round(0.9 / max(peak, 1e-6), 6)

    # ---- manifests: a cell is a row index into vectors.npy beside the manifest ----------------------
    def reader(self, opts: ReadOptions) -> ColumnReader:
        return _VectorReader(self, opts)

    def write_column(self, column: torch.Tensor, folder: Path) -> list:
        vec = column.detach().cpu().numpy().astype(np.float32)

        def save(tmp: str) -> None:
            with open(tmp, "wb") as f:
                np.save(f, vec, allow_pickle=False)

        atomic_write(Path(folder) / VECTORS_FILE, save)
        return list(range(len(vec)))

    # ---- outputs --------------------------------------------------------------------------------
    def write(self, objects: list, x: torch.Tensor, folder: Path, info: Mapping) -> list[Path]:
        samples = np.stack(objects) if objects else np.zeros((0, *x.shape[1:]), np.float32)
        p = Path(folder) / "samples.npy"
        atomic_write(p, lambda tmp: np.save(open(tmp, "wb"), samples))
        return [p, self.preview(x, Path(folder) / "scatter.png", info, title=f"{info.get('name', '')}: "
                                f"{len(samples)} samples")]

    def preview(self, x: torch.Tensor, path: Path, info: Mapping, title: str = "",
                real: torch.Tensor | None = None) -> Path:
        extra = info.get("extra") or {}
        means = np.asarray(extra.get("means") if extra.get("means") is not None else np.zeros((0, 2)), np.float64)
        return scatter_modes(x.detach().cpu().numpy(), means, float(extra.get("sigma", 0.0)), path, title=title,
                             real=None if real is None else real.detach().cpu().numpy())

    def report_figures(self, fake: torch.Tensor, real: torch.Tensor, info: Mapping, name: str) -> list[Figure]:
        png = self._preview_png(fake, info, title=f"{name}: {len(fake):,} samples over the modes", real=real)
        return [Figure(png, "generated samples (blue) and real (grey) over the modes (3σ circles)", 480)]

    def response(self, obj: np.ndarray) -> dict:
        return {"vector": [float(v) for v in np.asarray(obj).reshape(-1)]}


class _VectorReader(ColumnReader):
    def __init__(self, codec: VectorCodec, opts: ReadOptions):
        super().__init__(codec, opts)
        path = Path(opts.folder) / VECTORS_FILE
        if not path.is_file():
            raise ColumnError(f"has a 'vector' column but {path} is missing")
        self.vectors = np.load(path, allow_pickle=False)
        if self.vectors.ndim != 2:
            raise ColumnError(f"{path}: expected a 2-D array (rows, dims), got shape {self.vectors.shape}")

    def read(self, value: Any) -> int:
        if value is None or (isinstance(value, str) and not value.strip()):
            raise CellError("missing value (a row index into vectors.npy)")
        if isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise CellError(f"expected a row index into vectors.npy, got {type(value).__name__} {value!r}")
        if not 0 <= value < len(self.vectors):
            raise CellError(f"index {value} is outside vectors.npy (rows 0..{len(self.vectors) - 1})")
        return value

    def collate(self, cells: Mapping[int, int]) -> Column:
        rows = sorted(cells)
        x = torch.from_numpy(self.vectors[[cells[r] for r in rows]].astype(np.float32))
        return Column(x, {r: i for i, r in enumerate(rows)})
