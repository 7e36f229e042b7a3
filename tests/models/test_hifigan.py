"""hifigan: the vocoder family's G (mels -> waveforms, previews of stored clips, copy synthesis) and its
multi-period and multi-scale discriminators, forward/backward and a save/load round trip."""
from __future__ import annotations

import pytest
import torch

from mmgan.config import ModelConfig
from mmgan.models import build_gan
from mmgan.models.base import load_weights, num_params, save_weights
from mmgan.models.hifigan import HiFiGANDiscriminator
from mmgan.modalities.sound import MelSpec

SECOND = MelSpec.for_clip(16000, 16000)             # hop 250, n_fft 1024
HALF = MelSpec.for_clip(16000, 8000)                # hop 125, n_fft 512


def tiny(spec: MelSpec = HALF, **extra) -> ModelConfig:
    return ModelConfig(family="hifigan", g_width=16, d_width=2, condition=[], extra={"mel": spec.to_dict(), **extra})


def test_generator_output_is_the_clip_length():
    G, _ = build_gan(tiny(SECOND), with_discriminator=False)
    assert G.vocoder.config["rates"] == [5, 5, 5, 2]
    mel = torch.rand(2, 1, 64, 64) * 2 - 1
    with torch.no_grad():
        y = G(mel=mel)
    assert y.shape == (2, 1, 16000) and y.abs().max() <= 1
    with torch.no_grad():                               # segments: frames * hop samples
        assert G(mel=mel[..., :16]).shape == (2, 1, 4000)


def test_forward_backward_and_discriminator_outputs():
    torch.manual_seed(0)
    G, D = build_gan(tiny())
    mel = torch.rand(3, 1, 64, 16) * 2 - 1
    y = G(mel=mel)
    assert y.shape == (3, 1, 16 * 125)
    logits, feats = D(y)
    assert len(logits) == len(feats) == 5 + 3           # periods 2, 3, 5, 7, 11, then 3 scales
    assert all(lg.dim() == 2 and lg.shape[0] == 3 for lg in logits)
    assert [len(f) for f in feats] == [6] * 5 + [8] * 3  # every conv's map, the last one the logits'
    sum(lg.mean() for lg in logits).backward()
    assert all(p.grad is not None for p in G.parameters())
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in D.parameters())


def test_periods_and_scales_are_options():
    _, D = build_gan(tiny(periods=[2, 3], scales=1))
    logits, _ = D(torch.randn(2, 1, 1001))              # any length: folded after reflect padding
    assert len(logits) == 3 and [d.period for d in D.mpd] == [2, 3]


def test_preview_and_copy_synthesis():
    G, _ = build_gan(tiny(examples=2), with_discriminator=False)
    waves = torch.randn(3, 1, 8000) * 0.1
    G.remember_examples(HALF.encode(waves[:, 0]))
    assert G.examples_full and int(G.examples_n) == 2
    with torch.no_grad():
        prev = G(torch.zeros(5, 1))
        assert prev.shape == (5, 1, 8000)
        assert torch.equal(prev[0], prev[2]) and not torch.equal(prev[0], prev[1])   # two stored clips, cycled
        assert G.resynthesize(waves).shape == (3, 1, 8000)
    with pytest.raises(ValueError, match="mel="):
        G()


def test_save_load_round_trip(tmp_path):
    torch.manual_seed(0)
    G, D = build_gan(tiny())
    G.eval()
    save_weights(G, tmp_path / "G.safetensors")
    save_weights(D, tmp_path / "D.safetensors")
    torch.manual_seed(1)
    G2, D2 = build_gan(tiny())
    G2.eval()
    load_weights(G2, tmp_path / "G.safetensors")
    load_weights(D2, tmp_path / "D.safetensors")
    mel = torch.rand(2, 1, 64, 16) * 2 - 1
    with torch.no_grad():
        assert torch.equal(G(mel=mel), G2(mel=mel))
        x = G(mel=mel)
        assert all(torch.equal(a, b) for a, b in zip(D(x)[0], D2(x)[0]))
    assert G.config == G2.config


def test_preset_sizes():
    """The preset's widths: a V2-like G (128 channels halved per stage) under a million parameters."""
    G, D = build_gan(ModelConfig(family="hifigan", g_width=128, d_width=8, condition=[],
                                 extra={"mel": SECOND.to_dict()}))
    assert [u.out_channels for u in G.vocoder.ups] == [64, 32, 16, 8]
    assert 0.5e6 < num_params(G.vocoder) < 1e6
    assert isinstance(D, HiFiGANDiscriminator) and [d.period for d in D.mpd] == [2, 3, 5, 7, 11]


@pytest.mark.parametrize("kw,match", [
    (dict(condition=["label"], cond_dim=10), "takes no condition"),
    (dict(extra={}), "model.extra.mel"),
    (dict(g_width=12), "divisible by 16"),
    (dict(extra={"mel": SECOND.to_dict(), "upsample_rates": [5, 5, 5]}), "multiply to 125"),
])
def test_bad_configs_are_loud(kw, match):
    cfg = ModelConfig(**{**dict(family="hifigan", g_width=16, d_width=2, condition=[],
                                extra={"mel": SECOND.to_dict()}), **kw})
    with pytest.raises(ValueError, match=match):
        build_gan(cfg)
