"""Model base: a model is its config plus tensors. Config -> JSON, weights -> safetensors."""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn
from safetensors.torch import load_file, save_file

from ..utils import atomic_write, atomic_write_json, load_json  # noqa: F401  (load_json: re-exported)


class ConfigModule(nn.Module):
    """An nn.Module that remembers the keyword arguments it was built with (its config)."""

    def __init__(self, **config):
        super().__init__()
        self.config = dict(config)


def state_to_cpu(module: nn.Module) -> dict[str, torch.Tensor]:
    # safetensors refuses shared storage; clone makes every tensor its own.
    return {k: v.detach().to("cpu").contiguous().clone() for k, v in module.state_dict().items()}


def save_weights(module: nn.Module, path: str | Path) -> None:
    tensors = state_to_cpu(module)
    atomic_write(path, lambda tmp: save_file(tensors, tmp))


def load_weights(module: nn.Module, path: str | Path, strict: bool = True) -> nn.Module:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"weights file not found: {path}")
    try:
        state = load_file(str(path))
    except Exception as e:  # safetensors raises its own error types
        raise ValueError(f"{path}: not a readable safetensors file ({e})") from e
    try:
        missing, unexpected = module.load_state_dict(state, strict=False)
    except RuntimeError as e:  # shape mismatches
        raise ValueError(f"{path}: weights do not match the model built from its config: {e}") from e
    if strict and (missing or unexpected):
        raise ValueError(
            f"{path}: weights do not match the model built from its config "
            f"(missing {list(missing)[:5]}, unexpected {list(unexpected)[:5]})"
        )
    return module


def save_json(obj: dict, path: str | Path) -> None:
    atomic_write_json(path, obj)


def num_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
