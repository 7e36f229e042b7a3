"""Fit a discriminator-rejection-sampling critic (mmgan.sampling.drs) to a generator: it learns to tell
real items from G's samples, then its logits on fresh samples set the rejection bound M."""
from __future__ import annotations

import contextlib
import math
import time
from typing import Callable

import torch
import torch.nn.functional as F

from ..sampling.drs import Critic, _build, _score, critic_model_config
from .optim import adam


def fit_critic(G: torch.nn.Module, draw: Callable[[], tuple], model_cfg: dict, steps: int, lr: float = 2e-4,
               betas: tuple = (0.5, 0.999), warm_start: torch.nn.Module | None = None, calib: int = 20_000,
               autocast: Callable = None, device: str | torch.device = "cpu", progress: Callable = None,
               quantile: float = 0.995, deadline: float = math.inf) -> Critic:
    """Fit the critic for G. `draw()` returns (reals, c, kwargs, z) for one batch: real items, their
    condition vector (or None), G's extra inputs and fresh latents. Training stops early at `deadline`
    (a time.time(); the run's time budget), after at least one step. Returns the fitted Critic."""
    if steps < 1:
        raise ValueError(f"the critic needs at least 1 training step, got {steps}")
    mc = critic_model_config(model_cfg)
    net = _build(mc).to(device)
    warm = warm_start is not None and int(model_cfg.get("pack", 1)) == 1 and not model_cfg.get("mbstd") \
        and not (model_cfg.get("extra") or {}).get("mbstd") and not mc["extra"].get("d_fourier")
    if warm:
        net.load_state_dict(warm_start.state_dict(), strict=False)
    opt = adam(net.parameters(), lr, betas)
    autocast = autocast or contextlib.nullcontext
    was_training = G.training
    G.eval()

    def batch():
        real, c, kw, z = draw()
        with torch.no_grad(), autocast():
            return real.float(), G(z, c, **kw).float(), c

    net.train()
    for step in range(steps):
        if step > 0 and time.time() > deadline:
            break
        for g in opt.param_groups:                           # linear decay: a calm finish, a calibrated logit
            g["lr"] = lr * (1.0 - step / steps)
        real, fake, c = batch()
        x = torch.cat([real, fake])                           # one pass: normalization sees both halves
        y = torch.cat([torch.ones(len(real)), torch.zeros(len(fake))]).to(x.device)
        with autocast():
            logit = _score(net, x, torch.cat([c, c]) if c is not None else None)
        loss = F.binary_cross_entropy_with_logits(logit, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if progress is not None:
            progress(step, float(loss.detach()))
    net.eval()
    critic = Critic(net, 0.0, mc, {})
    fake_logits, real_logits = [], []
    n = 0
    while n < calib:
        real, fake, c = batch()
        fake_logits.append(critic.logits(fake, c))
        real_logits.append(critic.logits(real, c))
        n += len(fake)
    fl, rl = torch.cat(fake_logits), torch.cat(real_logits)
    critic.bound = float(torch.quantile(fl, quantile))
    critic.info = {"steps": steps, "warm_start": warm, "calibration_samples": int(len(fl)), "quantile": quantile,
                   "logit_max": float(fl.max()), "bound": critic.bound,
                   "accept_rate": float(critic.accept_prob(fl).mean()),
                   "real_acc": float((rl > 0).float().mean()), "fake_acc": float((fl < 0).float().mean())}
    G.train(was_training)
    return critic
