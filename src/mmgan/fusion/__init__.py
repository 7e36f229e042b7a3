"""Fusion methods by name (registry kind "fusion"), one signature:

    fusion(features: dict[modality, ModalityFeatures]) -> Cond(vec, tokens, mask)

early (concat + MLP), late (per-modality heads, averaged), hybrid (both), attention (self-attention
across modality tokens), cross_attention (token-level output for a generator that attends to it).
"""
from __future__ import annotations

from . import attention, cross_attention, early, hybrid, late  # noqa: F401  (registration)
from .base import Fusion, ModalityFeatures

FUSIONS = ("early", "late", "hybrid", "attention", "cross_attention")

__all__ = ["Fusion", "ModalityFeatures", "FUSIONS"]
