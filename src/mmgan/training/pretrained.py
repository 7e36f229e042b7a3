"""Parts a run starts from, beyond its own networks: a generator's warm start from another run
(model.extra.init_from: ESRGAN's GAN twin starts from its PSNR run) and the frozen feature network
a perceptual loss measures in (the in-project network of mmgan.metrics.features: VGG weights
cannot be fetched here).
"""
from __future__ import annotations

from typing import Callable

import torch.nn as nn
from safetensors.torch import load_file

from ..data.base import MemoryDataset
from ..metrics.features import ConvFeatures, Recipe, feature_network_for
from ..runs import resolve

# The perceptual loss's network: the evaluation recipe with another seed and half the steps, so the
# GAN twin is not trained toward the very features its FID/KID are measured in (the bench's network).
PERCEPTUAL_RECIPE = Recipe(steps=600, seed=1)


def warm_start(G: nn.Module, source: str, log: Callable[[str], None] = print) -> None:
    """Load the EMA generator of a run, checkpoint or export into G (same family options, else a clear error)."""
    ref = resolve(source)
    path = ref.generator_file("G_ema")
    state = {k: v for k, v in load_file(str(path)).items() if not k.startswith("examples_")}  # previews: our own
    try:
        missing, unexpected = G.load_state_dict(state, strict=False)
    except RuntimeError as e:                       # a shape mismatch
        missing, unexpected = [str(e).splitlines()[0]], []
    missing = [k for k in missing if not k.startswith("examples_")]
    if missing or unexpected:
        raise ValueError(f"model.extra.init_from={source}: its generator does not fit this one (missing or different: "
                         f"{(missing + list(unexpected))[:3]}); train both with the same model.g_width and "
                         f"model.extra scale/body/blocks/growth/skip")
    log(f"generator initialised from {path} (model.extra.init_from)")


def perceptual_features(ds: MemoryDataset, log: Callable[[str], None] = print) -> nn.Module:
    """The conv features (before the activation) of the in-project network's second stage, trained on
    ds (cached): (b, c, h, w) images in [-1, 1] -> (b, k, h / 2, w / 2) feature maps."""
    feats = feature_network_for(ds, None, PERCEPTUAL_RECIPE, log=log)
    if not isinstance(feats, ConvFeatures):
        raise ValueError(f"the perceptual loss needs an in-project convnet; {ds.info.name} gives {feats.describe()}")
    body = feats.net.body
    relus = [i for i, m in enumerate(body) if isinstance(m, nn.ReLU)]
    cut = relus[3] if len(relus) > 3 else relus[-1]     # stage 2's last conv + BN, before its ReLU (ESRGAN's choice)
    return nn.Sequential(*list(body[:cut])).eval()
