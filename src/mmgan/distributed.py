"""torch.distributed glue: rank/world from torchrun's environment, gradient averaging, state broadcast.

Single-process runs never touch torch.distributed and every helper here is a no-op for them; under
`torchrun --nproc-per-node N` the process group is started with gloo on CPU and NCCL on GPU.

Data parallelism is explicit rather than DistributedDataParallel's autograd hooks: every rank
accumulates its gradients on the plain modules and the loop calls `sync_grads` before each optimizer
step. GAN steps call parts of a module (a CycleGAN direction, a style-based generator's mapping net),
differentiate twice (R1, path length, MA-GP) and freeze D while G learns: DDP's hooks fail on each of
these ("parameters that were not used in producing loss"); an all-reduce of the accumulated
gradients handles all of them. The collectives every rank must join in the same order: sync_grads,
broadcast_state, broadcast_rng, mean (in models' running statistics), the global BatchNorm and
check_in_sync.
"""
from __future__ import annotations

import atexit
import contextlib
import hashlib
import os
import warnings
from typing import Iterator, Mapping

import torch
import torch.distributed as tdist

_local_depth = 0                             # > 0 inside local(): this rank works alone


class RanksDiverged(RuntimeError):
    """The processes of one run hold different weights: their updates were not the same."""


def is_distributed() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init() -> None:
    if is_distributed() and not tdist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        tdist.init_process_group(backend=backend)
        atexit.register(_close)


def _close() -> None:
    """Tear the process group down before the interpreter does: gloo's threads, left to the interpreter's exit,
    once aborted a rank whose run had finished in sync ("terminate called without an active exception")."""
    if tdist.is_initialized():
        tdist.destroy_process_group()


def rank() -> int:
    return tdist.get_rank() if tdist.is_initialized() else int(os.environ.get("RANK", "0"))


def world_size() -> int:
    return tdist.get_world_size() if tdist.is_initialized() else 1


def collective() -> bool:
    """True when the ranks work together: several processes, outside a `local()` block."""
    return _local_depth == 0 and tdist.is_initialized() and tdist.get_world_size() > 1


@contextlib.contextmanager
def local() -> Iterator[None]:
    """Work that one rank does alone (rank 0 fitting the rejection-sampling critic): models inside
    normalise with their own batch and the helpers here do not wait for the other ranks."""
    global _local_depth
    _local_depth += 1
    try:
        yield
    finally:
        _local_depth -= 1


def device_for_rank(device: torch.device) -> torch.device:
    if device.type == "cuda" and is_distributed():
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local_rank)
        return torch.device("cuda", local_rank)
    return device


def _comm_device() -> torch.device:
    """NCCL moves CUDA tensors only, gloo CPU ones."""
    return torch.device("cuda", torch.cuda.current_device()) if tdist.get_backend() == "nccl" else torch.device("cpu")


def barrier() -> None:
    if collective():
        tdist.barrier()


@contextlib.contextmanager
def rank_zero_first() -> Iterator[None]:
    """Rank 0 runs the block first (building caches, fitting and saving the joint space), the others
    wait and then run it, finding what rank 0 wrote."""
    if not collective():
        yield
        return
    if rank() != 0:
        tdist.barrier()
    try:
        yield
    finally:
        if rank() == 0:
            tdist.barrier()


def _named(module: torch.nn.Module, buffers: bool = True, params: bool = True) -> list[torch.Tensor]:
    """A module's tensors in the order of their names: a module rebuilt from a saved config may have
    registered its submodules in another order than the one built here, on rank 0."""
    named = {**(dict(module.named_parameters()) if params else {}), **(dict(module.named_buffers()) if buffers else {})}
    return [named[k] for k in sorted(named)]


def sync_grads(*modules: torch.nn.Module) -> None:
    """Average the accumulated gradients of the modules' trainable parameters over the ranks.

    A parameter that has no gradient on some ranks (a domain absent from one rank's batch) counts as a
    zero gradient there, so every rank joins the same all-reduce; one with no gradient on any rank keeps
    None, so the optimizer skips it as one process would. One flat all-reduce per dtype."""
    if not collective():
        return
    params = [p for m in modules for p in _named(m, buffers=False) if p.requires_grad]
    if not params:
        return
    dev = _comm_device()
    has = torch.tensor([p.grad is not None for p in params], dtype=torch.uint8, device=dev)
    tdist.all_reduce(has, op=tdist.ReduceOp.MAX)
    live = [p for p, h in zip(params, has.tolist()) if h]
    for p in live:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
    by_dtype: dict[torch.dtype, list[torch.nn.Parameter]] = {}
    for p in live:
        by_dtype.setdefault(p.grad.dtype, []).append(p)
    w = tdist.get_world_size()
    for group in by_dtype.values():
        flat = torch.cat([p.grad.reshape(-1) for p in group]).to(dev)
        tdist.all_reduce(flat)
        flat.div_(w)
        i = 0
        for p in group:
            n = p.grad.numel()
            p.grad.copy_(flat[i : i + n].view_as(p.grad))
            i += n


def mean(t: torch.Tensor) -> torch.Tensor:
    """The mean of t over the ranks (t itself in one process): running statistics that a model keeps
    of its batches (a style-based generator's mean w) follow the global batch this way."""
    if not collective():
        return t
    out = t.detach().to(_comm_device(), copy=True)
    tdist.all_reduce(out)
    return out.div_(tdist.get_world_size()).to(t.device)


def sum_with_grad(t: torch.Tensor) -> torch.Tensor:
    """The sum of t over the ranks, differentiable (gradients flow back to every rank's t)."""
    if not collective():
        return t
    with warnings.catch_warnings():             # imported here: torch builds without distributed lack it
        warnings.simplefilter("ignore", FutureWarning)
        from torch.distributed.nn.functional import all_reduce
        return all_reduce(t)


def broadcast_state(module: torch.nn.Module, buffers_only: bool = False) -> None:
    """Rank 0's parameters and buffers (or buffers only) copied into every rank's module."""
    if not collective():
        return
    tensors = _named(module, params=not buffers_only)
    with torch.no_grad():
        for t in tensors:
            dev = _comm_device()
            buf = t.detach() if t.device == dev else t.detach().to(dev)
            tdist.broadcast(buf, src=0)
            if buf is not t:
                t.copy_(buf)


def broadcast_rng() -> None:
    """Rank 0's global random state (CPU and current CUDA device) for every rank: the ranks draw the
    global batch's latents from one stream and each keeps its slice, as one process would."""
    if not collective():
        return
    cpu = torch.get_rng_state()
    dev = _comm_device()
    s = cpu.to(dev)
    tdist.broadcast(s, src=0)
    torch.set_rng_state(s.cpu())
    if torch.cuda.is_available() and tdist.get_backend() == "nccl":
        g = torch.cuda.get_rng_state().to(dev)
        tdist.broadcast(g, src=0)
        torch.cuda.set_rng_state(g.cpu())


def _tensor_hash(t: torch.Tensor) -> int:
    b = t.detach().to("cpu").contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()
    return int.from_bytes(hashlib.blake2b(b, digest_size=7).digest(), "little")   # fits an int64


def check_in_sync(tensors: Mapping[str, torch.Tensor], where: str) -> None:
    """Raise RanksDiverged, naming the first tensor that differs, unless every rank holds bit-identical
    `tensors` (the same names on every rank). A no-op in one process."""
    if not collective():
        return
    names = sorted(tensors)
    mine = torch.tensor([len(names)] + [_tensor_hash(tensors[k]) for k in names], dtype=torch.int64)
    dev = _comm_device()
    gathered = [torch.empty_like(mine, device=dev) for _ in range(tdist.get_world_size())]
    tdist.all_gather(gathered, mine.to(dev))
    ref = gathered[0].cpu()
    for r, other in enumerate(gathered[1:], start=1):
        other = other.cpu()
        if torch.equal(ref, other):
            continue
        bad = [names[i - 1] for i in range(1, len(ref)) if ref[i] != other[i]] or ["(the list of tensors)"]
        raise RanksDiverged(f"{where}: rank {r} holds different weights from rank 0 in {len(bad)} tensor(s), "
                            f"first {bad[0]!r}: the ranks' updates differed (a module left out of sync_grads, "
                            f"or a statistic kept per rank)")


def any_rank(flag: bool) -> bool:
    """True when `flag` holds on any rank, so all ranks take the same branch (e.g. a time budget ran out)."""
    if not collective():
        return bool(flag)
    t = torch.tensor(float(flag), device=_comm_device())
    tdist.all_reduce(t, op=tdist.ReduceOp.MAX)
    return bool(t.item())


def all_finite(values: list[torch.Tensor]) -> bool:
    """True when every value is finite on every rank (so all ranks roll back together)."""
    ok = torch.isfinite(torch.stack([v.detach().float().reshape(()) for v in values])).all().float()
    if collective():
        ok = ok.to(_comm_device())
        tdist.all_reduce(ok, op=tdist.ReduceOp.MIN)
    return bool(ok.item())
