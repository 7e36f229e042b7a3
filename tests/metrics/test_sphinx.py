"""The pocketsphinx digit judge (skipped without pocketsphinx or espeak-ng)."""
from __future__ import annotations

import numpy as np
import pytest

from mmgan.data import speech
from mmgan.metrics import sphinx

needs_both = pytest.mark.skipif(not (sphinx.available() and speech.available()),
                                reason="needs pocketsphinx (pip install pocketsphinx) and espeak-ng")


def one_second(word: str, **voice) -> np.ndarray:
    """The word padded with silence to 1 s (espeak-ng leaves a little silence before it)."""
    x = speech.speak(word, **voice)[:16000]
    return np.pad(x, (0, 16000 - len(x)))


def test_the_grammar_names_the_ten_digits():
    assert sphinx.GRAMMAR.startswith("#JSGF V1.0;")
    assert "zero | one | two | three | four | five | six | seven | eight | nine;" in sphinx.GRAMMAR


@needs_both
def test_a_clean_espeak_seven_is_heard_as_seven():
    rec = sphinx.DigitRecognizer()
    waves = np.stack([one_second("seven", voice="en-us"), one_second("two", voice="en")])
    assert rec.recognise(waves) == ["seven", "two"]
    acc = sphinx.sphinx_accuracy(waves, [7, 2], rec)
    assert acc == {"sphinx_acc": 1.0, "sphinx_silent": 0.0, "sphinx_n": 2}
    assert sphinx.sphinx_accuracy(waves, [8, 3], rec)["sphinx_acc"] == 0.0      # the wrong labels: a control


@pytest.mark.skipif(not sphinx.available(), reason="needs pocketsphinx")
def test_wrong_shapes_are_refused():
    with pytest.raises(ValueError, match="16000"):
        sphinx.DigitRecognizer().recognise(np.zeros((1, 100)))
