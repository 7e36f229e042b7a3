"""Adversarial losses (kind "loss"), DiffAugment (kind "augment") and the phase logic of a step."""
from . import adversarial, augment  # noqa: F401  (registration)
from .augment import DiffAugment
from .phases import GANLoss, ms_pairs

__all__ = ["GANLoss", "DiffAugment", "ms_pairs"]
