"""The multimodal conditioner: config round trip, any subset of modalities, expand, batches, errors."""
from __future__ import annotations

import json

import pytest
import torch

from mmgan.conditioning import build_conditioner
from mmgan.models.base import load_weights, save_weights
from mmgan.conditioning import MultimodalConditioner
from mmgan.training.conditioner import dataset_features

from _mm_tiny import TINY_JOINT


def make(fusion: str = "attention", mods=("text", "audio", "image", "label")) -> MultimodalConditioner:
    joint = {"encoders": TINY_JOINT, "dim": 16}
    return MultimodalConditioner(list(mods), joint, num_classes=2, fusion=fusion).eval()


@pytest.mark.parametrize("fusion", ["attention", "cross_attention"])
def test_any_subset_of_modalities(paired, fusion):
    cond = make(fusion)
    t, a, i = paired.columns["text"][:3], paired.columns["audio"][:3], paired.columns["image"][:3]
    outs = [cond(text=t), cond(audio=a), cond(text=t, audio=a), cond(image=i), cond(labels=[0, 1, 1]),
            cond(text=t, audio=a, image=i, labels=[0, 1, 1])]
    for c in outs:
        assert c.vec.shape == (3, 16)
        torch.testing.assert_close(c.vec.norm(dim=1), torch.ones(3))      # unit vectors in the joint space
        assert (c.tokens is not None) == (fusion == "cross_attention")
        if c.tokens is not None:
            assert c.tokens.shape[0] == 3 and c.mask.shape == c.tokens.shape[:2] and set(c.kwargs()) == {"tokens", "token_mask"}
    assert not torch.allclose(outs[0].vec, outs[2].vec)


def test_config_is_json_and_rebuilds_exactly(paired, tmp_path):
    cond = make("hybrid")
    cfg = json.loads(json.dumps(cond.config))
    save_weights(cond, tmp_path / "c.safetensors")
    again = load_weights(build_conditioner(cfg), tmp_path / "c.safetensors").eval()
    assert isinstance(again, MultimodalConditioner) and again.cond_dim == 16
    x = {"text": paired.columns["text"][:2], "audio": paired.columns["audio"][:2]}
    torch.testing.assert_close(cond(**x).vec, again(**x).vec)
    assert not [p for p in cond.parameters() if p.requires_grad]          # frozen during GAN training


def test_reference_image_without_image_training(paired):
    cond = make(mods=("text", "audio"))
    assert cond.conditions == ["text", "audio"] and cond.modalities == ["text", "audio", "image"]
    assert cond.config["modalities"] == ["text", "audio"]
    img = paired.columns["image"][:2]
    ref = cond(image=img).vec
    torch.testing.assert_close(ref, torch.as_tensor(cond.joint.embed("image", img)))   # the fusion's own target
    both = cond(image=img, text=paired.columns["text"][:2]).vec
    torch.testing.assert_close(both.norm(dim=1), torch.ones(2))
    assert not torch.allclose(both, ref)
    tok = make("cross_attention", mods=("text",))(image=img)
    assert tok.tokens.shape[0] == 2 and tok.mask[:, 0].all()


def test_expand_and_sample_inputs(paired):
    cond = make()
    e = cond.expand(4, text="one caption", audio=paired.columns["audio"][0], image=paired.columns["image"][0],
                    labels=1)
    assert e["text"] == ["one caption"] * 4 and len(e["audio"]) == 4 and e["image"].shape == (4, 3, 16, 16)
    assert e["labels"].tolist() == [1] * 4
    assert cond.expand(2, text=["a", "b"])["text"] == ["a", "b"]
    with pytest.raises(ValueError, match="give one"):
        cond.expand(3, text=["a", "b"])
    grid = cond.sample_inputs(paired, 16)
    assert len(grid["text"]) == 16 and grid["text"][0] == grid["text"][7] != grid["text"][8]


def test_from_batch_uses_cached_features_and_drops_modalities(paired):
    cond = make(mods=("text", "audio"))
    feats = dataset_features(cond.joint, paired, ["text", "audio"], keep_tokens=False)
    idx = torch.arange(8)
    batch = {"index": idx, "text": [paired.columns["text"][i] for i in idx]}
    raw = cond(text=batch["text"], audio=[paired.columns["audio"][i] for i in idx])
    cond.attach_features(feats)
    cond.eval()
    torch.testing.assert_close(cond.from_batch(batch, torch.device("cpu")).vec, raw.vec, atol=2e-3, rtol=1e-3)
    cond.train()
    cond.dropout = 0.9
    torch.manual_seed(0)
    dropped = cond.from_batch(batch, torch.device("cpu")).vec
    assert not torch.allclose(dropped, raw.vec, atol=2e-3)               # some samples lost a modality


def test_cond_noise_moves_training_conditions_only(paired):
    """model.extra.cond_noise: in training the fused vector moves to cosine ~1/sqrt(1 + r^2) of itself and stays a
    unit vector; generation (eval) and r = 0 leave it exactly as it was; the setting survives the config."""
    cond = make(mods=("text", "audio"))
    feats = dataset_features(cond.joint, paired, ["text", "audio"], keep_tokens=False)
    cond.attach_features(feats)
    batch = {"index": torch.arange(8)}
    clean = cond.eval().from_batch(batch, torch.device("cpu")).vec
    cond.train()
    cond.dropout = 0.0
    torch.testing.assert_close(cond.from_batch(batch, torch.device("cpu")).vec, clean)     # r = 0: unchanged
    cond.noise = 0.5
    torch.manual_seed(0)
    noisy = cond.from_batch(batch, torch.device("cpu")).vec
    cos = (noisy * clean).sum(-1)
    torch.testing.assert_close(noisy.norm(dim=-1), torch.ones(8))
    assert 0.75 < float(cos.mean()) < 0.99 and float(cos.min()) < 0.999                     # 1/sqrt(1.25) = 0.89
    torch.testing.assert_close(cond.eval().from_batch(batch, torch.device("cpu")).vec, clean)
    assert build_conditioner(json.loads(json.dumps(cond.config))).noise == 0.5
    with pytest.raises(ValueError, match="cond_noise"):
        MultimodalConditioner(["text"], {"encoders": TINY_JOINT, "dim": 16}, noise=-1)


def test_errors(paired, tmp_path):
    cond = make(mods=("text", "audio"))
    with pytest.raises(ValueError, match="at least one"):
        cond()
    with pytest.raises(ValueError, match="cannot take"):
        cond(labels=[1])
    with pytest.raises(ValueError, match="differ in length"):
        cond(text=["a", "b"], audio=paired.columns["audio"][:1])
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"garbage")
    from mmgan.data.errors import AudioError

    with pytest.raises(AudioError, match="bad.wav"):
        cond(audio=[str(bad)])
    with pytest.raises(ValueError, match="cannot condition on"):
        MultimodalConditioner(["text"], {"encoders": {"image": TINY_JOINT["image"]}, "dim": 16})
