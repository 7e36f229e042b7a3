"""The shared component test: every registered model family gets a tiny forward/backward and a
save/load round trip (diffusers' shared-mixin idea). A family registered without a tiny case here
fails `test_every_family_has_a_case`, so new families cannot skip it."""
from __future__ import annotations

import pytest
import torch

from mmgan import registry
from mmgan.config import ModelConfig
from mmgan.models import build_gan
from mmgan.models.base import load_weights, save_weights

IMG = dict(channels=1, resolution=16, z_dim=8, g_width=8, d_width=8)
VEC = dict(data_dim=2, z_dim=4, g_hidden=[16, 16], d_hidden=[16, 16])

# family -> list of (case id, ModelConfig kwargs, input shape, condition dim)
CASES: dict[str, list[tuple[str, dict, tuple, int]]] = {
    "mlp": [
        ("vector", dict(family="mlp", **VEC), (2,), 0),
        ("cbn-projection", dict(family="mlp", **VEC, cond_dim=3, num_classes=3), (2,), 3),
        ("concat-concat-acgan", dict(family="mlp", **VEC, cond_dim=3, num_classes=3, g_cond="concat",
                                     d_cond="concat", acgan=True), (2,), 3),
        ("sn-mbstd-pack2", dict(family="mlp", **VEC, spectral_norm=True, mbstd=True, pack=2), (2,), 0),
        ("image", dict(family="mlp", channels=1, resolution=8, z_dim=4, g_hidden=[16], d_hidden=[16]), (1, 8, 8), 0),
    ],
    "dcgan": [
        ("uncond", dict(family="dcgan", **IMG), (1, 16, 16), 0),
        ("28px-cbn-projection-acgan", dict(family="dcgan", channels=1, resolution=28, z_dim=8, g_width=8,
                                           d_width=8, cond_dim=10, num_classes=10, acgan=True), (1, 28, 28), 10),
        ("concat-sn-mbstd-pack2", dict(family="dcgan", **IMG, cond_dim=4, num_classes=4, g_cond="concat",
                                       d_cond="concat", spectral_norm=True, mbstd=True, pack=2), (1, 16, 16), 4),
        ("rgb-64", dict(family="dcgan", channels=3, resolution=64, z_dim=8, g_width=4, d_width=4), (3, 64, 64), 0),
        ("28px-s0-2-pack2", dict(family="dcgan", channels=3, resolution=28, z_dim=8, g_width=4, d_width=4, pack=2,
                                 extra={"s0": 2}), (3, 28, 28), 0),
    ],
    "specgan": [    # DCGAN on the audio codec's 64x64 log-mel pictures
        ("64-concat-projection-acgan", dict(family="specgan", channels=1, resolution=64, z_dim=8, g_width=4,
                                            d_width=4, cond_dim=10, num_classes=10, g_cond="concat", acgan=True),
         (1, 64, 64), 10),
    ],
    "ttsgan": [     # a caption's tokens along time -> log-mel pictures; without tokens the condition is one "word"
        ("16-time-d", dict(family="ttsgan", channels=1, resolution=16, z_dim=8, d_width=8, cond_dim=10,
                           extra={"width": 8, "blocks": 2}), (1, 16, 16), 10),
        ("16-picture-d", dict(family="ttsgan", channels=1, resolution=16, z_dim=8, d_width=4, cond_dim=10,
                              extra={"width": 8, "blocks": 2, "discriminator": "picture"}), (1, 16, 16), 10),
    ],
    "wavegan": [    # waveforms: (1, samples) at 16 kHz; 1 s = 16 -> 64 -> ... -> 16384 samples, cropped
        ("1s-concat-projection-acgan", dict(family="wavegan", data_dim=16000, z_dim=8, g_width=2, d_width=2,
                                            cond_dim=10, num_classes=10, g_cond="concat", acgan=True), (1, 16000), 10),
        ("short-film-concat-sn-mbstd-pack2", dict(family="wavegan", data_dim=1000, z_dim=8, g_width=2, d_width=2,
                                                  cond_dim=3, num_classes=3, g_cond="cbn", d_cond="concat",
                                                  spectral_norm=True, mbstd=True, pack=2), (1, 1000), 3),
    ],
    "stylegan2": [
        ("uncond", dict(family="stylegan2", **IMG, extra={"w_dim": 16, "mapping_layers": 2}), (1, 16, 16), 0),
        ("28px-label-pack2", dict(family="stylegan2", channels=1, resolution=28, z_dim=8, g_width=4, d_width=4,
                                  cond_dim=10, num_classes=10, pack=2, extra={"w_dim": 16}), (1, 28, 28), 10),
    ],
    "gansformer": [
        ("rgb-label", dict(family="gansformer", **{**IMG, "channels": 3}, cond_dim=4, num_classes=4,
                           extra={"w_dim": 16, "latents": 3, "attn_dim": 8}), (3, 16, 16), 4),
    ],
    "cyclegan": [   # without images G(z) is its preview [A, A->B, B, B->A] of stored examples
        ("domains", dict(family="cyclegan", channels=3, resolution=16, g_width=4, d_width=4, cond_dim=2,
                         num_classes=2, extra={"res_blocks": 1, "pool_size": 4}), (3, 16, 16), 2),
    ],
}


def all_cases():
    for fam, cases in CASES.items():
        for cid, kw, shape, cdim in cases:
            yield pytest.param(kw, shape, cdim, id=f"{fam}-{cid}")


def test_every_family_has_a_case():
    missing = set(registry.names("model")) - set(CASES) - set(EXTERNAL_FAMILIES)
    assert not missing, f"families without a tiny component test case: {missing}"


# Families whose component tests live next to their own tests (they need extra inputs).
EXTERNAL_FAMILIES: set[str] = {"progressive", "stackgan", "dfgan",   # tests/families/test_family_components.py; dfgan: tests/multimodal/test_dfgan.py
                                "hifigan",                            # mels in, waveforms out: tests/models/test_hifigan.py
                                "captioner",                          # images in, token ids out: tests/models/test_captioner.py
                                "recognizer",                         # waveforms in, CTC ids out: tests/models/test_recognizer.py
                                "srresnet", "esrgan",                 # images in, bigger images out: tests/models/test_upscale.py
                                "restorer",                           # damaged images and masks in: tests/models/test_restore.py
                                "mocogan"}                            # sound in, video out: tests/models/test_mocogan.py


def _cond(b, cdim):
    return torch.nn.functional.one_hot(torch.arange(b) % cdim, cdim).float() if cdim else None


@pytest.mark.parametrize("kw,shape,cdim", list(all_cases()))
def test_forward_backward(kw, shape, cdim):
    torch.manual_seed(0)
    cfg = ModelConfig(**kw)
    G, D = build_gan(cfg)
    b = 4
    z = torch.randn(b, cfg.z_dim)
    c = _cond(b, cdim)
    x = G(z, c)
    assert x.shape == (b, *shape)
    assert x.abs().max() <= 1.0
    logits, aux = D(x, c)
    assert logits.shape == (b // cfg.pack,)
    loss = logits.mean() + (aux.mean() if aux is not None else 0)
    loss.backward()
    assert all(p.grad is not None for p in G.parameters() if p.requires_grad)
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in D.parameters())
    if cfg.acgan:
        assert aux.shape == (b, cfg.num_classes)


@pytest.mark.parametrize("kw,shape,cdim", list(all_cases()))
def test_save_load_round_trip(kw, shape, cdim, tmp_path):
    torch.manual_seed(0)
    cfg = ModelConfig(**kw)
    G, D = build_gan(cfg)
    G.eval(), D.eval()
    save_weights(G, tmp_path / "G.safetensors")
    save_weights(D, tmp_path / "D.safetensors")
    torch.manual_seed(1)
    G2, D2 = build_gan(cfg)
    G2.eval(), D2.eval()
    load_weights(G2, tmp_path / "G.safetensors")
    load_weights(D2, tmp_path / "D.safetensors")
    z = torch.randn(4, cfg.z_dim)
    c = _cond(4, cdim)
    with torch.no_grad():
        assert torch.equal(G(z, c), G2(z, c))
        x = G(z, c)
        assert torch.equal(D(x, c)[0], D2(x, c)[0])
    # the config alone rebuilds the generator (no pickled code)
    assert G.config == G2.config


def test_load_mismatched_weights_is_loud(tmp_path):
    G, _ = build_gan(ModelConfig(**dict(family="dcgan", **IMG)))
    save_weights(G, tmp_path / "G.safetensors")
    other, _ = build_gan(ModelConfig(**dict(family="dcgan", **{**IMG, "g_width": 16})))
    with pytest.raises(ValueError, match="do not match"):
        load_weights(other, tmp_path / "G.safetensors")


def test_dcgan_rejects_bad_resolution():
    with pytest.raises(ValueError, match="data.resolution"):
        build_gan(ModelConfig(family="dcgan", channels=1, resolution=18))


def test_dcgan_benchmark_architecture():
    """mnist + g_width 64 is the DCGAN-28 of BENCHMARKS.md: z -> 128@7 -> 64@14 -> 1@28."""
    G, D = build_gan(ModelConfig(family="dcgan", channels=1, resolution=28, z_dim=100, g_width=64, d_width=64))
    assert G.fc.out_features == 128 * 7 * 7
    assert [m.out_channels for m in G.ups] == [64]
    assert G.out.out_channels == 1


def test_dcgan_pacgan_architecture():
    """extra.s0=2 at 28 px is PacGAN's Stacked MNIST DCGAN: z -> 512@2 -> 256@4 -> 128@7 -> 64@14 -> 3@28
    (sides halved rounding up, as TensorFlow's SAME padding), D mirrored with four convs."""
    G, D = build_gan(ModelConfig(family="dcgan", channels=3, resolution=28, z_dim=100, g_width=64, d_width=64,
                                 pack=2, extra={"s0": 2}))
    assert G.fc.out_features == 512 * 2 * 2
    h, sides = G.fc(torch.zeros(1, 100)).view(1, 512, 2, 2), []
    for layer in G.ups:
        h = layer(h)
        sides.append((h.shape[1], h.shape[-1]))
    assert sides == [(256, 4), (128, 7), (64, 14)]
    assert G(torch.randn(2, 100)).shape == (2, 3, 28, 28)
    convs = [m for m in D.body if isinstance(m, torch.nn.Conv2d)]
    assert [(c.in_channels, c.out_channels) for c in convs] == [(6, 64), (64, 128), (128, 256), (256, 512)]
    assert D.head.in_features == 512 * 2 * 2
    assert D(torch.randn(4, 3, 28, 28))[0].shape == (2,)
    # the default plan is untouched, and a side that halving never reaches is refused with the sides listed
    G0, _ = build_gan(ModelConfig(family="dcgan", channels=3, resolution=28, z_dim=100, g_width=64, d_width=64))
    assert G0.fc.out_features == 128 * 7 * 7 and "s0" not in G0.config
    with pytest.raises(ValueError, match="28 -> 14 -> 7 -> 4 -> 2"):
        build_gan(ModelConfig(family="dcgan", channels=3, resolution=28, extra={"s0": 3}))


def test_stacked_mnist_pacgan_preset_builds_that_architecture():
    from mmgan.config import Config

    cfg = Config.load("stacked-mnist-pacgan-arch")
    cfg.model.channels, cfg.model.resolution = 3, 28                # what the stacked-mnist data resolves to
    G, D = build_gan(cfg.model)
    assert G.fc.out_features == 512 * 2 * 2 and D.m == 2 and D.head.in_features == 512 * 2 * 2
    assert cfg.data.n == 128_000


def test_specgan_refuses_colour_pictures():
    with pytest.raises(ValueError, match="one-channel log-mel"):
        build_gan(ModelConfig(family="specgan", channels=3, resolution=64, z_dim=8, g_width=4, d_width=4))
