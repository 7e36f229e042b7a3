"""The Codec: everything that is particular to one output modality, behind one interface.

A model generates one column of its data, its *target* (`data.target`: image, vector, ...). The
column's name is a codec's registry name, and that codec is asked whenever the code meets the
target's tensors: the trainer, the logger, the Pipeline, the metrics, the store, the server and the
CLI never branch on the modality themselves.

    codec = get_codec("image")
    x = codec.from_object(pil_image)                  # the user's object -> one tensor (no batch dim)
    objs = codec.to_objects(batch)                    # (b, ...) -> PIL images, numpy vectors, ...
    objs = codec.dress(objs, model, sources)          # + what the run knows (a video's fps and sound track)
    reader = codec.reader(ReadOptions(folder, ...))   # manifest cells -> one column (CellError per bad cell)
    codec.write(objs, batch, out_dir, info)           # generate's files; codec.preview(...) the run's picture

A new modality is one subclass registered with `@register_codec` (plus a model family that makes its
tensors); tests/modalities/test_plugin.py trains and generates one without touching mmgan's code.
"""
from __future__ import annotations

import os
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import torch

from ..config import ConfigError
from ..registry import UnknownNameError, get, names, register

DEFAULT_TARGET = "image"          # what a saved config that names no target generated


class CellError(ValueError):
    """One problem with one manifest cell; the caller adds the row and the column."""


class ColumnError(ValueError):
    """A problem with a whole column (files missing, items that cannot share a tensor); the caller
    adds the source."""


@dataclass(frozen=True)
class ReadOptions:
    """What a column reader may need: where relative paths start, and the data options that apply."""
    folder: Path
    resolution: int = 0           # images: resize to this square size (0 = keep)
    channels: int = 0             # images: 1 or 3 (0 = the majority)
    source: str = ""              # for messages: "manifest /path/manifest.jsonl"


@dataclass
class Column:
    """A read column: `values` (a tensor or a list) holds the good cells in row order; `index` maps a
    row number to its position there; `bad` lists (row, problem) found only when collating; `extra` is
    what the column tells the dataset's info.extra (a video column's {"fps": ...})."""
    values: Any
    index: dict[int, int]
    bad: list[tuple[int, str]] = field(default_factory=list)
    extra: dict = field(default_factory=dict)


class Figure(NamedTuple):
    png: bytes
    caption: str
    width: int | None = None      # display width in the report (None = natural)


def cell_path(value: Any, folder: Path) -> Path:
    """A manifest cell naming a file: relative to the manifest's folder (absolute allowed)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise CellError("missing value (a file path)")
    if not isinstance(value, str):
        raise CellError(f"expected a file path string, got {type(value).__name__} {value!r}")
    p = Path(value.strip()).expanduser()
    return Path(os.path.abspath(p if p.is_absolute() else folder / p))


class ColumnReader:
    """Reads one manifest column cell by cell (read), then makes the column (collate). This default
    asks the codec for each cell (Codec.read_cell) and stacks them (Codec.collate)."""

    def __init__(self, codec: "Codec", opts: ReadOptions):
        self.codec, self.opts = codec, opts

    def read(self, value: Any) -> Any:
        return self.codec.read_cell(value, self.opts)

    def collate(self, cells: Mapping[int, Any]) -> Column:
        rows = sorted(cells)
        values = self.codec.collate([cells[r] for r in rows]) if rows else None
        return Column(values, {r: i for i, r in enumerate(rows)})


class Codec(ABC):
    """One output modality. Subclasses set the class attributes and implement the abstract methods;
    the other methods have defaults that fit fixed-shape tensors."""

    name: str = ""                      # registry key = manifest column = data.target value
    attribute: str = ""                 # PipelineOutput attribute holding the objects ("images", "vectors")
    media_type: str = "application/octet-stream"   # what one object is served as
    store_asset: str | None = None      # asset name under which the server's store keeps one object, embedded
                                        # as the modality `name` ("image.png", "audio.wav"; None: not stored)
    families: tuple[str, ...] = ()      # model families that generate it (empty: any family)
    preset: str | None = None           # the preset `mmgan train` uses for this target when no family is given
                                        # (None: the image/vector recipes of training.recipes)
    rank: int = 100                     # default target order: the lowest-ranked column present wins
    preview_count: int = 64             # samples in the run's preview picture
    bf16_auto: bool = False             # train.bf16=auto may use bf16 (convolutional models of this data)
    channels_last: bool = False         # tensors are (b, c, h, w): train.channels_last applies
    is_image: bool = False              # for the old `Pipeline.is_image` / HTTP `is_image` fields only

    # ---- tensors <-> the user's objects ---------------------------------------------------------
    @abstractmethod
    def to_object(self, x: torch.Tensor) -> Any:
        """One sample (no batch dimension, in data units) -> the user's object."""

    @abstractmethod
    def from_object(self, obj: Any) -> torch.Tensor:
        """The user's object -> one sample tensor (no batch dimension, in data units)."""

    def to_objects(self, x: torch.Tensor) -> list:
        return [self.to_object(t) for t in x]

    def dress(self, objects: list, model: Mapping, sources: Mapping) -> list:
        """Generated objects completed with what the run knows: its model config and the raw sources the
        samples were made from (a source-reading family's prepared inputs, e.g. {"audio": (b, samples)
        tensor at 16 kHz}, one row per sample). The default returns the objects unchanged."""
        return objects

    def collate(self, items: list[torch.Tensor]) -> torch.Tensor:
        """Samples -> one batch. Fixed-size modalities stack; a variable-length one pads here."""
        shapes = {tuple(t.shape) for t in items}
        if len(shapes) > 1:
            raise ColumnError(f"{self.name} items differ in shape ({', '.join(map(str, sorted(shapes)[:5]))}); "
                              f"the {self.name} codec does not pad")
        return torch.stack([torch.as_tensor(t, dtype=torch.float32) for t in items])

    def item_shape(self, column: Any) -> tuple:
        """The shape of one item of a column (DataInfo.shape)."""
        return tuple(column.shape[1:])

    def data_tensor(self, column: Any, model: Mapping) -> torch.Tensor:
        """A column, or a list of its items -> one batch in data units, as a pipeline's output_type="pt"
        gives them (what metrics compare real items with). Fixed-shape columns already are tensors."""
        return torch.as_tensor(column)

    # ---- the generator's units ------------------------------------------------------------------
    def to_generator(self, x: torch.Tensor, model: Mapping) -> torch.Tensor:
        """A data column (data units) -> what the generator makes (model: the ModelConfig as a dict)."""
        return x

    def from_generator(self, x: torch.Tensor, model: Mapping) -> torch.Tensor:
        """The generator's output -> data units."""
        return x

    # ---- as a source a family reads raw (mmgan.conditioning.source) ----------------------------------
    def source_spec(self, column: Any) -> dict:
        """What a family reading this modality raw needs to know about a dataset's column of it (saved in
        model.extra.source: an image's resolution and channels, a clip's rate and length)."""
        raise ConfigError(f"no model family can read {self.name} data raw (the {self.name} codec prepares no source)")

    def prepare_source(self, items: Any, spec: Mapping) -> torch.Tensor:
        """The user's objects, file paths or a dataset column of this modality -> one batch tensor, as
        source_spec describes it (what such a family's G receives as `source`)."""
        raise ConfigError(f"no model family can read {self.name} data raw (the {self.name} codec prepares no source)")

    def default_condition(self, info: Any) -> tuple[list, str] | None:
        """(condition, why) a model of this target takes when the user names none; None: the recipes' rule."""
        return None

    def recipe(self, condition: list) -> tuple[str | None, dict, str] | None:
        """(preset or None, its settings, why) a model of this target trains with for `condition` when the
        user names no family; None: the recipes' rule (training.recipes.generic_recipe)."""
        return None

    # ---- config ---------------------------------------------------------------------------------
    def configure(self, cfg: Any, ds: Any) -> None:
        """Fill in the model config's derived values for this target (cfg: Config, ds: MemoryDataset)
        and refuse options that do not fit it. The base checks the family only."""
        if self.families and cfg.model.family not in self.families:
            only = "|".join(self.families)
            raise ConfigError(f"dataset {ds.info.name!r} holds {self.attribute}; only model.family={only} fits it "
                              f"(got {cfg.model.family!r})")

    def check_model(self, model: Mapping) -> dict:
        """A saved model config (a dict) about to generate, with settings given for this use (Pipeline's
        extra=): refuse what cannot work before any sample is drawn; returns the model config to use.
        The base takes it as it is."""
        return model

    # ---- manifests ------------------------------------------------------------------------------
    def reader(self, opts: ReadOptions) -> ColumnReader:
        """A reader for one manifest column of this modality."""
        return ColumnReader(self, opts)

    def read_cell(self, value: Any, opts: ReadOptions) -> Any:
        """One manifest cell -> one item (CellError naming the problem). Codecs that override
        reader() need not implement it."""
        raise CellError(f"the {self.name} codec reads its column with its own reader")

    @abstractmethod
    def write_column(self, column: Any, folder: Path) -> list:
        """A dataset's column -> one manifest cell per item (files written under folder), so that
        reader() reads the same column back."""

    # ---- outputs --------------------------------------------------------------------------------
    @abstractmethod
    def write(self, objects: list, x: torch.Tensor, folder: Path, info: Mapping) -> list[Path]:
        """Generated objects (and their batch x) as files in folder, plus the preview picture."""

    @abstractmethod
    def preview(self, x: torch.Tensor, path: Path, info: Mapping, title: str = "",
                real: torch.Tensor | None = None) -> Path:
        """The picture of a batch a run shows (sample grid, scatter, ...) as a PNG at path."""

    def report_figures(self, fake: torch.Tensor, real: torch.Tensor, info: Mapping, name: str) -> list[Figure]:
        """The report's pictures: the generated preview, then the real one."""
        return [Figure(self._preview_png(fake, info), "generated (EMA generator; one row per class or condition)"),
                Figure(self._preview_png(real, info), f"real ({name} training split)")]

    def _preview_png(self, x: torch.Tensor, info: Mapping, **kw: Any) -> bytes:
        with tempfile.TemporaryDirectory() as d:
            return self.preview(x, Path(d) / "preview.png", info, **kw).read_bytes()

    def tensorboard(self, writer: Any, x: torch.Tensor, step: int) -> None:
        """Log a preview batch to TensorBoard (nothing by default)."""

    @abstractmethod
    def response(self, obj: Any) -> dict:
        """What the server returns for one object, as fields of a generated item ({"png": bytes}, ...)."""

    def stored_file(self, obj: Any, media: bytes | None) -> bytes | None:
        """The bytes the store keeps as `store_asset` for one object (by default its served file, `media`)."""
        return media

    def caption_of(self, obj: Any) -> str | None:
        """Words that describe one generated object, kept as its caption in the store (keyword search finds
        it) and embedded as text; None for objects that are not words (then the request's prompt is used)."""
        return None


# ---- the registry ---------------------------------------------------------------------------------
_INSTANCES: dict[type, Codec] = {}


def register_codec(cls: type[Codec]) -> type[Codec]:
    """Class decorator: register a codec under its `name` (registry kind "codec")."""
    if not cls.name or not cls.attribute:
        raise ValueError(f"codec {cls.__name__} needs a name and an attribute")
    return register("codec", cls.name)(cls)


def get_codec(name: str) -> Codec:
    """The codec registered as `name`; an unknown name fails listing the valid ones."""
    try:
        cls = get("codec", name)
    except UnknownNameError:
        raise UnknownNameError(f"no codec for {name!r}: a model can generate {', '.join(codec_names())}") from None
    if cls not in _INSTANCES:
        _INSTANCES[cls] = cls()
    return _INSTANCES[cls]


def codec_names() -> list[str]:
    """Registered codecs, the default target first (by rank, then name)."""
    return sorted(names("codec"), key=lambda n: (get("codec", n).rank, n))


def default_target(columns: Iterable[str]) -> str:
    """The column a model generates when data.target is not set: the image when the data has one,
    else the vector, else the first registered codec's column present (codec rank)."""
    cols = set(columns)
    for n in codec_names():
        if n in cols:
            return n
    raise UnknownNameError(f"no column a model can generate ({', '.join(codec_names())}); "
                           f"columns: {', '.join(sorted(cols)) or 'none'}")


def family_target(family: str, columns: Iterable[str]) -> str:
    """The column a model family makes when data.target is unset: "" when the default target's codec takes
    the family (or any family), else the one column whose codec lists it (a recognizer on speech with
    transcripts makes the text)."""
    cols = [c for c in codec_names() if c in set(columns)]
    if not cols or not get_codec(cols[0]).families or family in get_codec(cols[0]).families:
        return ""
    fits = [c for c in cols if family in get_codec(c).families]
    return fits[0] if len(fits) == 1 else ""


def target_of(ds: Any) -> str:
    """A dataset's target column (DataInfo.kind: set by load_dataset from data.target or the default)."""
    return ds.info.kind


def target_of_config(config: Mapping) -> str:
    """A pipeline config's target; configs saved before data.target existed name it as data.kind."""
    data = config.get("data") or {}
    return data.get("target") or data.get("kind") or DEFAULT_TARGET


def codec_of(thing: Any) -> Codec:
    """The codec of a dataset, a Pipeline (or a stand-in with a config), or a pipeline config."""
    if hasattr(thing, "info") and hasattr(thing, "columns"):
        return get_codec(target_of(thing))
    if isinstance(getattr(thing, "codec", None), Codec):
        return thing.codec
    config = thing if isinstance(thing, Mapping) else (getattr(thing, "config", None) or {})
    return get_codec(target_of_config(config))
