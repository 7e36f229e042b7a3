"""Shared by the metrics tests. On the shared 2-core machines, two intra-op threads fighting other
processes make small convolutions ~50x slower; these tests run single-threaded and restore after."""
from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
