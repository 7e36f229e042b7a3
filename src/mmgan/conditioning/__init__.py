"""Conditioning: labels, text, speech and images into what G and D take (a condition vector, tokens).

    Conditioner            labels alone (one-hot)
    MultimodalConditioner  any subset of label, text, audio, image through the joint space + a fusion
    JointSpace             the contrastive joint embedding space; load_embedder(path) loads one
    build_conditioner      a conditioner from its saved config (either kind)
"""
from .base import KNOWN_MODALITIES, Cond, Conditioner, build_conditioner, register_conditioner
from .joint import JointSpace, load_embedder
from .multimodal import MultimodalConditioner

__all__ = ["KNOWN_MODALITIES", "Cond", "Conditioner", "build_conditioner", "register_conditioner", "JointSpace",
           "load_embedder", "MultimodalConditioner"]
