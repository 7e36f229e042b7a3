"""Contrastive losses shared by the joint space (training/joint.py) and the matching phases."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def info_nce(a: torch.Tensor, b: torch.Tensor, scale: torch.Tensor, groups: torch.Tensor | None = None
             ) -> torch.Tensor:
    """Symmetric InfoNCE between unit vectors a (b, d) and b (b, d); same-group pairs are all positives."""
    logits = scale * a @ b.t()
    if groups is None:
        target = torch.arange(a.shape[0], device=a.device)
        return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.t(), target))
    pos = (groups[:, None] == groups[None, :]).float()
    target = pos / pos.sum(1, keepdim=True)
    return 0.5 * (-(target * logits.log_softmax(1)).sum(1).mean() - (target * logits.t().log_softmax(1)).sum(1).mean())


def contrastive_to_condition(joint, fake: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """InfoNCE between the joint-space embeddings of generated images and their (unit) conditions;
    items of a batch with identical conditions are all positives (cf. AttnGAN's DAMSM loss)."""
    e = joint("image", {"image": fake}).pooled
    target = F.normalize(c.detach().float(), dim=-1)
    groups = (target @ target.t() > 0.999).float().argmax(1)
    scale = joint.logit_scale.detach().clamp(max=math.log(100)).exp()
    return info_nce(e, target, scale, groups)
