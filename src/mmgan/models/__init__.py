"""Model families, each registered by name under kind "model": factory(cfg, with_discriminator) -> (G, D)."""
from __future__ import annotations

from ..config import ModelConfig
from ..registry import get, names
from . import captioner, dcgan, dfgan, hifigan, mlp, recognizer, specgan, ttsgan, wavegan  # noqa: F401  (registration)
from . import cyclegan, gansformer, mocogan, progressive, restore, stackgan, stylegan2, upscale  # noqa: F401  (the literature's families)


def build_gan(cfg: ModelConfig, with_discriminator: bool = True):
    return get("model", cfg.family)(cfg, with_discriminator=with_discriminator)


def families() -> list[str]:
    return names("model")
