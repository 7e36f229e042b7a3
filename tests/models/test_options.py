"""Every family's declared model.extra options (mmgan.model_options): the defaults are the values the
families used before they were declared, every preset validates, and models never import losses."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from mmgan import registry
from mmgan.config import Config, ConfigError, ModelConfig, presets
from mmgan.model_options import Options, SharedOptions, check_extra, describe, family_options
from mmgan.models import build_gan

# The defaults each family read with extra.get(key, default) before the options were declared (commit
# de88886). None: chosen by the family (dfgan's attention: on with a cross_attention fusion of
# multimodal conditions).
BEFORE = {
    "mlp": {"g_norm": "bn", "g_out": "tanh", "d_fourier": 0, "d_fourier_scale": 100.0, "data_scale": 1.0},
    "dcgan": {"s0": 0, "gradient_penalty": False},
    "dfgan": {"attention": None, "attn_res": 16, "attn_heads": 4, "g_norm": "batch", "cond_proj": 64},
    "stackgan": {"stages": 3, "ca_dim": 64, "kl_weight": 1.0, "mismatch_weight": 1.0, "attn_heads": 4,
                 "g_norm": "batch", "cond_proj": 64},
    "stylegan2": {"w_dim": 256, "mapping_layers": 4, "max_width": 256, "mixing_prob": 0.9, "pl_weight": 0.0,
                  "pl_every": 4, "mbstd": True},
    "gansformer": {"w_dim": 256, "mapping_layers": 4, "max_width": 256, "mixing_prob": 0.9, "pl_weight": 0.0,
                   "pl_every": 4, "mbstd": True, "latents": 8, "attn_dim": 64, "attn_max_res": 32, "d_attn_res": 16},
    "progressive": {"stage_steps": 1000, "fade_steps": -1, "max_width": 256, "mbstd": True},
    "cyclegan": {"res_blocks": 6, "downsamplings": 2, "d_layers": 0, "pool_size": 50, "examples": 8,
                 "cycle_weight": 10.0, "identity_weight": 0.5},
    # declared with their families: specgan is dcgan's options plus a vocoder (unset: Griffin-Lim)
    "specgan": {"s0": 0, "gradient_penalty": False, "vocoder": None,
                # ... and the clip length and picture side the codec chose before (the data's, 64)
                "clip_seconds": 0.0, "mel_side": 64},
    "mocogan": {"content_dim": 32, "motion_dim": 64, "audio_width": 64, "frame_samples": 4, "sync_window": 4,
                "sync_min_shift": 2, "frame_weight": 1.0, "clip_weight": 1.0, "sync_weight": 1.0, "motion_warmup": 1000},
    "ttsgan": {"vocoder": None, "clip_seconds": 0.0, "mel_side": 64, "width": 192, "blocks": 8,
               "length_weight": 1.0, "discriminator": "time"},
    "wavegan": {"phase_shuffle": 2, "kernel": 25, "stages": 0},
    "hifigan": {"upsample_rates": None, "resblock_kernels": [3, 7, 11], "resblock_dilations": [1, 3, 5],
                "periods": [2, 3, 5, 7, 11], "scales": 3, "segment_frames": 16, "feature_weight": 2.0,
                "mel_weight": 45.0, "warmup_steps": 0, "stft_weight": 0.0, "loud_segments": 0.0, "examples": 8},
    # text out: the text codec's keys (TextOptions) and the captioner's own
    "captioner": {"tokens": "word", "vocab": None, "vocab_size": 8000, "max_tokens": None, "decode": "sample",
                  "temperature": 1.0, "beam_size": 5, "hidden": 256, "embed": 128, "grid": 4, "mle_steps": 1500,
                  "d_pretrain": 300, "d_from_g": True, "mle_weight": 1.0, "pg_weight": 1.0, "mismatch_weight": 0.5,
                  "z_choices": 1},
    # subtitles: the text codec's keys (characters, best path) and the CTC recogniser's own
    "recognizer": {"tokens": "char", "vocab": None, "vocab_size": 8000, "max_tokens": None, "decode": "greedy",
                   "temperature": 1.0, "beam_size": 8, "n_mels": 64, "hop_ms": 10.0, "win_ms": 25.0, "norm": "cmvn",
                   "conv_width": 32, "time_stride": 4, "hidden": 192, "layers": 2, "dropout": 0.1, "augment": {},
                   "lexicon": [], "upsample": 1},
    **{fam: {"scale": 4, "body": "rrdb", "blocks": 3, "growth": 16, "skip": True, "patch": 0, "degrade": "bicubic",
             "examples": 8, "pixel_weight": None, "perceptual_weight": 1.0, "adversarial_weight": 5e-3, "init_from": ""}
       for fam in ("srresnet", "esrgan")},
    "restorer": {"degrade": "noise,jpeg,mask", "masks": "strokes,boxes", "dilations": [2, 4, 8], "patch": 0,
                 "examples": 8, "l1_weight": 1.0, "hole_weight": 1.0, "adversarial_weight": 0.01},
}
SHARED_BEFORE = {"joint": None, "joint_modalities": None, "joint_minutes": 3.0, "joint_steps": 1500,
                 "joint_audio_steps": 2000, "joint_batch": 128, "joint_dim": 256, "joint_heads": "linear",
                 "text_encoder": None, "audio_encoder": None, "joint_encoders": {}, "fusion_steps": 1500,
                 "fusion_args": {}, "modality_dropout": 0.3, "retrieval_alpha": 0.5, "critic_fourier": 128,
                 "critic_fourier_scale": 100.0, "d_norm": "auto",
                 # added later, defaulting to what came before them: clip-normalized log-mels, no dropout or augmentation
                 "audio_norm": "clip", "audio_dropout": 0.0, "audio_augment": False, "audio_augment_args": {},
                 # ... and exact conditions while the GAN trains
                 "cond_noise": 0.0,
                 # ... and no raw source but for families that read one (conditioning.source)
                 "source": None,
                 # ... and no voice condition but where model.condition names "voice"
                 "voice_encoder": None, "voice_minutes": 1.5, "voice_steps": 800, "voice_dim": 128,
                 "voice_dropout": 0.1,
                 # ... and the joint space's positives chosen as before (same attributes, else caption; audio: label)
                 "joint_positives": "auto",
                 # ... and the joint space's share of a time budget as the budget gave it before (25%)
                 "joint_share": 0.25,
                 # ... and the joint space's learning rate as it was fixed before
                 "joint_lr": 2e-3, "joint_audio_batch": None, "joint_audio_lr": None}

# A small config every family builds with its default options (the defaults' widths are kept).
SMALL = {
    "mlp": dict(data_dim=2, z_dim=4, g_hidden=[8], d_hidden=[8]),
    "dcgan": dict(channels=3, resolution=16, z_dim=8, g_width=4, d_width=4),
    "dfgan": dict(channels=3, resolution=32, z_dim=8, g_width=4, d_width=4, cond_dim=8),
    "stackgan": dict(channels=3, resolution=16, z_dim=8, g_width=4, d_width=4, cond_dim=8),
    "stylegan2": dict(channels=3, resolution=16, z_dim=8, g_width=4, d_width=4),
    "gansformer": dict(channels=3, resolution=16, z_dim=8, g_width=4, d_width=4),
    "progressive": dict(channels=3, resolution=16, z_dim=8, g_width=4, d_width=4),
    "cyclegan": dict(channels=3, resolution=16, g_width=4, d_width=4, cond_dim=2, num_classes=2),
    "specgan": dict(channels=1, resolution=64, z_dim=8, g_width=4, d_width=4),
    "mocogan": dict(channels=1, resolution=16, z_dim=40, g_width=4, d_width=4, condition=["audio"],
                    extra={"video": {"frames": 4, "fps": 8.0}, "source": {"modality": "audio", "sample_rate": 16000,
                                                                          "samples": 8000}}),
    "ttsgan": dict(channels=1, resolution=16, z_dim=8, d_width=4, cond_dim=8),
    "wavegan": dict(data_dim=1000, z_dim=8, g_width=4, d_width=4),
    "hifigan": dict(channels=1, g_width=16, d_width=2, condition=[],
                    extra={"mel": {"samples": 4000, "frames": 16, "n_fft": 1024}}),
    "captioner": dict(z_dim=4, g_width=8, d_width=8, extra={"vocab": ["<pad>", "<eos>", "<unk>", "a", "b"],
                                                          "max_tokens": 5, "source": {"channels": 3}}),
    "recognizer": dict(condition=["audio"], extra={"vocab": ["<pad>", "<eos>", "<unk>", "a", "b"]}),
    "srresnet": dict(channels=3, resolution=16, g_width=4, d_width=4),
    "esrgan": dict(channels=3, resolution=16, g_width=4, d_width=4),
    "restorer": dict(channels=3, resolution=16, g_width=4, d_width=4),
}


def _defaults(opts) -> dict:
    return {s.name: s.default for s in opts.specs()}


def test_every_family_declares_its_options():
    assert set(registry.names("model")) == set(BEFORE), "a new family needs its options in BEFORE and SMALL"
    for fam in registry.names("model"):
        opts = family_options(fam)
        assert issubclass(opts, Options) and opts is not Options, fam


@pytest.mark.parametrize("family", sorted(BEFORE))
def test_declared_defaults_are_the_old_ones(family):
    assert _defaults(family_options(family)) == BEFORE[family]
    assert not set(BEFORE[family]) & set(SHARED_BEFORE)     # a family does not redeclare a shared key


def test_shared_defaults_are_the_old_ones():
    assert _defaults(SharedOptions) == SHARED_BEFORE


def _build(family: str, extra: dict):
    torch.manual_seed(0)
    small = dict(SMALL[family])
    base = small.pop("extra", {})          # hifigan reads the codec's mel settings from model.extra
    return build_gan(ModelConfig(family=family, **small, extra={**base, **extra}))


@pytest.mark.parametrize("family", sorted(BEFORE))
def test_empty_extra_builds_what_the_old_defaults_build(family):
    explicit = {k: v for k, v in BEFORE[family].items() if v is not None}
    (g0, d0), (g1, d1) = _build(family, {}), _build(family, explicit)
    for a, b in ((g0, g1), (d0, d1)):
        sa, sb = a.state_dict(), b.state_dict()
        assert {k: v.shape for k, v in sa.items()} == {k: v.shape for k, v in sb.items()}
        assert all(torch.equal(sa[k], sb[k]) for k in sa)
        assert a.config == b.config
    assert getattr(g0, "loss_options", None) == getattr(g1, "loss_options", None)


def test_options_read_converts_as_the_families_did():
    from mmgan.models.progressive import ProgressiveOptions
    from mmgan.models.stackgan import StackGANOptions

    o = StackGANOptions.read({"stages": "2", "kl_weight": "1e-3", "unrelated": 1})
    assert o.stages == 2 and o.kl_weight == 0.001 and o.ca_dim == 64
    assert ProgressiveOptions.read({"stage_steps": (3, 4)}).stage_steps == [3, 4]
    assert ProgressiveOptions.read({"stage_steps": 7.0}).stage_steps == 7
    with pytest.raises(KeyError):
        StackGANOptions.value({}, "nope")


@pytest.mark.parametrize("name", presets())
def test_every_preset_validates(name):
    cfg = Config.load(name)
    assert check_extra(cfg.model.family, cfg.model.extra) == []


def test_unknown_key_names_family_suggests_and_lists_valid():
    with pytest.raises(ConfigError) as e:
        check_extra("stackgan", {"stagse": 3})
    msg = str(e.value)
    assert "model.extra.stagse" in msg and "'stackgan'" in msg and "did you mean 'stages'" in msg
    for key in family_options("stackgan").names() + SharedOptions.names():
        assert key in msg
    with pytest.raises(ConfigError, match=r"stage_steps is an option of progressive"):
        check_extra("dcgan", {"stage_steps": 3})


@pytest.mark.parametrize("family,extra,want", [
    ("stackgan", {"stages": "three"}, r"model.extra.stages must be an integer \(int\)"),
    ("cyclegan", {"res_blocks": 2.5}, r"model.extra.res_blocks must be an integer"),
    ("stylegan2", {"mbstd": "false"}, r"model.extra.mbstd must be true or false \(bool\)"),
    ("stylegan2", {"pl_weight": True}, r"model.extra.pl_weight must be a number \(float\)"),
    ("progressive", {"stage_steps": [1, "x"]}, r"stage_steps must be an integer or a list of integers"),
    ("mlp", {"g_out": "relu"}, r"model.extra.g_out must be one of tanh, linear"),
    ("dcgan", {"d_norm": "layer"}, r"model.extra.d_norm must be one of auto, bn, none"),
    ("dfgan", {"fusion_args": [1]}, r"model.extra.fusion_args must be a mapping or null"),
])
def test_wrong_type_names_key_and_type(family, extra, want):
    with pytest.raises(ConfigError, match=want):
        check_extra(family, extra)


def test_accepted_values():
    # numbers as YAML 1.1 may give them, null where the code takes it, keys the code writes itself
    check_extra("cyclegan", {"cycle_weight": "1e-3", "identity_weight": 0, "res_blocks": 3.0})
    check_extra("progressive", {"stage_steps": [200, 300], "fade_steps": 150})
    check_extra("dfgan", {"joint": None, "text_encoder": "tiny-text", "joint_encoders": {"audio": {"width": 16}},
                          "joint_modalities": ["text", "label"], "attention": True})
    check_extra("mlp", {"data_scale": 0.45, "d_norm": "none", "critic_fourier": 0})
    for fam in registry.names("model"):
        check_extra(fam, {"d_norm": "none"})         # resolution writes it for every family


def test_saved_keys_pass_as_warnings_new_ones_fail():
    saved = {"stagse": 3, "stages": 2}
    assert len(check_extra("stackgan", dict(saved), saved)) == 1
    with pytest.raises(ConfigError, match="stagse"):
        check_extra("stackgan", {"stagse": 4, "stages": 2}, saved)    # changed since: checked


def test_describe_lists_every_option_with_value_in_use():
    text = describe("stackgan", {"stages": 2})
    for key in family_options("stackgan").names() + SharedOptions.names():
        assert re.search(rf"^  {key} ", text, re.MULTILINE), key
    row = next(line for line in text.splitlines() if line.startswith("  stages "))
    assert row.split()[1:4] == ["int", "3", "2"]


def test_models_never_import_losses():
    models = Path(__file__).resolve().parents[2] / "src" / "mmgan" / "models"
    bad = [p.name for p in models.glob("*.py")
           if re.search(r"^\s*(from\s+(\.\.|mmgan\.)losses|import\s+mmgan\.losses)", p.read_text(), re.MULTILINE)]
    assert not bad, f"models import losses: {bad}"


def test_family_phases_are_registered_by_the_losses_package():
    # the phases a family's generator names are registered by the losses package itself
    # (models never import losses: the import contracts check that; `import mmgan` loads both)
    code = ("import mmgan.losses; from mmgan import registry; names = set(registry._REGISTRY['phases']); "
            "assert {'cycle', 'multistage', 'stylegan2', 'progressive', 'matching', 'vocoder'} <= names, names")
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
