"""A joint space for sound without images (issue 21): the clips are the hub, text and labels are bound to
them, and the space saves and loads as itself; spaces bound to images keep their config (and so their id)."""
from __future__ import annotations

import numpy as np
import pytest

from mmgan.conditioning import JointSpace, load_embedder
from mmgan.data import load_dataset
from mmgan.training.joint import JointOptions, hub_of, positive_groups, train_joint

from _mm_tiny import TINY_JOINT
from _tiny import tone_manifest


@pytest.fixture(scope="module")
def tones(tmp_path_factory):
    return load_dataset(str(tone_manifest(tmp_path_factory.mktemp("tones") / "data", n=12, classes=2)))


def test_sound_with_captions_binds_to_its_clips(tones, tmp_path):
    assert hub_of(tones) == "audio" and positive_groups(tones, "audio").tolist() == tones.columns["label"].tolist()
    opts = JointOptions(dim=16, steps=3, batch_size=8, log_every=0, minutes=0,
                        encoders={m: TINY_JOINT[m] for m in ("text", "audio")})
    space, report = train_joint(tones, None, opts)
    assert report["hub"] == "audio" and report["modalities"] == ["audio", "text", "label"]
    assert report["phase_a"]["steps"] == 3 and "phase_b" not in report
    assert space.hub == "audio" and space.config["hub"] == "audio" and "image" not in space.modalities
    v = space.embed("audio", tones.columns["audio"][:2])
    assert v.shape == (2, 16) and np.allclose(np.linalg.norm(v, axis=1), 1, atol=1e-5)
    again = load_embedder(space.save_pretrained(tmp_path / "joint"))
    assert again.hub == "audio" and again.id == space.id
    np.testing.assert_allclose(again.embed("text", ["a low tone"]), space.embed("text", ["a low tone"]), atol=1e-5)


def test_image_spaces_keep_their_config_and_a_hub_needs_its_encoder():
    assert "hub" not in JointSpace(TINY_JOINT, dim=16).config          # saved spaces' ids do not change
    with pytest.raises(ValueError, match="include an 'audio' encoder"):
        JointSpace({"text": TINY_JOINT["text"]}, dim=16, hub="audio")
    with pytest.raises(ValueError, match="include an 'image' encoder"):
        JointSpace({"text": TINY_JOINT["text"], "audio": TINY_JOINT["audio"]}, dim=16)
