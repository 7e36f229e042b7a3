"""Discriminator rejection sampling (Azadi et al., ICLR 2019): correct what a trained generator still
gets wrong by keeping each sample x with probability p_data(x) / (M p_g(x)).

After training, a critic is fitted with the generator frozen: the model's own discriminator
architecture, unpacked (one sample per input) and without batch-coupled features, warm-started
from the trained D when that D already is one. It learns to tell real items from the EMA
generator's samples (balanced logistic loss), so its logit estimates log p_data(x)/p_g(x).
Sampling keeps x with probability exp(min(0, logit(x) - M)). Exact rejection sampling takes M =
the largest logit; as in the DRS paper, that maximum is an unstable estimate (one outlier makes
nearly everything rejected), so M is a high quantile (`quantile`, default 0.995) of the logits of
`calib` fresh samples: the top 0.5% are always kept. That needs G to put well over 0.5% of its mass
on the data; for a generator that mostly misses it, raise the quantile (train.drs_quantile).
`gamma` > 0 lowers M further (keeps more, corrects less). Mass the generator puts where the data
has none (bridges between modes, broken images) is rejected; modes it over-weights are thinned.

The critic lives beside the generator it was fitted to (critic.safetensors + critic.json in the
checkpoint or exported folder); `Pipeline` uses it when present (drs=False turns it off).
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from pathlib import Path

import torch

from ..config import ModelConfig
from ..models import build_gan
from ..models.base import load_json, load_weights, save_json, save_weights
from ..model_options import SharedOptions

FORMAT = "mmgan-critic"


@dataclass
class Critic:
    net: torch.nn.Module
    bound: float                           # M: the bound of rejection sampling
    model_cfg: dict                        # the critic's own model config (what _build takes)
    info: dict

    @torch.no_grad()
    def logits(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        return _score(self.net, x, c)

    def accept_prob(self, logits: torch.Tensor, gamma: float = 0.0) -> torch.Tensor:
        """exp(min(0, logit - M + gamma)): the probability of keeping samples with these logits."""
        return torch.exp((logits - (self.bound - gamma)).clamp(max=0.0))

    def to(self, device) -> "Critic":
        self.net.to(device)
        return self


def _score(net: torch.nn.Module, x: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
    """One float logit per sample from a discriminator (its AC-GAN output, if any, dropped)."""
    out = net(x, c) if c is not None else net(x)
    return (out[0] if isinstance(out, tuple) else out).float().reshape(-1)


def critic_model_config(model_cfg: dict) -> dict:
    """The discriminator config the critic is built from: one sample per input, no minibatch
    features (its score of a sample must not depend on the rest of the batch), no AC-GAN head.
    On vector data (the mlp family on 2-D mixtures and the like) it reads random Fourier features
    of its input (`model.extra.critic_fourier`, default 128; 0 = off; the highest frequency
    `model.extra.critic_fourier_scale`, default 100 per data unit): a plain MLP classifier does
    not resolve modes a hundredth of the data's extent wide in a few seconds of training."""

    mc = copy.deepcopy(model_cfg)
    mc.update(pack=1, mbstd=False, acgan=False, acgan_twin=False)
    extra = dict(mc.get("extra") or {}, mbstd=False)
    if mc.get("family") == "mlp" and int(mc.get("data_dim") or 0) > 0:
        extra["d_fourier"] = SharedOptions.value(extra, "critic_fourier")
        extra["d_fourier_scale"] = SharedOptions.value(extra, "critic_fourier_scale")
    mc["extra"] = extra
    return mc


def _build(model_cfg: dict) -> torch.nn.Module:

    _, d = build_gan(ModelConfig(**model_cfg))
    return d


def save_critic(critic: Critic, folder: str | Path) -> Path:
    folder = Path(folder)
    save_weights(critic.net, folder / "critic.safetensors")
    save_json({"format": FORMAT, "model": critic.model_cfg, "bound": critic.bound,
               "info": critic.info}, folder / "critic.json")
    return folder / "critic.json"


def load_critic(folder: str | Path) -> Critic | None:
    """The critic saved in `folder`, or None when there is none."""
    folder = Path(folder)
    if not (folder / "critic.json").exists():
        return None
    meta = load_json(folder / "critic.json")
    if meta.get("format") != FORMAT or not math.isfinite(float(meta.get("bound", math.nan))):
        raise ValueError(f"{folder}/critic.json is not an mmgan critic (format {meta.get('format')!r})")
    net = _build(meta["model"])
    load_weights(net, folder / "critic.safetensors")
    return Critic(net.eval(), float(meta["bound"]), meta["model"], meta.get("info", {}))
