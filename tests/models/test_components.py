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
EXTERNAL_FAMILIES: set[str] = {"progressive", "stackgan", "dfgan"}   # tests/families/test_family_components.py; dfgan: tests/multimodal/test_dfgan.py


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
