import pytest
import torch

from mmgan import registry
from mmgan.config import LossConfig, ModelConfig
from mmgan.losses import DiffAugment, GANLoss
from mmgan.models import build_gan


@pytest.mark.parametrize("name", ["ns", "hinge", "wgan-gp", "lsgan"])
def test_objectives_prefer_separated_logits(name):
    obj = registry.build("loss", name)
    good = obj.d_loss(torch.full((8,), 3.0), torch.full((8,), -3.0))
    bad = obj.d_loss(torch.full((8,), -3.0), torch.full((8,), 3.0))
    assert good < bad
    assert obj.g_loss(torch.full((8,), 3.0)) < obj.g_loss(torch.full((8,), -3.0))


@pytest.mark.parametrize("policy", ["translation", "color", "cutout", "translation,color,cutout"])
def test_diffaugment_shape_and_gradient(policy):
    torch.manual_seed(0)
    x = torch.rand(4, 3, 16, 16, requires_grad=True)
    y = DiffAugment(policy)(x * 2 - 1)
    assert y.shape == x.shape
    y.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_translation_moves_content():
    torch.manual_seed(3)
    x = torch.zeros(16, 1, 16, 16)
    x[:, :, 8, 8] = 1
    y = registry.get("augment", "translation")(x)
    assert (y.flatten(1).argmax(1) != x.flatten(1).argmax(1)).any()


def test_unknown_augment():
    with pytest.raises(KeyError, match="valid augment names"):
        DiffAugment("translation,flip")


def _loss(name="hinge", **kw):
    torch.manual_seed(0)
    cfg = ModelConfig(family="dcgan", channels=1, resolution=16, z_dim=8, g_width=8, d_width=8,
                      extra={"d_norm": "none"}, **{k: v for k, v in kw.items() if k in ("pack",)})
    G, D = build_gan(cfg)
    lc = LossConfig(name=name, **{k: v for k, v in kw.items() if k not in ("pack",)})
    return GANLoss(G, D, lc, 8, pack=cfg.pack), G, D


@pytest.mark.parametrize("phase", ["D", "G"])
def test_phases_accumulate_gradients(phase):
    loss, G, D = _loss()
    real = torch.rand(8, 1, 16, 16) * 2 - 1
    stats = loss.accumulate(phase, real, None, None, step=0)
    target = D if phase == "D" else G
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in target.parameters())
    if phase == "D":
        assert all(p.grad is None for p in G.parameters())   # G is not trained by the D step
    assert all(torch.isfinite(v) for v in stats.values())


def test_wgan_gp_and_r1_penalties():
    loss, _, D = _loss("wgan-gp", r1_gamma=1.0, pack=2)
    real = torch.rand(8, 1, 16, 16) * 2 - 1
    assert loss.wants_reg(0)
    stats = loss.accumulate("Dreg", real, None, None, step=0)
    assert {"reg/gp", "reg/r1"} <= set(stats)
    assert any(p.grad is not None for p in D.parameters())


def test_lazy_r1_interval():
    loss, _, _ = _loss("hinge", r1_gamma=1.0, r1_every=4)
    assert loss.wants_reg(0) and not loss.wants_reg(1) and loss.wants_reg(4)


def test_mode_seeking_term():
    loss, _, _ = _loss("hinge", mode_seeking=1.0)
    stats = loss.accumulate("G", torch.zeros(8, 1, 16, 16), None, None, step=0)
    assert "loss/G_ms" in stats and stats["loss/G_ms"] > 0


def _g_forwards(G):
    calls = []
    G.register_forward_hook(lambda *a: calls.append(1))
    return calls


@pytest.mark.parametrize("reuse", [True, False])
def test_g_phase_reuses_the_last_d_phase_fakes(reuse):
    loss, G, D = _loss(reuse_fakes=reuse)
    calls = _g_forwards(G)
    real = torch.rand(8, 1, 16, 16) * 2 - 1
    loss.keep_fake = True
    loss.accumulate("D", real, None, None, step=0)
    assert all(p.grad is None for p in G.parameters())       # the kept graph is not backpropagated by D
    loss.accumulate("G", real, None, None, step=0)
    assert len(calls) == (1 if reuse else 2)
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in G.parameters())


def test_reused_fakes_give_the_same_generator_gradient():
    """The G step on kept fakes equals a fresh G step on the same latents."""
    loss, G, D = _loss()
    real = torch.rand(8, 1, 16, 16) * 2 - 1
    torch.manual_seed(1)
    loss.keep_fake = True
    loss.accumulate("D", real, None, None, step=0)
    z = loss._kept[1].clone()
    loss.accumulate("G", real, None, None, step=0)
    got = [p.grad.clone() for p in G.parameters()]
    G.zero_grad()
    loss.obj.g_loss(D(G(z))[0]).backward()
    for a, b in zip(got, (p.grad for p in G.parameters())):
        torch.testing.assert_close(a, b)


def test_fakes_are_not_reused_without_keep_or_with_mode_seeking():
    loss, G, _ = _loss(mode_seeking=1.0)
    calls = _g_forwards(G)
    real = torch.rand(8, 1, 16, 16) * 2 - 1
    loss.keep_fake = True                                    # mode seeking needs its own paired latents
    loss.accumulate("D", real, None, None, step=0)
    loss.accumulate("G", real, None, None, step=0)
    assert len(calls) == 2
    loss2, G2, _ = _loss()
    calls2 = _g_forwards(G2)
    loss2.keep_fake = False                                  # an earlier critic step of n_critic > 1
    loss2.accumulate("D", real, None, None, step=0)
    loss2.accumulate("G", real, None, None, step=0)
    assert len(calls2) == 2


def test_g_phase_leaves_d_weights_alone():
    loss, G, D = _loss()
    loss.accumulate("G", torch.zeros(8, 1, 16, 16), None, None, step=0)
    assert all(p.grad is None for p in D.parameters())        # no gradient computed for D's weights
    assert all(p.requires_grad for p in D.parameters())       # and D is trainable again afterwards


def test_joint_real_fake_pass_equals_two_passes():
    """A D without batch-coupled layers judges reals and fakes in one pass: same loss, same gradients."""
    grads, stats = [], []
    for joint in (True, False):
        loss, G, D = _loss(acgan_weight=1.0)
        assert loss.joint_d                                    # d_norm none: nothing couples the batch
        loss.joint_d = joint
        torch.manual_seed(3)
        stats.append(loss.accumulate("D", torch.rand(8, 1, 16, 16) * 2 - 1, None, None, step=0))
        grads.append([p.grad.clone() for p in D.parameters()])
    assert stats[0]["loss/D"] == pytest.approx(float(stats[1]["loss/D"]), rel=1e-5)
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_batchnorm_or_mbstd_discriminators_keep_separate_passes():
    cfg = ModelConfig(family="dcgan", channels=1, resolution=16, z_dim=8, g_width=8, d_width=8)
    G, D = build_gan(cfg)                                      # BatchNorm in D
    assert not GANLoss(G, D, LossConfig(), 8).joint_d
    G, D = build_gan(ModelConfig(family="mlp", data_dim=2, z_dim=2, g_hidden=[8], d_hidden=[8], mbstd=True))
    assert not GANLoss(G, D, LossConfig(), 2).joint_d
    G, D = build_gan(ModelConfig(family="mlp", data_dim=2, z_dim=2, g_hidden=[8], d_hidden=[8]))
    assert GANLoss(G, D, LossConfig(), 2).joint_d


def test_top_k_keeps_the_best_rated_fakes_after_the_ramp():
    loss, _, _ = _loss(topk=0.5, topk_ramp=100)
    logits = torch.tensor([3.0, -1.0, 2.0, 0.0, -5.0, 1.0, 4.0, -2.0])
    loss.step = 0
    assert torch.equal(loss.top_k(logits), logits)                        # all fakes at the start
    loss.step = 50
    assert len(loss.top_k(logits)) == 6                                  # 75% half-way through the ramp
    loss.step = 1000
    assert sorted(loss.top_k(logits).tolist()) == [1.0, 2.0, 3.0, 4.0]   # the half D rates most real


def test_top_k_g_loss_ignores_the_worst_fakes():
    loss, G, D = _loss(topk=0.5, topk_ramp=1)
    stats = loss.accumulate("G", torch.zeros(8, 1, 16, 16), None, None, step=10)
    assert torch.isfinite(stats["loss/G"])
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in G.parameters())


def _tac(twin: bool, weight: float = 1.0):
    torch.manual_seed(0)
    cfg = ModelConfig(family="dcgan", channels=1, resolution=16, z_dim=8, g_width=8, d_width=8, num_classes=4,
                      cond_dim=4, g_cond="concat", acgan=True, acgan_twin=twin, extra={"d_norm": "none"})
    G, D = build_gan(cfg)
    return GANLoss(G, D, LossConfig(acgan_weight=weight), 8), G, D


def test_tac_gan_twin_head_learns_the_fakes_labels():
    """D's aux head is [classifier | twin]: the classifier learns the reals' labels, the twin those the
    fakes were generated for (TAC-GAN); without the twin the head is the AC-GAN classifier alone."""
    loss, G, D = _tac(twin=True)
    assert loss.twin and D.aux.out_features == 8
    assert _tac(twin=False)[2].aux.out_features == 4
    labels = torch.tensor([0, 1, 2, 3, 0, 1, 2, 3])
    c = torch.nn.functional.one_hot(labels, 4).float()
    real = torch.rand(8, 1, 16, 16) * 2 - 1
    torch.manual_seed(5)
    stats = loss.accumulate("D", real, c, labels, step=0)
    torch.manual_seed(5)
    with torch.no_grad():
        fake = G(torch.randn(8, 8), c)
        _, r_aux = D(real, c)
        _, f_aux = D(fake, c)
    ce = torch.nn.functional.cross_entropy
    want = ce(r_aux[:, :4], labels) + ce(f_aux[:, 4:], labels)
    assert float(stats["loss/D_aux"]) == pytest.approx(float(want), rel=1e-4)


def test_tac_gan_generator_term_cancels_when_twin_equals_classifier():
    """G minimises CE(classifier) - CE(twin): with identical heads the two cancel, so G's gradient is the
    adversarial one alone; AC-GAN alone (no twin) pulls G further."""
    def g_grad(twin, weight):
        loss, G, D = _tac(twin=twin, weight=weight)
        if twin:
            with torch.no_grad():
                D.aux.weight[4:] = D.aux.weight[:4]
                D.aux.bias[4:] = D.aux.bias[:4]
        labels = torch.tensor([0, 1, 2, 3, 0, 1, 2, 3])
        c = torch.nn.functional.one_hot(labels, 4).float()
        torch.manual_seed(7)
        loss.accumulate("G", torch.zeros(8, 1, 16, 16), c, labels, step=0)
        return torch.cat([p.grad.flatten() for p in G.parameters()])
    adversarial = g_grad(False, 0.0)
    torch.testing.assert_close(g_grad(True, 1.0), adversarial, rtol=1e-4, atol=1e-6)
    assert not torch.allclose(g_grad(False, 1.0), adversarial, rtol=1e-3, atol=1e-5)


def test_mode_seeking_msgan_and_capped_dsgan():
    from mmgan.losses.phases import mode_seeking_term

    z = torch.randn(8, 4)
    same = torch.zeros(8, 3, 4, 4)
    apart = torch.zeros(8, 3, 4, 4)
    apart[4:] = 0.5                                    # the second half differs from the first by 0.5 per pixel
    d_z = float((z[:4] - z[4:]).abs().mean())
    assert float(mode_seeking_term(same, z)) == pytest.approx(1e5)                          # MSGAN: collapse costs most
    assert float(mode_seeking_term(apart, z)) == pytest.approx(1 / (0.5 / d_z + 1e-5), rel=1e-4)
    tau = 0.5 / d_z
    assert float(mode_seeking_term(same, z, tau)) == 1.0                                   # DSGAN capped: in [0, 1]
    assert float(mode_seeking_term(apart * 0.5, z, tau)) == pytest.approx(0.5, rel=1e-4)
    x = (apart * 2).requires_grad_(True)                                                   # beyond tau: no push
    t = mode_seeking_term(x, z, tau)
    t.backward()
    assert float(t.detach()) == 0.0 and float(x.grad.abs().sum()) == 0.0
    G, D = build_gan(ModelConfig(family="dcgan", z_dim=8, channels=1, resolution=16, g_width=4, d_width=4))
    with pytest.raises(ValueError, match="ms_tau"):
        GANLoss(G, D, LossConfig(mode_seeking=1, ms_tau=-1), 8)


def test_mode_seeking_on_pooled_images_pays_nothing_for_texture():
    """loss.ms_pool: zero-mean pixel stripes between the two samples of a pair are a large distance in pixels
    and none after 2x2 pooling, so they no longer satisfy the cap; a moved block counts either way."""
    from mmgan.losses.phases import mode_seeking_term

    z = torch.randn(8, 4)
    d_z = float((z[:4] - z[4:]).abs().mean())
    tau = 0.5 / d_z
    checker = (torch.arange(8)[:, None] + torch.arange(8)[None]) % 2 * 2.0 - 1.0   # +-1, zero mean per 2x2 cell
    texture = torch.full((8, 3, 8, 8), 0.2)
    texture[4:] += 0.5 * checker                                                     # second half: same + stripes
    assert float(mode_seeking_term(texture, z, tau)) == pytest.approx(0.0, abs=1e-5)  # pixels: at the cap
    assert float(mode_seeking_term(texture, z, tau, pool=2)) == pytest.approx(1.0)    # pooled: identical
    moved = torch.zeros(8, 3, 8, 8)
    moved[:4, :, :4, :4] = 1.0
    moved[4:, :, 4:, 4:] = 1.0                                                        # the block moved
    assert float(mode_seeking_term(moved, z, tau, pool=2)) == float(mode_seeking_term(moved, z, tau)) == 0.0
    G, D = build_gan(ModelConfig(family="dcgan", z_dim=8, channels=1, resolution=16, g_width=4, d_width=4))
    with pytest.raises(ValueError, match="ms_pool"):
        GANLoss(G, D, LossConfig(mode_seeking=1, ms_tau=0.03, ms_pool=0), 8)


def test_paired_l1_on_pooled_images_ignores_detail_within_a_cell():
    from mmgan.losses.phases import paired_l1

    a = torch.zeros(2, 3, 8, 8)
    b = a.clone()
    b[:, :, 0, 0], b[:, :, 0, 1] = 1.0, -1.0           # detail that averages out within a 2x2 cell
    assert float(paired_l1(a, b)) > 0 and float(paired_l1(a, b, pool=2)) == 0.0
    assert float(paired_l1(a, a + 1, pool=4)) == pytest.approx(1.0)


def test_matching_d_phase_shares_the_reals_features_and_keeps_loss_and_gradients():
    """dfgan's D (image part + joint head) runs its image part once on reals and fakes for the matched,
    fake and mismatched pairs: the same loss and D gradients as three separate D passes."""
    cfg = ModelConfig(family="dfgan", channels=3, resolution=16, z_dim=8, g_width=8, d_width=8, cond_dim=6)
    grads, stats = [], []
    for shared in (True, False):
        torch.manual_seed(0)
        G, D = build_gan(cfg)
        for blk in D.blocks:                                   # residual branches on (they start at zero)
            blk.gamma.data.fill_(0.5)
        loss = registry.get("phases", "matching")(G, D, LossConfig(name="hinge", phases="matching"), 8)
        loss.joint_d = shared
        torch.manual_seed(3)
        real, c = torch.rand(6, 3, 16, 16) * 2 - 1, torch.nn.functional.normalize(torch.randn(6, 6), dim=1)
        stats.append(loss.accumulate("D", real, c, None, step=0))
        grads.append([p.grad.clone() for p in D.parameters()])
    for k in ("loss/D", "D/real", "D/fake", "D/mismatch"):
        assert float(stats[0][k]) == pytest.approx(float(stats[1][k]), rel=1e-4, abs=1e-6)
    assert float(stats[0]["D/real"]) != pytest.approx(float(stats[0]["D/mismatch"]), abs=1e-6)
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_mismatch_teaches_d_to_check_the_condition():
    """loss.mismatch: D also scores reals under the rolled conditions as fakes, so after training only on
    D steps it ranks each real above itself under another row's condition; with weight 0 nothing changes."""
    def trained(weight):
        torch.manual_seed(0)
        cfg = ModelConfig(family="dcgan", channels=1, resolution=16, z_dim=8, g_width=8, d_width=8, num_classes=4,
                          cond_dim=4, g_cond="concat", d_cond="projection", extra={"d_norm": "none"})
        G, D = build_gan(cfg)
        loss = GANLoss(G, D, LossConfig(mismatch=weight), 8)
        opt = torch.optim.Adam(D.parameters(), lr=2e-3)
        labels = torch.arange(8) % 4
        real = -torch.ones(8, 1, 16, 16)
        for i, y in enumerate(labels):                     # class k lights up row block k
            real[i, :, 4 * int(y):4 * int(y) + 4] = 1
        c = torch.nn.functional.one_hot(labels, 4).float()
        for step in range(60):
            opt.zero_grad(set_to_none=True)
            stats = loss.accumulate("D", real, c, labels, step=step)
            opt.step()
        return stats
    on = trained(1.0)
    assert float(on["D/acc_mismatch"]) == 1.0 and float(on["D/mismatch"]) < float(on["D/real"])
    assert "D/mismatch" not in trained(0.0)
