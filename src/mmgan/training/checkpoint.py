"""Checkpoints: weights as safetensors, config and step as JSON, resume state apart. No pickle.

Layout of RUN/checkpoints/:
  step-00000500/
    G.safetensors  G_ema.safetensors  D.safetensors  [conditioner.safetensors]
    meta.json                       step, resolved config, model configs, data info
    resume.safetensors resume.json  optimizer tensors + RNG states / optimizer structure
  latest                            name of the newest complete checkpoint

A checkpoint is written into a hidden temporary folder and renamed into place, then `latest` is
replaced atomically: a kill -9 at any moment leaves the previous checkpoint intact.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from ..models.base import load_weights, save_json, state_to_cpu
from ..runs import latest_checkpoint
from ..utils import _fsync_dir, atomic_write_text

FORMAT_VERSION = 1


# ---- optimizer and RNG state <-> (tensors, json) ------------------------------------------------
def flatten_optimizer(prefix: str, opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    sd = opt.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for idx, st in sd["state"].items():
        for name, v in st.items():
            if torch.is_tensor(v):
                tensors[f"{prefix}.{idx}.{name}"] = v.detach().to("cpu").contiguous().clone()
            else:
                scalars.setdefault(str(idx), {})[name] = v
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars, "indices": [int(i) for i in sd["state"]]}


def unflatten_optimizer(prefix: str, opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], meta: dict) -> None:
    state: dict[int, dict[str, Any]] = {int(i): dict(v) for i, v in meta["scalars"].items()}
    for key, v in tensors.items():
        if not key.startswith(prefix + "."):
            continue
        idx, name = key[len(prefix) + 1 :].split(".", 1)
        state.setdefault(int(idx), {})[name] = v
    for i in meta["indices"]:
        state.setdefault(int(i), {})
    params = [p for g in opt.param_groups for p in g["params"]]
    for i, st in state.items():      # saved contiguous; back in the parameter's own layout (channels_last)
        for name, v in st.items():
            if torch.is_tensor(v) and i < len(params) and v.shape == params[i].shape:
                st[name] = torch.empty_like(params[i], dtype=v.dtype, device="cpu").copy_(v)
    opt.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


def rng_state(data_gen: torch.Generator) -> dict[str, torch.Tensor]:
    out = {"rng.torch": torch.get_rng_state(), "rng.data": data_gen.get_state()}
    if torch.cuda.is_available():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            out[f"rng.cuda.{i}"] = s
    return out


def set_rng_state(tensors: dict[str, torch.Tensor], data_gen: torch.Generator) -> None:
    torch.set_rng_state(tensors["rng.torch"])
    data_gen.set_state(tensors["rng.data"])
    cuda = sorted(k for k in tensors if k.startswith("rng.cuda."))
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([tensors[k] for k in cuda][: torch.cuda.device_count()])


# ---- checkpoint folders --------------------------------------------------------------------------
class CheckpointManager:
    def __init__(self, run_dir: str | Path, keep: int = 3, writer: bool = True):
        self.root = Path(run_dir) / "checkpoints"
        self.keep = max(1, keep)
        if writer:                                     # only the writing rank touches the folder
            self.root.mkdir(parents=True, exist_ok=True)
            for tmp in self.root.glob(".tmp-*"):      # leftovers of a killed write
                shutil.rmtree(tmp, ignore_errors=True)

    def save(self, step: int, modules: dict[str, torch.nn.Module], optimizers: dict[str, torch.optim.Optimizer],
             data_gen: torch.Generator, meta: dict) -> Path:
        name = f"step-{step:08d}"
        final = self.root / name
        tmp = self.root / f".tmp-{name}-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        for key, mod in modules.items():
            state = state_to_cpu(mod)
            if state:
                save_file(state, str(tmp / f"{key}.safetensors"))
        tensors = dict(rng_state(data_gen))
        opt_meta = {}
        for key, opt in optimizers.items():
            t, m = flatten_optimizer(f"opt.{key}", opt)
            tensors.update(t)
            opt_meta[key] = m
        save_file(tensors, str(tmp / "resume.safetensors"))
        (tmp / "resume.json").write_text(json.dumps({"optimizers": opt_meta}, indent=1))
        (tmp / "meta.json").write_text(json.dumps({**meta, "step": step, "format_version": FORMAT_VERSION},
                                                  indent=2, default=str))
        for f in tmp.iterdir():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
        _fsync_dir(tmp)
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
        _fsync_dir(self.root)
        atomic_write_text(self.root / "latest", name + "\n")
        self._prune()
        return final

    def _complete(self) -> list[Path]:
        out = [p for p in self.root.glob("step-*") if p.is_dir() and (p / "meta.json").exists()
               and (p / "resume.safetensors").exists()]
        return sorted(out, key=lambda p: p.name)

    def _prune(self) -> None:
        done = self._complete()
        for p in done[: -self.keep]:
            shutil.rmtree(p, ignore_errors=True)

    def latest(self) -> Path | None:
        return latest_checkpoint(self.root.parent)

    def load(self, path: Path, modules: dict[str, torch.nn.Module], optimizers: dict[str, torch.optim.Optimizer],
             data_gen: torch.Generator) -> dict:
        for key, mod in modules.items():
            f = path / f"{key}.safetensors"
            if f.exists():
                load_weights(mod, f)
            elif state_to_cpu(mod):
                raise ValueError(f"checkpoint {path} has no {key}.safetensors")
        tensors = load_file(str(path / "resume.safetensors"))
        meta = json.loads((path / "resume.json").read_text())
        for key, opt in optimizers.items():
            unflatten_optimizer(f"opt.{key}", opt, tensors, meta["optimizers"][key])
        set_rng_state(tensors, data_gen)
        return json.loads((path / "meta.json").read_text())


__all__ = ["CheckpointManager", "save_json"]
