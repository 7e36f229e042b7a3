"""mmgan.distributed's helpers with two gloo processes (torch.multiprocessing.spawn), and as no-ops in one."""
from __future__ import annotations

import os

import pytest
import torch
import torch.distributed as tdist
import torch.multiprocessing as mp
import torch.nn as nn

from mmgan import distributed as dist
from mmgan.models.layers import BatchNorm


class Pair(nn.Module):
    """Two linear layers, registered in either order (as a module rebuilt from a saved config may be)."""

    def __init__(self, flipped: bool = False):
        super().__init__()
        for name in ("b", "a") if flipped else ("a", "b"):
            setattr(self, name, nn.Linear(2, 2))
        self.c = nn.Linear(2, 1)
        self.register_buffer("stat", torch.zeros(2))


def _checks(rank: int, world: int, init_file: str, root: str) -> None:
    tdist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    torch.manual_seed(rank)                                  # every rank starts from different weights
    m = Pair(flipped=rank == 1)

    # broadcast_state: rank 0's tensors by name, whatever the registration order
    dist.broadcast_state(m)
    dist.check_in_sync(dict(m.state_dict()), "after broadcast")

    # sync_grads: the mean; a grad missing on one rank counts as zero there; missing on all stays None
    m.a.weight.grad = torch.full((2, 2), 1.0 + 2 * rank)   # 1 and 3
    if rank == 1:
        m.b.weight.grad = torch.full((2, 2), 2.0)
    dist.sync_grads(m)
    assert torch.equal(m.a.weight.grad, torch.full((2, 2), 2.0))
    assert torch.equal(m.b.weight.grad, torch.full((2, 2), 1.0))
    assert m.c.weight.grad is None and m.a.bias.grad is None

    # check_in_sync names the tensor that differs, on every rank
    with torch.no_grad():
        m.b.bias.add_(rank)
    with pytest.raises(dist.RanksDiverged, match=r"'b\.bias'"):
        dist.check_in_sync(dict(m.state_dict()), "step 3")

    # mean, broadcast_rng, and local() where one rank works alone
    assert torch.equal(dist.mean(torch.tensor([float(rank)])), torch.tensor([0.5]))
    dist.broadcast_rng()
    draws = [torch.zeros(3) for _ in range(world)]
    tdist.all_gather(draws, torch.rand(3))
    assert torch.equal(draws[0], draws[1])
    with dist.local():
        assert not dist.collective() and torch.equal(dist.mean(torch.ones(1)), torch.ones(1))
    assert dist.collective()

    # rank_zero_first: the others run the block after rank 0 has finished it
    flag = os.path.join(root, "made-by-rank-0")
    with dist.rank_zero_first():
        if rank == 0:
            open(flag, "w").close()
        else:
            assert os.path.exists(flag)

    # BatchNorm over a rank's share of the batch normalises with the global batch's statistics
    x = torch.randn(8, 3, 4, 4, generator=torch.Generator().manual_seed(0))
    whole = nn.BatchNorm2d(3)(x)
    bn = BatchNorm(3)
    part = bn(x[rank * 4 : (rank + 1) * 4])
    assert torch.allclose(part, whole[rank * 4 : (rank + 1) * 4], atol=1e-5)
    tdist.barrier()               # neither rank tears gloo down while the other still talks (a SIGABRT under load)
    tdist.destroy_process_group()
    os._exit(0)                   # skip interpreter teardown, where gloo's threads can abort a passing rank
                                  # ("terminate called without an active exception")


@pytest.mark.slow
def test_helpers_with_two_gloo_processes(tmp_path):
    mp.spawn(_checks, args=(2, str(tmp_path / "init"), str(tmp_path)), nprocs=2, join=True)


def test_helpers_are_no_ops_in_one_process():
    m = Pair()
    m.a.weight.grad = torch.ones(2, 2)
    before = {k: v.clone() for k, v in m.state_dict().items()}
    dist.broadcast_state(m)
    dist.sync_grads(m)
    dist.broadcast_rng()
    dist.check_in_sync(dict(m.state_dict()), "one process")
    with dist.rank_zero_first():
        pass
    assert not dist.collective() and dist.world_size() == 1 and dist.rank() == 0
    assert torch.equal(m.a.weight.grad, torch.ones(2, 2)) and m.b.weight.grad is None
    assert all(torch.equal(before[k], v) for k, v in m.state_dict().items())
    t = torch.randn(3)
    assert dist.mean(t) is t and dist.sum_with_grad(t) is t
