"""Fixtures of the multimodal tests: a tiny paired dataset and a private feature cache per test."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from _mm_tiny import tiny_paired  # noqa: E402


@pytest.fixture
def paired(tmp_path):
    return tiny_paired(tmp_path / "clips")


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MMGAN_CACHE", str(tmp_path / "cache"))
