"""sfx: ten classes of synthesised sound effects, cached one-second clips."""
import numpy as np
import pytest
import soundfile as sf

from _sound_checks import check_clips, files, sound_cache  # noqa: F401  (sound_cache is a fixture)
from mmgan.data import DataError, load_dataset
from mmgan.data import sfx

N = 40   # four of each class


@pytest.fixture(scope="module")
def train(sound_cache):  # noqa: F811
    return load_dataset("sfx", n=N, seed=0)


def test_clips_and_classes(train):
    check_clips(train, N, "sfx")
    assert train.info.class_names == sfx.CLASSES and len(sfx.CLASSES) >= 8
    assert sorted(train.columns["label"].tolist()) == sorted(list(range(10)) * 4)
    assert len(set(train.columns["audio"])) == N                     # items of one class differ
    words = {"kick": "kick|drum", "snare": "snare", "hi-hat": "hat", "chirp": "chirp|upward", "sweep": "sweep|down",
             "dtmf": "key|phone", "noise burst": "noise", "bell": "bell", "clap": "clap", "laser zap": "laser|zap"}
    for y, text in zip(train.columns["label"].tolist(), train.columns["text"]):
        assert any(w in text for w in words[sfx.CLASSES[y]].split("|")), text
    assert len(set(train.columns["text"])) > 20 and "{" not in "".join(train.columns["text"])


def test_classes_sound_like_their_names(train):
    def centroid(x):
        power = np.abs(np.fft.rfft(x)) ** 2
        return (power * np.fft.rfftfreq(len(x), 1 / 16000)).sum() / power.sum()

    by_class = {}
    for y, path in zip(train.columns["label"].tolist(), train.columns["audio"]):
        by_class.setdefault(sfx.CLASSES[y], []).append(sf.read(path, dtype="float32")[0])
    assert max(centroid(x) for x in by_class["kick"]) < 300 < 5000 < min(centroid(x) for x in by_class["hi-hat"])
    for name, rising in (("chirp", True), ("sweep", False)):
        for x in by_class[name]:
            loud = np.flatnonzero(np.abs(x) > 0.05)
            mid = (loud[0] + loud[-1]) // 2
            assert (centroid(x[loud[0]:mid]) < centroid(x[mid:loud[-1]])) == rising, name


def test_dtmf_tones():
    p = {**sfx.draw(sfx.CLASSES.index("dtmf"), np.random.default_rng(0)), "key": "5", "onset": 0.0}
    x = sfx.render(p)
    spectrum = np.abs(np.fft.rfft(x))
    peaks = sorted(np.argsort(spectrum)[-2:] * 16000 / len(x))
    assert abs(peaks[0] - 770) < 3 and abs(peaks[1] - 1336) < 3              # row 2, column 2


def test_deterministic_and_cached(train, sound_cache, monkeypatch):  # noqa: F811
    before = files(sound_cache)
    monkeypatch.setattr(sfx, "render", lambda p: pytest.fail("a second call synthesised a clip"))
    again = load_dataset("sfx", n=N, seed=0)
    assert again.columns["audio"] == train.columns["audio"] and again.columns["text"] == train.columns["text"]
    assert files(sound_cache) == before                                       # no new files, none rewritten
    assert load_dataset("sfx", n=10, seed=0).columns["audio"] == train.columns["audio"][:10]


def test_splits_and_seeds_differ(train):
    test = load_dataset("sfx", split="test", n=10)
    other = load_dataset("sfx", n=10, seed=1)
    assert not set(test.columns["audio"]) & set(train.columns["audio"])
    assert not set(other.columns["audio"]) & set(train.columns["audio"])
    with pytest.raises(DataError, match="valid splits: train, test"):
        load_dataset("sfx", split="valid", n=2)
    assert sfx.DEFAULT_N == {"train": 4000, "test": 800}
