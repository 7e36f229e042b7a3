"""Adversarial losses (kind "loss"), DiffAugment (kind "augment") and the phase logic of a G/D step
(kind "phases": standard, matching, aligned, multistage, cycle, progressive, stylegan2, vocoder, captioning, ctc, upscale,
restore). Importing the package registers them all; model families name their phases but never import this package."""
from . import adversarial, augment  # noqa: F401  (registration)
from . import captioning, ctc, cycle, matching, multistage, pathlength, phases, progressive  # noqa: F401  (registration)
from . import aligned, restore, upscale, video, vocoder  # noqa: F401  (registration)
from .augment import DiffAugment
from .phases import GANLoss, ms_pairs

__all__ = ["GANLoss", "DiffAugment", "ms_pairs"]
