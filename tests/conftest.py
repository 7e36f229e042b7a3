"""Shared fixtures: tiny in-memory datasets and configs so every test runs in seconds."""
from __future__ import annotations

import os

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
torch.set_num_threads(min(2, torch.get_num_threads()))

from _tiny import image_dataset, ring_dataset  # noqa: E402


@pytest.fixture
def ring():
    return ring_dataset()


@pytest.fixture
def images():
    return image_dataset()


# Tiny multimodal models gain nothing from threads; on a shared CPU extra threads only wait on each other.
_ONE_THREAD_DIRS = {"multimodal", "encoders", "fusion"}


@pytest.fixture(autouse=True)
def _one_thread_for_tiny_models(request):
    if request.path.parent.name not in _ONE_THREAD_DIRS:
        yield
        return
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
