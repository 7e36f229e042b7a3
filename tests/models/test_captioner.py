"""The captioner family (mmgan.models.captioner): forward/backward of G (teacher forcing, sampling with
log-probs) and D, the three decodings' shapes, a save/load round trip, and the phases' two stages."""
from __future__ import annotations

import pytest
import torch

from mmgan.config import LossConfig, ModelConfig
from mmgan.losses.captioning import CaptioningLoss, mle_loss
from mmgan.models import build_gan
from mmgan.models.base import load_weights, save_weights
from mmgan.modalities.text import EOS, PAD

VOCAB = ["<pad>", "<eos>", "<unk>", "a", "red", "circle", "at", "the", "top"]


def _cfg(cond_dim=0, **extra):
    return ModelConfig(family="captioner", z_dim=4, g_width=8, d_width=8, cond_dim=cond_dim,
                       num_classes=cond_dim, extra={"vocab": VOCAB, "max_tokens": 6, "hidden": 16, "embed": 8,
                                                    "grid": 2, "source": {"modality": "image", "resolution": 16,
                                                                          "channels": 3}, **extra})


def _batch(b=4, cond_dim=0):
    torch.manual_seed(0)
    images = torch.rand(b, 3, 16, 16) * 2 - 1
    tokens = torch.tensor([[3, 4, 5, EOS, PAD, PAD]] * b)
    c = torch.eye(cond_dim)[torch.arange(b) % cond_dim] if cond_dim else None
    return images, tokens, c


@pytest.mark.parametrize("cond_dim", [0, 3])
def test_forward_backward(cond_dim):
    G, D = build_gan(_cfg(cond_dim))
    images, tokens, c = _batch(cond_dim=cond_dim)
    z = torch.randn(4, 4)
    logits = G.teacher_forcing(images, z, c, tokens)
    assert logits.shape == (4, 6, len(VOCAB))
    ids, logp, mask = G.sample(images, z, c)
    assert ids.shape == logp.shape == mask.shape == (4, 6)
    (mle_loss(G, images, z, c, tokens) - logp[mask].sum()).backward()
    assert all(p.grad is not None for p in G.parameters())
    score, aux = D(torch.cat([tokens, ids]), None if c is None else c.repeat(2, 1), source=images.repeat(2, 1, 1, 1))
    assert score.shape == (8,) and aux is None
    score.mean().backward()
    assert all(p.grad is not None for p in D.parameters())


@pytest.mark.parametrize("decode", ["sample", "greedy", "beam"])
def test_decodings_make_eos_terminated_ids(decode):
    G, _ = build_gan(_cfg(), with_discriminator=False)
    images, _, _ = _batch(5)
    ids = G(torch.randn(5, 4), None, source=images, decode=decode, beam_size=3)
    assert ids.shape == (5, 6) and ids.dtype == torch.long
    for row in ids.tolist():
        assert EOS in row and PAD not in row[: row.index(EOS)] and set(row[row.index(EOS) + 1:]) <= {PAD}
    if decode != "sample":          # deterministic for the same z
        z = torch.randn(5, 4)
        assert torch.equal(G(z, None, source=images, decode=decode), G(z, None, source=images, decode=decode))


def test_beam_search_scores_at_least_greedy():
    G, _ = build_gan(_cfg(), with_discriminator=False)
    images, _, _ = _batch(3)
    z = torch.randn(3, 4)

    def score(ids):
        logits = G.teacher_forcing(images, z, None, ids).log_softmax(-1)
        keep = torch.ones_like(ids, dtype=torch.bool)
        keep[:, 1:] = ids[:, :-1] != PAD
        keep &= ids != PAD
        return (logits.gather(2, ids[:, :, None]).squeeze(2) * keep).sum(1)

    with torch.no_grad():
        greedy, beam = G(z, None, source=images, decode="greedy"), G(z, None, source=images, decode="beam", beam_size=4)
        assert bool((score(beam) >= score(greedy) - 1e-4).all())


def test_save_load_round_trip(tmp_path):
    G, D = build_gan(_cfg(3))
    save_weights(G, tmp_path / "g.safetensors")
    save_weights(D, tmp_path / "d.safetensors")
    G2, D2 = build_gan(_cfg(3))
    load_weights(G2, tmp_path / "g.safetensors")
    load_weights(D2, tmp_path / "d.safetensors")
    images, tokens, c = _batch(cond_dim=3)
    z = torch.randn(4, 4)
    assert torch.equal(G(z, c, source=images, decode="greedy"), G2(z, c, source=images, decode="greedy"))
    assert torch.equal(D(tokens, c, source=images)[0], D2(tokens, c, source=images)[0])


def test_no_image_is_a_clear_error():
    G, _ = build_gan(_cfg(), with_discriminator=False)
    with pytest.raises(ValueError, match="reads an image"):
        G(torch.randn(2, 4), None)


@pytest.mark.parametrize("z_choices", [1, 3])
def test_phases_mle_then_d_alone_then_adversarial(z_choices):
    G, D = build_gan(_cfg(mle_steps=2, d_pretrain=1, z_choices=z_choices))
    loss = CaptioningLoss(G, D, LossConfig(), z_dim=4)
    images, tokens, _ = _batch()
    assert loss.accumulate("D", tokens, None, None, 0, source=images) == {}
    assert set(loss.accumulate("G", tokens, None, None, 0, source=images)) == {"loss/G_mle"}
    stats = loss.accumulate("D", tokens, None, None, 2, source=images)      # D alone, G frozen
    assert {"loss/D", "D/acc_mismatch", "D/acc_fake"} <= set(stats)
    assert loss.accumulate("G", tokens, None, None, 2, source=images) == {}
    loss.keep_fake = True
    loss.accumulate("D", tokens, None, None, 3, source=images)
    stats = loss.accumulate("G", tokens, None, None, 3, source=images)
    assert {"loss/G", "loss/G_mle", "G/reward", "G/advantage"} <= set(stats)
    assert all(torch.isfinite(v) for v in stats.values())


def test_d_image_encoder_starts_from_g_when_d_starts():
    G, D = build_gan(_cfg(mle_steps=1, d_pretrain=1))
    loss = CaptioningLoss(G, D, LossConfig(), z_dim=4)
    images, tokens, _ = _batch()
    loss.accumulate("D", tokens, None, None, 1, source=images)
    assert all(torch.equal(a, b) for a, b in zip(G.encoder.state_dict().values(), D.encoder.state_dict().values()))


def test_d_from_g_needs_encoders_of_one_shape():
    G, D = build_gan(ModelConfig(**{**_cfg().__dict__, "d_width": 32}))
    with pytest.raises(ValueError, match="d_from_g"):
        CaptioningLoss(G, D, LossConfig(), z_dim=4)
    G, D = build_gan(ModelConfig(**{**_cfg(d_from_g=False).__dict__, "d_width": 32}))
    CaptioningLoss(G, D, LossConfig(), z_dim=4)


def _colour_batch(b, seed):
    """Images all red or all blue (with noise) and captions that say which: D must read the image."""
    g = torch.Generator().manual_seed(seed)
    red = torch.randint(0, 2, (b,), generator=g).bool()
    images = torch.rand(b, 3, 16, 16, generator=g) * 0.4 - 0.2
    images[:, 0] += torch.where(red, 0.7, -0.7)[:, None, None]
    images[:, 2] += torch.where(red, -0.7, 0.7)[:, None, None]
    word = torch.where(red, 4, 2)                       # "red" / <unk> standing in for "blue"
    tokens = torch.stack([torch.full_like(word, 3), word, torch.full_like(word, 5), torch.full_like(word, EOS),
                          torch.zeros_like(word), torch.zeros_like(word)], 1)
    return images, tokens


def test_d_learns_real_vs_mismatched_above_chance():
    torch.manual_seed(0)
    G, D = build_gan(_cfg(mle_steps=0, d_pretrain=100, mismatch_weight=1.0, d_from_g=False))
    loss = CaptioningLoss(G, D, LossConfig(), z_dim=4)
    opt = torch.optim.Adam(D.parameters(), lr=3e-3, betas=(0.5, 0.999))
    held_images, held_tokens = _colour_batch(64, seed=999)

    def accuracy():
        with torch.no_grad():
            real, mismatched = D(torch.cat([held_tokens, held_tokens.roll(1, 0)]), None, source=held_images)[0].chunk(2)
        same = (held_tokens[:, 1] == held_tokens.roll(1, 0)[:, 1])
        return float((real > mismatched)[~same].float().mean())

    before = accuracy()
    for step in range(20):
        opt.zero_grad()
        images, tokens = _colour_batch(16, seed=step)
        loss.accumulate("D", tokens, None, None, step + 1, source=images)
        opt.step()
    assert accuracy() > max(0.8, before + 0.2)


def test_policy_gradient_step_changes_g():
    torch.manual_seed(0)
    G, D = build_gan(_cfg(mle_steps=0, d_pretrain=0, mle_weight=0.0))
    loss = CaptioningLoss(G, D, LossConfig(), z_dim=4)
    images, tokens, _ = _batch(8)
    before = [p.detach().clone() for p in G.parameters()]
    stats = loss.accumulate("G", tokens, None, None, 5, source=images)
    assert float(stats["G/advantage"].abs()) > 0
    grads = [p.grad for p in G.parameters()]
    assert any(g is not None and float(g.abs().sum()) > 0 for g in grads)
    torch.optim.SGD(G.parameters(), lr=0.1).step()
    assert any(not torch.equal(a, p) for a, p in zip(before, G.parameters()))
    assert all(p.grad is None for p in D.parameters())          # G's step leaves D alone


def test_d_learns_captions_in_the_wrong_condition_above_chance():
    """With a condition (a style), D also sees each real caption under another item's condition: it learns
    which word goes with which condition (the tone), whatever the image."""
    torch.manual_seed(0)
    G, D = build_gan(_cfg(cond_dim=2, mle_steps=0, d_pretrain=100, mismatch_weight=1.0, d_from_g=False))
    loss = CaptioningLoss(G, D, LossConfig(), z_dim=4)
    opt = torch.optim.Adam(D.parameters(), lr=3e-3, betas=(0.5, 0.999))

    def batch(b, seed):
        images, tokens = _colour_batch(b, seed)
        style = torch.randint(0, 2, (b,), generator=torch.Generator().manual_seed(seed + 7))
        tokens[:, 2] = torch.where(style.bool(), 7, 8)       # "the" / "top" stand in for two tones
        return images, tokens, torch.eye(2)[style]

    held_images, held_tokens, held_c = batch(64, seed=999)

    def accuracy():
        with torch.no_grad():
            real, wrong = D(torch.cat([held_tokens, held_tokens]), torch.cat([held_c, 1 - held_c]),
                            source=held_images)[0].chunk(2)
        return float((real > wrong).float().mean())

    before = accuracy()
    stats = {}
    for step in range(100):
        opt.zero_grad()
        images, tokens, c = batch(16, seed=step)
        stats = loss.accumulate("D", tokens, c, None, step + 1, source=images)
        opt.step()
    assert "D/acc_condition" in stats
    assert accuracy() > max(0.8, before + 0.2)
