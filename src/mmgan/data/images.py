"""Users' image files as data rows: the image codec's file reading (mmgan.modalities.image_files) with
its problems turned into BadRow / DataError for folder and manifest reports."""
from __future__ import annotations

import torch

from ..modalities.base import CellError, ColumnError
from ..modalities.image_files import IMAGE_SUFFIXES, LoadedImage, read_image  # noqa: F401  (the folder loader's)
from ..modalities.image_files import stack_images as _stack
from .errors import BadRow, DataError

RowProblem = CellError          # one bad value of one row (the caller adds row and column)


def check_channels_arg(channels: int) -> None:
    if channels not in (0, 1, 3):
        raise DataError(f"channels={channels} is not supported: use 1 (grayscale), 3 (RGB) or 0 (the majority); "
                        "alpha is composited onto white, never kept")


def stack_images(loaded: list[LoadedImage], channels: int, resolution: int, source: str,
                 ) -> tuple[list[BadRow], dict[int, int], torch.Tensor | None, int]:
    """modalities.image_files.stack_images with its bad rows as BadRow and a size clash as DataError."""
    try:
        bad, index, x, target = _stack(loaded, channels, resolution)
    except ColumnError as e:
        raise DataError(f"{source}: {e}") from None
    return [BadRow(row, "image", problem) for row, problem in bad], index, x, target
