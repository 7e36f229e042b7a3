"""The memorisation check: copies of training images read as copies, fresh draws as held-out-like."""
from __future__ import annotations

import torch

from mmgan.metrics.memorisation import describe, memorisation_report


def test_copies_are_found_and_fresh_images_match_the_heldout_reference():
    g = torch.Generator().manual_seed(0)
    train = torch.rand(50, 1, 8, 8, generator=g) * 2 - 1
    heldout = torch.rand(20, 1, 8, 8, generator=g) * 2 - 1
    copies = memorisation_report(train[:10].clone(), train, heldout)
    assert copies["pixels"]["copy_rate"] == 1.0 and copies["pixels"]["ratio"] < 0.01
    fresh = memorisation_report(torch.rand(20, 1, 8, 8, generator=g) * 2 - 1, train, heldout)
    assert fresh["pixels"]["copy_rate"] == 0.0 and 0.8 < fresh["pixels"]["ratio"] < 1.25
    assert "exact-copy rate 0.00%" in "\n".join(describe(fresh))
