"""The vocoder network and its loader (mmgan.modalities.vocoder): rates from the mel hop, lengths, a
saved run loads back as the same network (no unpickling), mels of another top_db are redrawn, and
mismatched or missing vocoders fail naming the problem."""
from __future__ import annotations

import json

import pytest
import torch

from mmgan.models.base import save_weights
from mmgan.modalities.sound import MelSpec
from mmgan.modalities.vocoder import (HiFiGenerator, check_compatible, generator_kwargs, load_vocoder, rescale,
                                      upsample_rates, vocode)

HALF = MelSpec.for_clip(16000, 8000)


@pytest.mark.parametrize("hop,rates", [(250, [5, 5, 5, 2]), (125, [5, 5, 5]), (1000, [8, 5, 5, 5]), (62, [31, 2]),
                                       (256, [4, 4, 4, 4])])
def test_upsample_rates_multiply_to_the_hop(hop, rates):
    assert upsample_rates(hop) == rates


@pytest.mark.parametrize("rate", [2, 3, 4, 5, 8])
def test_each_stage_upsamples_exactly(rate):
    net = HiFiGenerator(8, [rate, 2], width=8, kernels=[3], dilations=[1])
    with torch.no_grad():
        assert net(torch.zeros(1, 8, 7)).shape == (1, 1, 7 * rate * 2)


def _fake_run(folder, spec=HALF, width=16, seed=0):
    """A hifigan checkpoint as the trainer lays it out: meta.json (the config) + G_ema.safetensors."""
    from mmgan.config import ModelConfig
    from mmgan.models import build_gan

    torch.manual_seed(seed)
    model = ModelConfig(family="hifigan", g_width=width, d_width=2, condition=[], extra={"mel": spec.to_dict()})
    G, _ = build_gan(model, with_discriminator=False)
    ckpt = folder / "checkpoints" / "step-00000001"
    ckpt.mkdir(parents=True)
    save_weights(G, ckpt / "G_ema.safetensors")
    meta = {"config": {"model": vars(model), "data": {"target": "audio"}}, "conditioner": {"modalities": []},
            "data": {"name": "tones", "kind": "audio", "shape": [spec.samples]}, "step": 1}
    (ckpt / "meta.json").write_text(json.dumps(meta))
    (folder / "checkpoints" / "latest").write_text("step-00000001\n")
    return G.eval()


def test_load_vocoder_round_trip(tmp_path):
    G = _fake_run(tmp_path / "voc")
    net = load_vocoder(tmp_path / "voc")
    assert net.config == generator_kwargs({"g_width": 16, "extra": {"mel": HALF.to_dict()}}) and net.spec == HALF
    mel = torch.rand(2, 1, 64, 64) * 2 - 1
    with torch.no_grad():
        assert torch.equal(net(mel), G(mel=mel))
    out = vocode(tmp_path / "voc", mel, HALF)
    assert out.shape == (2, 8000) and torch.equal(out, G(mel=mel)[:, 0].detach())


def test_vocode_redraws_pictures_of_another_loudness_range(tmp_path):
    _fake_run(tmp_path / "voc")
    loud = MelSpec.from_dict({**HALF.to_dict(), "top_db": 30.0})
    x = torch.randn(2, 4000) * 0.1
    assert torch.allclose(rescale(loud.encode(x), loud, HALF), HALF.encode(x), atol=1e-5)
    assert torch.allclose(vocode(tmp_path / "voc", loud.encode(x), loud), vocode(tmp_path / "voc", HALF.encode(x), HALF),
                          atol=1e-4)


def test_mismatched_mels_and_missing_runs_are_loud(tmp_path):
    _fake_run(tmp_path / "voc")
    second = MelSpec.for_clip(16000, 16000)
    with pytest.raises(ValueError, match="hop=125.*clips of the same length"):
        check_compatible(HALF, second, "voc")
    with pytest.raises(ValueError, match="clips of the same length"):
        vocode(tmp_path / "voc", torch.zeros(1, 1, 64, 64), second)
    with pytest.raises(FileNotFoundError, match="vocoder .*nowhere"):
        load_vocoder(tmp_path / "nowhere")
