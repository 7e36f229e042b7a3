"""mmgan.modalities: one registered codec per output modality (mmgan.modalities.base.Codec).

    get_codec("image"), get_codec("vector"), get_codec("audio"), get_codec("text"), get_codec("video")     # registry kind "codec"; @register_codec adds one
    default_target(columns) / target_of(ds) / target_of_config(config) / codec_of(ds | pipe | config)
"""
from __future__ import annotations

from . import audio, image, text, vector, video  # noqa: F401  (registration)
from .base import (CellError, Codec, Column, ColumnError, ColumnReader, Figure, ReadOptions, cell_path, codec_names,
                   codec_of, default_target, family_target, get_codec, register_codec, target_of, target_of_config)

__all__ = ["Codec", "ColumnReader", "Column", "ReadOptions", "Figure", "CellError", "ColumnError", "cell_path",
           "register_codec", "get_codec", "codec_names", "codec_of", "default_target", "family_target", "target_of", "target_of_config"]
