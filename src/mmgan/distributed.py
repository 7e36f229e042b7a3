"""torch.distributed glue: rank/world from torchrun's environment, DDP wrapping, device per rank.

Single-process runs never touch torch.distributed; under `torchrun --nproc-per-node N` the
process group is started with gloo on CPU and NCCL on GPU.
"""
from __future__ import annotations

import os
import warnings

import torch
import torch.distributed as tdist


def is_distributed() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init() -> None:
    if is_distributed() and not tdist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        tdist.init_process_group(backend=backend)


def rank() -> int:
    return tdist.get_rank() if tdist.is_initialized() else int(os.environ.get("RANK", "0"))


def world_size() -> int:
    return tdist.get_world_size() if tdist.is_initialized() else 1


def device_for_rank(device: torch.device) -> torch.device:
    if device.type == "cuda" and is_distributed():
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        return torch.device("cuda", local)
    return device


def wrap(module: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    if not tdist.is_initialized() or tdist.get_world_size() == 1:
        return module
    from torch.nn.parallel import DistributedDataParallel as DDP

    ids = [device.index] if device.type == "cuda" else None
    with warnings.catch_warnings():  # broadcast_buffers=False: BatchNorm stats are already global
        warnings.simplefilter("ignore", FutureWarning)
        return DDP(module, device_ids=ids, broadcast_buffers=False)


def barrier() -> None:
    if tdist.is_initialized():
        tdist.barrier()


def all_finite(values: list[torch.Tensor]) -> bool:
    """True when every value is finite on every rank (so all ranks roll back together)."""
    ok = torch.isfinite(torch.stack([v.detach().float().reshape(()) for v in values])).all().float()
    if tdist.is_initialized() and tdist.get_world_size() > 1:
        ok = ok.to("cuda" if torch.cuda.is_available() and tdist.get_backend() == "nccl" else "cpu")
        tdist.all_reduce(ok, op=tdist.ReduceOp.MIN)
    return bool(ok.item())
