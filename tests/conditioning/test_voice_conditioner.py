"""The voice conditioner: references drawn from the same speaker (never the row itself when the speaker has
another clip), the voice appended to the other conditions' vector, no reference = zeros, a saved config
rebuilds it, and clear errors for a wrong number of clips."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from mmgan.conditioning import build_conditioner
from mmgan.conditioning.voice import VoiceConditioner, other_clip_of_speaker, speaker_groups

ENCODER = {"name": "audio-cnn", "dim": 8, "width": 8, "n_mels": 16, "hop_ms": 20.0, "max_seconds": 2.0, "norm": "clip"}


def test_references_come_from_the_same_speaker_and_never_the_row_itself():
    speakers = ["a", "b", "a", "c", "b", "a", "solo", "c"]
    sid, order, start, count, _ = speaker_groups(speakers)
    idx = torch.arange(len(speakers)).repeat(200)
    ref = other_clip_of_speaker(idx, sid, order, start, count, torch.Generator().manual_seed(0))
    assert torch.equal(sid[ref], sid[idx])                                   # same speaker
    solo = idx == 6
    assert torch.equal(ref[solo], idx[solo])                                 # the only clip stands for itself
    assert not (ref[~solo] == idx[~solo]).any()                             # otherwise never itself
    assert set(ref[idx == 0].tolist()) == {2, 5}                            # and every other clip gets drawn


def _tone(f, harmonic, sr=16000):
    t = np.arange(sr // 2) / sr
    return (0.3 * np.sin(2 * np.pi * f * t) + 0.2 * np.sin(2 * np.pi * f * harmonic * t)).astype(np.float32)


def test_voice_joins_the_label_vector_and_a_saved_config_rebuilds_it():
    cond = VoiceConditioner(["label", "voice"], num_classes=3, encoder=ENCODER, dropout=0.0).eval()
    assert cond.cond_dim == 3 + 8
    c = cond(labels=torch.tensor([0, 2]), voice=[_tone(300, 2), _tone(300, 5)])
    assert c.vec.shape == (2, 11)
    assert torch.equal(c.vec[:, :3], torch.eye(3)[[0, 2]])
    assert torch.allclose(c.vec[:, 3:].norm(dim=1), torch.ones(2), atol=1e-5)   # unit voices
    assert not torch.allclose(c.vec[0, 3:], c.vec[1, 3:])                      # two timbres, two voices
    silent = cond(labels=torch.tensor([1]))
    assert torch.equal(silent.vec[0, 3:], torch.zeros(8))                      # no reference: the zero voice
    again = build_conditioner(cond.config)
    again.load_state_dict(cond.state_dict())
    assert torch.allclose(again.eval()(labels=torch.tensor([0]), voice=[_tone(300, 2)]).vec, c.vec[:1], atol=1e-6)


def test_expand_broadcasts_one_clip_and_refuses_a_wrong_count():
    cond = VoiceConditioner(["label", "voice"], num_classes=3, encoder=ENCODER)
    out = cond.expand(3, labels=torch.tensor([1]), voice="ref.wav")
    assert out["voice"] == ["ref.wav"] * 3 and out["labels"].tolist() == [1, 1, 1]
    with pytest.raises(ValueError, match="2 voice clips for 3 samples"):
        cond.expand(3, labels=torch.tensor([1]), voice=["a.wav", "b.wav"])


def test_training_rows_hear_another_clip_of_their_speaker():
    cond = VoiceConditioner(["voice"], encoder=ENCODER, dropout=0.0).train()
    table = torch.eye(8)[:4]                                       # four clips, each its own voice vector
    cond.attach_voices(table, ["x", "y", "x", "y"])
    c = cond.from_batch({"index": torch.tensor([0, 1, 2, 3])}, torch.device("cpu"))
    assert torch.equal(c.vec, table[[2, 3, 0, 1]])                 # each row the other clip of its speaker
    cond.eval()
    assert torch.equal(cond.from_batch({"index": torch.tensor([0, 1])}, torch.device("cpu")).vec, table[:2])


def test_voice_needs_its_encoder_and_the_voice_modality():
    with pytest.raises(ValueError, match="speaker encoder"):
        VoiceConditioner(["label", "voice"], num_classes=3)
    with pytest.raises(ValueError, match="needs 'voice'"):
        VoiceConditioner(["label"], num_classes=3, encoder=ENCODER)
    from mmgan.conditioning import Conditioner
    with pytest.raises(ValueError, match="needs the voice conditioner"):      # the label-only one names it
        Conditioner(["label", "voice"], num_classes=3)


def test_mismatched_swaps_the_voice_alone_on_odd_rows_and_all_on_even():
    """loss.mismatch asks the conditioner how to mismatch: odd rows keep their label and take the next row's
    voice, even rows take the next row's whole condition."""
    cond = VoiceConditioner(["label", "voice"], num_classes=4, encoder=ENCODER)
    vec = torch.cat([torch.eye(4), torch.arange(32, dtype=torch.float).reshape(4, 8)], 1)
    out = cond.mismatched(vec)
    prev = [3, 0, 1, 2]
    assert torch.equal(out[1::2, :4], vec[1::2, :4])                  # odd: own label ...
    assert torch.equal(out[1::2, 4:], vec[prev[1::2], 4:])            # ... another row's voice
    assert torch.equal(out[0::2], vec[prev[0::2]])                    # even: another row's whole condition
