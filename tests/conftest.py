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
_ONE_THREAD_DIRS = {"conditioning", "encoders", "fusion"}


@pytest.fixture(autouse=True)
def _one_thread_for_tiny_models(request):
    if request.path.parent.name not in _ONE_THREAD_DIRS:
        yield
        return
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture
def paired(tmp_path):
    from _mm_tiny import tiny_paired

    return tiny_paired(tmp_path / "clips")


@pytest.fixture(autouse=True)
def _private_cache(request, tmp_path, monkeypatch):
    """Tests of the joint space (those that use _mm_tiny) get a private feature cache each."""
    if any(hasattr(request.module, n) for n in ("TINY_JOINT", "TINY_EXTRA", "tiny_paired")) \
            or "paired" in request.fixturenames:
        monkeypatch.setenv("MMGAN_CACHE", str(tmp_path / "cache"))
