"""notes: six timbres over two octaves, label = timbre, pitch as an attribute."""
import numpy as np
import pytest
import soundfile as sf

from _sound_checks import check_clips, files, sound_cache  # noqa: F401  (sound_cache is a fixture)
from mmgan.data import DataError, load_dataset
from mmgan.data import notes

N = 48   # every timbre 8 times, every pitch twice


@pytest.fixture(scope="module")
def train(sound_cache):  # noqa: F811
    return load_dataset("notes", n=N, seed=0)


def test_clips_timbres_and_pitches(train):
    check_clips(train, N, "notes")
    assert train.info.class_names == notes.TIMBRES and len(notes.TIMBRES) >= 5
    assert list(train.info.attributes) == ["pitch", "timbre"]
    assert train.info.attributes["pitch"][0] == "C3" and train.info.attributes["pitch"][-1] == "B4"
    a = train.columns["attributes"]
    assert sorted(a[:, 1].tolist()) == sorted(list(range(6)) * 8)
    assert sorted(a[:, 0].tolist()) == sorted(list(range(24)) * 2)
    assert (train.columns["label"] == a[:, 1]).all()                        # label = timbre
    for (pitch, timbre), text in zip(a.tolist(), train.columns["text"]):
        assert notes.PITCHES[pitch] in text.replace(",", "").split(), text
        assert any(phrase in text for phrase in notes.PHRASES[notes.TIMBRES[timbre]]), text


@pytest.mark.parametrize("timbre", ["sine", "square", "sawtooth", "pluck", "organ"])
def test_pitch_is_in_tune(timbre):
    """The autocorrelation's first peak sits at the note's period (within 5 cents)."""
    for midi in (48, 60, 71):
        p = {**notes.draw(notes.TIMBRES.index(timbre), 0, np.random.default_rng(midi)), "midi": midi, "cents": 0.0}
        x = notes.render(p)[2000:8000].astype(np.float64) * np.hanning(6000)
        ac = np.correlate(x, x, "full")[len(x) - 1:]
        f = notes.frequency(midi)
        lo, hi = int(16000 / f / 1.5), int(16000 / f * 1.5)
        lag = lo + int(np.argmax(ac[lo:hi]))
        a, b, c = ac[lag - 1: lag + 2]
        estimate = 16000 / (lag + 0.5 * (a - c) / (a - 2 * b + c))
        assert abs(1200 * np.log2(estimate / f)) < 5, (timbre, midi, estimate, f)


def test_band_limited():
    """No energy above 7.6 kHz (aliases would land there first) for the brightest timbres."""
    for timbre in ("square", "sawtooth", "bell"):
        p = {**notes.draw(notes.TIMBRES.index(timbre), 23, np.random.default_rng(1)), "velocity": 1.0}
        power = np.abs(np.fft.rfft(notes.render(p))) ** 2
        assert power[np.fft.rfftfreq(16000, 1 / 16000) > 7700].sum() < 1e-4 * power.sum(), timbre


def test_deterministic_and_cached(train, sound_cache, monkeypatch):  # noqa: F811
    before = files(sound_cache)
    monkeypatch.setattr(notes, "render", lambda p: pytest.fail("a second call synthesised a clip"))
    again = load_dataset("notes", n=N, seed=0)
    assert again.columns["audio"] == train.columns["audio"] and again.columns["text"] == train.columns["text"]
    assert files(sound_cache) == before
    x, _ = sf.read(train.columns["audio"][0])
    assert x.shape == (16000,)


def test_splits_and_seeds_differ(train):
    test = load_dataset("notes", split="test", n=12)
    other = load_dataset("notes", n=12, seed=1)
    assert not set(test.columns["audio"]) & set(train.columns["audio"])
    assert not set(other.columns["audio"]) & set(train.columns["audio"])
    with pytest.raises(DataError, match="valid splits: train, test"):
        load_dataset("notes", split="heldout", n=2)
    assert notes.DEFAULT_N == {"train": 4000, "test": 800}
