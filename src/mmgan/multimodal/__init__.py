"""mmgan.multimodal: conditioning on text, speech, images and labels through one joint space.

    JointSpace            the joint embedding space (mmgan.embedding.Embedder), from_pretrained(path)
    MultimodalConditioner the conditioner (kind "multimodal") that fuses any subset of modalities
    make_conditioner      what the trainer calls: joint space -> per-item features -> fitted fusion
    train_joint           contrastive training of a joint space on a paired dataset

Importing this package registers the conditioner and the "matching" loss phases.
"""
from __future__ import annotations

from . import phases  # noqa: F401  (registers phases "matching")
from .build import make_conditioner
from .conditioner import MultimodalConditioner
from .joint import JointSpace
from .train_joint import JointOptions, train_joint

__all__ = ["JointSpace", "MultimodalConditioner", "make_conditioner", "train_joint", "JointOptions"]
