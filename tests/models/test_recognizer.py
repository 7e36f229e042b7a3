"""The recognizer family: forward/backward, save/load round trip, decoding, clear errors."""
import pytest
import torch

from mmgan.config import ModelConfig
from mmgan.models import build_gan
from mmgan.models.base import load_weights, save_weights
from mmgan.models.recognizer import trimmed_lengths
from mmgan.modalities.text import EOS, SPECIALS

VOCAB = SPECIALS + list(" abc")
TINY = {"vocab": VOCAB, "tokens": "char", "n_mels": 16, "conv_width": 4, "hidden": 8, "layers": 1}


def build(**extra):
    return build_gan(ModelConfig(family="recognizer", condition=["audio"], extra={**TINY, **extra}))


def test_forward_backward_and_shapes():
    torch.manual_seed(0)
    G, D = build()
    waves = torch.randn(3, 8000) * 0.1
    lp, n = G.log_probs(waves, torch.tensor([8000, 6000, 1000]))
    assert lp.shape == (3, 13, len(VOCAB)) and n.tolist() == [13, 10, 2]      # 10 ms hop, time stride 4
    assert torch.allclose(lp.exp().sum(-1), torch.ones(3, 13), atol=1e-5)
    lp[:, :, 3].sum().backward()
    assert all(p.grad is not None for p in G.parameters())
    assert sum(p.numel() for p in D.parameters()) == 1                        # the stand-in D


def test_upsample_writes_more_output_frames_than_the_gru_runs():
    G, _ = build(upsample=2)
    lp, n = G.log_probs(torch.randn(2, 8000) * 0.1, torch.tensor([8000, 1000]))
    assert lp.shape == (2, 26, len(VOCAB)) and n.tolist() == [26, 4]          # 20-ms output frames
    assert G.frame_seconds == pytest.approx(0.02)
    assert G.transcribe(torch.randn(1, 8000) * 0.1)[0]["frames"] == 26


def test_padding_never_changes_a_clip():
    G, _ = build()
    G.eval()
    x = torch.randn(1, 4000) * 0.1
    padded = torch.cat([x, torch.zeros(1, 4000)], 1)
    a, _ = G.log_probs(x)
    b, n = G.log_probs(padded)                                                 # lengths: up to the last non-zero
    assert n.tolist() == [a.shape[1]] and torch.allclose(a[0], b[0, :a.shape[1]], atol=1e-5)


def test_generate_ids_end_with_eos_and_save_load_round_trip(tmp_path):
    torch.manual_seed(1)
    G, _ = build()
    G.eval()
    waves = torch.randn(2, 6000) * 0.1
    ids = G(None, None, source=waves)
    assert ids.dtype == torch.long and (ids == EOS).sum(1).tolist() == [1, 1]
    save_weights(G, tmp_path / "g.safetensors")
    G2, _ = build()
    load_weights(G2, tmp_path / "g.safetensors").eval()
    assert torch.equal(G2(None, None, source=waves), ids)
    res = G.transcribe(waves, decode="beam", beam_size=4)
    assert set(res[0]) >= {"text", "tokens", "spans", "frames", "frame_seconds"} and res[0]["frame_seconds"] == 0.04
    with pytest.raises(ValueError, match="has no lexicon"):
        G.transcribe(waves, decode="lexicon")
    L, _ = build(lexicon=["ab", "c"], decode="lexicon")
    L.eval()
    assert L.config["lexicon"] == ["ab", "c"]
    for r in L.transcribe(waves, beam_size=4):
        assert set(r["text"].split()) <= {"ab", "c"} and len(r["spans"]) == len(r["tokens"])


def test_trimmed_lengths():
    x = torch.zeros(3, 10)
    x[0, :4] = 1
    x[1, 2:9] = 1
    assert trimmed_lengths(x).tolist() == [4, 9, 1]


@pytest.mark.parametrize("extra, match", [
    ({"vocab": ["a", "b"]}, "must be"),
    ({"vocab": SPECIALS + ["ab"]}, "holds words"),
    ({"tokens": "word"}, "tokens=char"),
    ({"time_stride": 3}, "time_stride"),
    ({"upsample": 5}, "upsample"),
    ({"decode": "sample"}, "greedy, beam or lexicon"),
    ({"decode": "lexicon"}, "needs model.extra.lexicon"),
])
def test_clear_errors(extra, match):
    with pytest.raises(ValueError, match=match):
        build(**extra)


def test_condition_other_than_audio_is_refused():
    with pytest.raises(ValueError, match="reads the clip"):
        build_gan(ModelConfig(family="recognizer", condition=["audio", "text"], extra=TINY))
