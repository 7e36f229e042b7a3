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
