"""Which square image sizes each family can make, and the nearest one it can to a given size.

Each check raises the family's own ValueError for a size it cannot make; `mlp` (images flattened)
and families not listed here make any size.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping

from .cyclegan import CycleGANOptions
from .dcgan import DCGANOptions, plan, sizes
from .dfgan import levels
from .stackgan import StackGANOptions, stage_sizes


def _cyclegan(resolution: int, extra: Mapping) -> None:
    k = CycleGANOptions.read(extra).downsamplings
    if resolution % 2 ** k:
        raise ValueError(f"cyclegan with {k} downsamplings needs a resolution divisible by {2 ** k}, got {resolution}")


CHECKS: dict[str, Callable[[int, Mapping], object]] = {
    "dcgan": lambda r, extra: sizes(r, DCGANOptions.read(extra).s0),
    "specgan": lambda r, extra: sizes(r, DCGANOptions.read(extra).s0),
    "stylegan2": lambda r, extra: plan(r),
    "gansformer": lambda r, extra: plan(r),
    "progressive": lambda r, extra: plan(r),
    "dfgan": lambda r, extra: levels(r),
    "stackgan": lambda r, extra: stage_sizes(r, StackGANOptions.read(extra).stages),
    "cyclegan": _cyclegan,
}


def size_problem(family: str, resolution: int, extra: Mapping | None = None) -> str | None:
    """Why `family` cannot make resolution x resolution images (None when it can)."""
    check = CHECKS.get(family)
    if check is None:
        return None
    try:
        check(resolution, extra or {})
    except ValueError as e:
        return str(e)
    return None


def nearest_size(family: str, resolution: int, extra: Mapping | None = None, limit: int = 1024) -> int:
    """The size nearest to `resolution` that `family` can make (the larger one on a tie: 28 -> 32 for dfgan)."""
    for d in range(limit):
        for r in (resolution + d, resolution - d):
            if 4 <= r <= limit and size_problem(family, r, extra) is None:
                return r
    raise ValueError(f"{family} makes no image size between 4 and {limit} px with these options")
