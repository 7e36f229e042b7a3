"""digits-say: each spoken-digits clip with an mnist image of the same digit, test halves held out."""
from __future__ import annotations

import pytest
import torch

from _sound_checks import sound_cache  # noqa: F401  (a fixture)
from mmgan.data import load_dataset
from mmgan.data.spoken_digits import HELDOUT_VOICES
from mmgan.metrics.sound_features import is_spoken_digits

N = 20


@pytest.fixture(scope="module")
def pairs(sound_cache):  # noqa: F811
    return {s: load_dataset("digits-say", split=s, n=N) for s in ("train", "test")}


def test_every_clip_comes_with_an_image_of_its_digit(pairs):
    mnist = load_dataset("mnist", split="test")
    ds = pairs["test"]
    assert len(ds) == N and ds.info.kind == "image" and ds.info.shape == (1, 28, 28)
    assert {"image", "audio", "label", "text"} <= set(ds.columns)
    for img, y in zip(ds.columns["image"], ds.columns["label"]):        # the image is a test image of that digit
        same = (mnist.columns["image"] == img).flatten(1).all(1)
        assert same.any() and (mnist.columns["label"][same] == y).all()


def test_test_pairs_keep_voices_and_images_unseen(pairs):
    train, test = pairs["train"], pairs["test"]
    held = {f"{a}+{v}" for a, v in HELDOUT_VOICES}
    assert set(test.info.extra["voices"]) <= held and not set(train.info.extra["voices"]) & held
    assert not set(map(str, train.columns["audio"])) & set(map(str, test.columns["audio"]))
    seen = train.columns["image"].flatten(1)
    assert not any((seen == img.flatten()).all(1).any() for img in test.columns["image"])


def test_the_clips_as_target_are_spoken_digits_to_the_judge(pairs):
    ds = load_dataset("digits-say", split="test", n=N, target="audio")
    assert ds.info.kind == "audio" and ds.info.shape == (16000,) and is_spoken_digits(ds)
    again = load_dataset("digits-say", split="test", n=N)
    assert torch.equal(again.columns["image"], pairs["test"].columns["image"])      # seeded pairing
