"""Adversarial losses (kind "loss"), DiffAugment (kind "augment") and the phase logic of a step (kind
"phases": the families' own step logic too -- models never import losses; a generator names its phases)."""
from . import adversarial, augment  # noqa: F401  (registration)
from . import cycle, multistage, pathlength, progressive  # noqa: F401  (phases of the literature's families)
from .augment import DiffAugment
from .phases import GANLoss, ms_pairs

__all__ = ["GANLoss", "DiffAugment", "ms_pairs"]
