"""The cached one-second clips behind the built-in sound datasets."""
import numpy as np
import pytest
import soundfile as sf

from mmgan.data import clips


def tone(p: dict) -> np.ndarray:
    return clips.at_level(np.sin(np.arange(16000) * p["f"] / 16000 * 2 * np.pi), p["level_db"])


def test_at_level_and_fade():
    y = clips.at_level(np.array([0.1, -0.4, 0.2]), -6.0)
    assert abs(np.abs(y).max() - 10 ** (-6 / 20)) < 1e-6 and y.dtype == np.float32
    with pytest.raises(ValueError, match="silent"):
        clips.at_level(np.zeros(5), -1.0)
    ramp = clips.fade(10, 4)
    assert ramp[0] == 0 and (np.diff(ramp[:5]) > 0).all() and (ramp[4:] == 1).all()


def test_balanced_classes_and_prefixes():
    y = clips.balanced(30, 10, 0, "x")
    assert np.bincount(y).tolist() == [3] * 10 and y.dtype == np.int64
    assert (clips.balanced(13, 10, 0, "x") == y[:13]).all() and not (clips.balanced(30, 10, 1, "x") == y).all()
    assert len(clips.balanced(0, 10, 0, "x")) == 0


def test_make_clips_caches_and_shows_progress(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MMGAN_CACHE", str(tmp_path))
    params = [{"f": 440.0 + 10 * i, "level_db": -3.0} for i in range(4)]
    made = []
    paths = clips.make_clips("demo", 1, params, lambda p: made.append(p) or tone(p))
    assert len(made) == 4 and all(p.startswith(str(tmp_path.resolve() / "demo")) for p in paths)
    assert sf.info(paths[0]).frames == 16000 and not list(tmp_path.rglob("*.tmp"))
    assert capsys.readouterr().err == ""                                   # few clips: no progress bar
    assert clips.make_clips("demo", 1, params, lambda p: pytest.fail("cached")) == paths
    assert clips.make_clips("demo", 2, params[:1], tone) != paths[:1]       # another version, another file
    open(paths[1], "wb").close()                                           # an interrupted write: made again
    monkeypatch.setattr(clips, "PROGRESS_FROM", 0)
    clips.make_clips("demo", 1, params, tone)
    assert sf.info(paths[1]).frames == 16000 and "demo" in capsys.readouterr().err


def test_write_clip_refuses_a_wrong_clip(tmp_path):
    for bad in (np.zeros(15999), np.full(16000, 1.5), np.full(16000, np.nan)):
        with pytest.raises(ValueError, match="16000 finite samples"):
            clips.write_clip(tmp_path / "x.wav", bad)
    assert not list(tmp_path.iterdir())
