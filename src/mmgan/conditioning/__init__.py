"""Conditioning: labels, text, speech and images into what G and D take (a condition vector, tokens).

    Conditioner            labels alone (one-hot)
    MultimodalConditioner  any subset of label, text, audio, image through the joint space + a fusion
    JointSpace             the contrastive joint embedding space; load_embedder(path) loads one
    SourceConditioner      a family that reads its source raw (an image's pixels, a clip's waveform)
    VoiceConditioner       any of those plus a voice: a speaker encoder's vector of a reference clip
    build_conditioner      a conditioner from its saved config (any kind)
"""
from .base import KNOWN_MODALITIES, Cond, Conditioner, build_conditioner, register_conditioner
from .joint import JointSpace, load_embedder
from .multimodal import MultimodalConditioner
from .source import SourceConditioner, configure_source, reads
from .voice import VoiceConditioner

__all__ = ["KNOWN_MODALITIES", "Cond", "Conditioner", "build_conditioner", "register_conditioner", "JointSpace",
           "load_embedder", "MultimodalConditioner", "SourceConditioner", "configure_source", "reads",
           "VoiceConditioner"]
