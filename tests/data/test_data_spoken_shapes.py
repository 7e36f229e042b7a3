"""spoken-shapes: the shapes captions spoken as whole sentences; test voices never heard in training.
Tests that synthesize skip where espeak-ng is unavailable."""
import numpy as np
import pytest
import soundfile as sf

from _sound_checks import sound_cache  # noqa: F401  (a fixture)
from mmgan.data import DataError, load_dataset, speech
from mmgan.data import spoken_digits as sd
from mmgan.data import spoken_shapes as ss

needs_espeak = pytest.mark.skipif(not speech.available(), reason="espeak-ng unavailable (pip install espeakng-loader)")


def test_transcript_is_what_a_listener_writes():
    assert ss.transcript("right: grass-green box, mini") == "right grass green box mini"
    assert ss.transcript("sunny yellow disc (huge) at the top") == "sunny yellow disc huge at the top"
    with pytest.raises(DataError, match="valid splits: train, test"):
        ss.spoken_shapes(split="heldout", n=2)


def test_render_pads_and_levels(monkeypatch):
    monkeypatch.setattr(speech, "speak", lambda *a: np.concatenate([np.zeros(800), np.full(8000, 0.5),
                                                                   np.zeros(3000)]).astype(np.float32))
    clip = ss.render({"caption": "a red circle", "voice": "en", "variant": "m1", "speed": 150, "pitch": 50,
                      "pad": [0.1, 0.2], "level_db": -3.0})
    assert len(clip) == 1600 + 8000 + 3200 and not clip[:1600].any() and not clip[-3200:].any()
    assert abs(20 * np.log10(np.abs(clip).max()) + 3) < 1e-3


@needs_espeak
def test_sentences_with_unheard_test_voices(sound_cache):  # noqa: F811
    train, test = load_dataset("spoken-shapes", n=6), load_dataset("spoken-shapes", split="test", n=4)
    assert train.info.kind == "audio" and train.info.extra["voices"] == [f"{a}+{v}" for a, v in sd.split_voices("train")]
    heard = {tuple(r[4:].tolist()) for r in train.columns["attributes"]}
    unheard = {tuple(r[4:].tolist()) for r in test.columns["attributes"]}
    held = {(speech.VOICES.index(a), speech.VARIANTS.index(v)) for a, v in sd.HELDOUT_VOICES}
    assert unheard <= held and not heard & held
    for path, text in zip(train.columns["audio"], train.columns["text"]):
        info = sf.info(path)
        assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
        assert 1.0 < info.frames / 16000 < 6.0 and text == ss.transcript(text) and len(text.split()) >= 3
    again = load_dataset("spoken-shapes", n=6)                   # cached: the same files and transcripts
    assert again.columns["audio"] == train.columns["audio"] and again.columns["text"] == train.columns["text"]
