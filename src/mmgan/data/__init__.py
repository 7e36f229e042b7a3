"""mmgan.data: built-in datasets, users' image folders and manifests, export, speech and image helpers.

    load_dataset(spec, split="train", resolution=0, n=0, seed=0, skip_bad=False, channels=0) -> MemoryDataset
    write_manifest(ds, out_dir) -> Path
    list_datasets() -> list[str]
"""
from __future__ import annotations

# importing the built-in modules registers them (registry kind "dataset")
from . import (digits, digits_say, domains, mixtures, moving_digits, notes, sfx, shapes,  # noqa: F401
               spoken_digits, spoken_shapes, talking_shape)
from .audio import load_audio
from .base import COLUMNS, DataInfo, MemoryDataset
from .errors import AudioError, BadRow, BadRowsError, DataError
from .export import write_manifest
from .loader import list_datasets, load_dataset
from .shapes import shapes_heldout_combinations
from .speech import SpeechUnavailable, add_speech, synthesize, with_speech
from ..modalities.pixels import from_pil, save_grid, to_pil

__all__ = [
    "load_dataset", "write_manifest", "list_datasets", "BadRowsError", "BadRow", "DataError", "AudioError",
    "DataInfo", "MemoryDataset", "COLUMNS", "shapes_heldout_combinations", "load_audio", "synthesize",
    "add_speech", "with_speech", "SpeechUnavailable", "to_pil", "from_pil", "save_grid",
]
