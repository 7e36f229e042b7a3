"""Every fusion method: shapes, masks, missing modalities, backward and a save/load round trip."""
from __future__ import annotations

import pytest
import torch

from mmgan.fusion import FUSIONS, ModalityFeatures
from mmgan.fusion.base import modality_dropout
from mmgan.models.base import load_weights, save_weights
from mmgan.registry import build, names

MODS = ["text", "audio", "label"]


def feats(b: int = 4, d: int = 12, present: dict | None = None, seed: int = 0) -> dict[str, ModalityFeatures]:
    g = torch.Generator().manual_seed(seed)
    out = {}
    for i, m in enumerate(MODS):
        n = 3 + i
        mask = torch.ones(b, n, dtype=torch.bool)
        mask[0, 1:] = False                                 # a short sequence in row 0
        p = (present or {}).get(m)
        out[m] = ModalityFeatures(torch.randn(b, d, generator=g), p, torch.randn(b, n, d, generator=g), mask)
    return out


def make(name: str):
    return build("fusion", name, modalities=MODS, in_dim=12, dim=8)


def test_registry_lists_every_method():
    assert set(names("fusion")) == set(FUSIONS)


@pytest.mark.parametrize("name", FUSIONS)
def test_forward_backward_shapes(name):
    f = make(name)
    cond = f(feats())
    assert cond.vec.shape == (4, 8)
    if name == "cross_attention":
        assert cond.tokens.shape[0] == 4 and cond.tokens.shape[2] == 8 and cond.mask.shape == cond.tokens.shape[:2]
        assert cond.mask[:, 0].all()                        # the global token is always there
    else:
        assert cond.tokens is None
    cond.vec.square().sum().backward()
    assert sum(p.grad is not None for p in f.parameters()) > len(MODS)   # more than the null tokens learn


@pytest.mark.parametrize("name", FUSIONS)
def test_missing_modalities_use_null_tokens(name):
    f = make(name).eval()
    absent = {"text": torch.tensor([True, False, True, False]), "audio": torch.tensor([False, False, True, True]),
              "label": torch.tensor([False, False, False, True])}
    a = f(feats(present=absent, seed=0)).vec
    b = f(feats(present=absent, seed=1)).vec                # other values where modalities are missing
    assert torch.isfinite(a).all()                          # row 1 has nothing: nulls only, still finite
    torch.testing.assert_close(a[1], b[1])                  # nothing present: independent of the hidden inputs
    assert not torch.allclose(a[0], b[0])                   # text present in row 0: depends on it
    only_text = f({"text": feats(seed=0)["text"]}).vec      # modalities left out of the dict are missing
    all_present_but_text = f(feats(present={"audio": torch.zeros(4, dtype=torch.bool),
                                            "label": torch.zeros(4, dtype=torch.bool)}, seed=0)).vec
    torch.testing.assert_close(only_text, all_present_but_text)


@pytest.mark.parametrize("name", FUSIONS)
def test_save_load_round_trip(name, tmp_path):
    f = make(name).eval()
    save_weights(f, tmp_path / "f.safetensors")
    g = load_weights(build("fusion", name, **f.config).eval(), tmp_path / "f.safetensors")
    x = feats()
    torch.testing.assert_close(f(x).vec, g(x).vec)


def test_fusion_errors():
    f = make("attention")
    with pytest.raises(ValueError, match="got features for"):
        f({"image": feats()["text"]})
    with pytest.raises(ValueError, match="no features"):
        f({})
    with pytest.raises(ValueError, match="at least one modality"):
        build("fusion", "early", modalities=[], in_dim=4, dim=4)


def test_modality_dropout_keeps_one_per_sample():
    g = torch.Generator().manual_seed(0)
    avail = {"text": torch.ones(500, dtype=torch.bool), "audio": torch.arange(500) % 2 == 0}
    kept = modality_dropout(avail, 0.7, g)
    k = torch.stack(list(kept.values()), 1)
    assert k.any(1).all()                                   # never nothing
    assert not (kept["audio"] & ~avail["audio"]).any()      # never invents a modality
    assert 0.2 < float(k.float().mean()) < 0.6              # but drops plenty
    assert modality_dropout(avail, 0.0) is avail
