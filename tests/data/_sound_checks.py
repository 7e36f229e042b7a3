"""Checks shared by the sound dataset tests: every clip is a 1.0 s 16 kHz mono PCM16 WAV, not silent."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch


@pytest.fixture(scope="module")
def sound_cache(tmp_path_factory):
    """One private clip cache per test module ($MMGAN_CACHE), so clips made by one test are reused."""
    with pytest.MonkeyPatch.context() as mp:
        root = tmp_path_factory.mktemp("sound-cache")
        mp.setenv("MMGAN_CACHE", str(root))
        yield root


def check_clips(ds, n: int, name: str) -> None:
    """Columns, dtypes, DataInfo and every WAV file of a built-in sound dataset."""
    assert len(ds) == n and ds.info.name == name and ds.info.kind == "audio" and ds.info.shape == (16000,)
    assert ds.info.extra["sample_rate"] == 16000 and ds.info.extra["seconds"] == 1.0
    assert ds.info.num_classes == len(ds.info.class_names)
    y = ds.columns["label"]
    assert y.dtype == torch.int64 and y.shape == (n,) and 0 <= int(y.min()) and int(y.max()) < ds.info.num_classes
    assert len(ds.columns["text"]) == n and all(isinstance(t, str) and t for t in ds.columns["text"])
    if ds.has("attributes"):
        a = ds.columns["attributes"]
        assert a.dtype == torch.int64 and a.shape == (n, len(ds.info.attributes))
        for j, values in enumerate(ds.info.attributes.values()):
            assert int(a[:, j].min()) >= 0 and int(a[:, j].max()) < len(values)
    for path in ds.columns["audio"]:
        assert os.path.isabs(path) and Path(path).suffix == ".wav"
        info = sf.info(path)
        assert (info.samplerate, info.channels, info.frames, info.subtype) == (16000, 1, 16000, "PCM_16"), path
        x, _ = sf.read(path, dtype="float32")
        peak_db = 20 * np.log10(np.abs(x).max())
        assert -6.1 <= peak_db <= -0.9, (path, peak_db)          # normalised to [-6, -1] dBFS: loud, never clipped
        assert np.sqrt(np.mean(x ** 2)) > 1e-3                    # more than a click


def files(root: Path) -> dict[str, int]:
    """Every file under root (temporary ones included) with its modification time."""
    return {str(p): p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}
