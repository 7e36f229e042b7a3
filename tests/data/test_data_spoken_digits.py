"""spoken-digits: espeak-ng digits in 1 s clips; test voices never heard in training.
Tests that synthesize skip where espeak-ng is unavailable; the fitting rules are tested without it."""
import numpy as np
import pytest
import soundfile as sf

from _sound_checks import check_clips, files, sound_cache  # noqa: F401  (sound_cache is a fixture)
from mmgan.data import DataError, load_dataset, speech
from mmgan.data import spoken_digits as sd
from mmgan.data.digits import DIGIT_WORDS

needs_espeak = pytest.mark.skipif(not speech.available(), reason="espeak-ng unavailable (pip install espeakng-loader)")
N = 40


def test_heldout_voices():
    train, test = set(sd.split_voices("train")), set(sd.split_voices("test"))
    assert not train & test and len(train | test) == len(speech.VOICES) * len(speech.VARIANTS)
    assert test == set(sd.HELDOUT_VOICES) and {("en-029", v) for v in speech.VARIANTS} <= test
    assert {v for _, v in train} == set(speech.VARIANTS)          # every variant is heard in some accent
    with pytest.raises(DataError, match="valid splits: train, test"):
        sd.spoken_digits(split="valid", n=2)


def test_trim_and_fit_rules(monkeypatch):
    word = np.concatenate([np.full(800, 0.004), np.full(4000, -0.5), np.full(1600, 0.0045)]).astype(np.float32)
    assert len(sd.trim_silence(word)) == 4000                    # under -40 dB of the peak (0.005) on both sides is cut
    assert len(sd.trim_silence(word, threshold_db=-50)) == 6400

    calls = []

    def speak(text, voice, variant, speed, pitch, sample_rate):   # 1.6 s at the drawn speed, shorter when faster
        calls.append(speed)
        return np.sin(np.arange(int(1.6 * 16000 * 150 / speed)) / 5).astype(np.float32)

    monkeypatch.setattr(speech, "speak", speak)
    y = sd.fit_word("seven", "en", "m1", 150, 50)
    assert calls[0] == 150 and calls[-1] > 150 * 1.6 and len(y) <= 16000      # re-synthesized faster
    monkeypatch.setattr(speech, "speak", lambda *a: np.ones(40000, np.float32))
    y = sd.fit_word("seven", "en", "m1", 150, 50)                               # never fits: cut with a fade
    assert len(y) == 16000 and y[-1] == 0 and y[8000] == 1
    clip = sd.render({"text": "seven", "voice": "en", "variant": "m1", "speed": 150, "pitch": 50,
                      "offset": 0.0, "level_db": -3.0})
    assert clip.shape == (16000,) and abs(20 * np.log10(np.abs(clip).max()) + 3) < 1e-3


def test_unavailable_espeak_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("MMGAN_CACHE", str(tmp_path))
    monkeypatch.setattr(speech, "_ENGINE", None)
    monkeypatch.setattr(speech, "_LibEngine", lambda: (_ for _ in ()).throw(OSError("no library")))
    monkeypatch.setattr(speech.shutil, "which", lambda name: None)
    with pytest.raises(speech.SpeechUnavailable, match="pip install espeakng-loader"):
        load_dataset("spoken-digits", n=2)


@pytest.fixture(scope="module")
def train(sound_cache):  # noqa: F811
    return load_dataset("spoken-digits", n=N, seed=0)


@needs_espeak
def test_clips_digits_and_captions(train):
    check_clips(train, N, "spoken-digits")
    assert train.info.class_names == DIGIT_WORDS
    assert sorted(train.columns["label"].tolist()) == sorted(list(range(10)) * 4)
    for y, text in zip(train.columns["label"].tolist(), train.columns["text"]):
        assert DIGIT_WORDS[y] in text
    assert len(set(train.columns["text"])) > 10
    a = train.columns["attributes"]
    assert list(train.info.attributes) == ["digit", "accent", "variant"] and (a[:, 0] == train.columns["label"]).all()
    for path in train.columns["audio"][:5]:                     # the word sits inside the second, with room around it
        x, _ = sf.read(path, dtype="float32")
        assert np.abs(x[:16]).max() < 0.02 and np.abs(x[-16:]).max() < 0.02


@needs_espeak
def test_test_voices_never_heard_in_training(train):
    test = load_dataset("spoken-digits", split="test", n=20)
    check_clips(test, 20, "spoken-digits")

    def voices(ds):
        acc, var = ds.info.attributes["accent"], ds.info.attributes["variant"]
        return {f"{acc[a]}+{var[v]}" for _, a, v in ds.columns["attributes"].tolist()}

    assert voices(train) <= set(train.info.extra["voices"]) and voices(test) <= set(test.info.extra["voices"])
    assert not set(train.info.extra["voices"]) & set(test.info.extra["voices"])
    assert len(voices(train)) > 20 and not set(test.columns["audio"]) & set(train.columns["audio"])


@needs_espeak
def test_deterministic_and_cached(train, sound_cache, monkeypatch):  # noqa: F811
    before = files(sound_cache)
    monkeypatch.setattr(sd, "render", lambda p: pytest.fail("a second call synthesised a clip"))
    again = load_dataset("spoken-digits", n=N, seed=0)
    assert again.columns["audio"] == train.columns["audio"] and again.columns["text"] == train.columns["text"]
    assert files(sound_cache) == before
    assert load_dataset("spoken-digits", n=10, seed=0).columns["audio"] == train.columns["audio"][:10]
    monkeypatch.undo()
    assert not set(load_dataset("spoken-digits", n=5, seed=1).columns["audio"]) & set(train.columns["audio"])
