"""A small deterministic Embedder for the store tests (the store works with any Embedder), and tiny datasets."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))


from _hash_embedder import HashEmbedder  # noqa: E402


@pytest.fixture
def embedder():
    return HashEmbedder()


@pytest.fixture(scope="session")
def shapes_small():
    from mmgan.data import load_dataset

    return load_dataset("shapes", split="test", n=48, seed=1)


@pytest.fixture
def store(tmp_path):
    from mmgan.store import Store

    s = Store.open(tmp_path / "store")
    yield s
    s.close()
