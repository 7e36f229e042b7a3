"""Data-aware defaults (mmgan.training.recipes.choose): what `mmgan train --data X` trains when the user
names no family or condition."""
from __future__ import annotations

import pytest

from mmgan.config import Config, ConfigError
from mmgan.data import load_dataset
from mmgan.training.recipes import choose


def _chosen(name: str, overrides=(), **kw):
    cfg = Config().override([f"data.name={name}", *overrides])
    info = load_dataset(name, n=16, **kw).info
    return cfg, choose(cfg, info)


def test_vectors_get_the_mlp_preset():
    cfg, lines = _chosen("grid25")
    assert cfg.model.family == "mlp" and cfg.model.condition == []
    assert any("model.family=mlp" in line and "vectors" in line for line in lines)


def test_mnist_is_label_conditioned_by_its_preset():
    cfg, lines = _chosen("mnist")
    assert cfg.model.family == "dcgan" and cfg.model.condition == ["label"] and cfg.model.acgan
    assert any("mnist-cond" in line for line in lines)


def test_captioned_images_get_the_text_recipe(paired):
    cfg = Config().override(["data.name=my-captioned-digits"])
    lines = choose(cfg, paired.info)
    assert "text" in cfg.model.condition and cfg.model.family == "dfgan" and cfg.loss.phases == "matching"
    assert cfg.model.fusion == "attention" and any("text/speech recipe" in line for line in lines)


def test_the_speech_encoders_extra_time_only_with_speech(paired):
    """The text/speech recipe gives the joint space 40% of the minutes for its speech encoder (bench/voices.py);
    captions alone learn in less, so a recipe without speech leaves the budget's 25% and the GAN the rest."""
    cfg = Config().override(["data.name=my-captioned-digits", "model.condition=[text,audio]"])
    choose(cfg, paired.info)
    assert cfg.model.extra["joint_share"] == 0.4 and cfg.model.extra["joint_minutes"] == 4
    cfg = Config().override(["data.name=my-captioned-digits", "model.condition=[text]"])
    choose(cfg, paired.info)
    assert cfg.model.family == "dfgan" and "joint_share" not in cfg.model.extra
    assert "joint_minutes" not in cfg.model.extra and cfg.model.extra.get("cond_noise") == 0.6   # the rest stays


def test_what_the_user_gave_wins():
    cfg, _ = _chosen("mnist", ["model.condition=[]"])
    assert cfg.model.condition == []                 # explicit unconditional stays unconditional
    cfg, _ = _chosen("mnist", ["model.family=dcgan"])
    assert cfg.model.family == "dcgan" and cfg.model.condition == ["label"] and not cfg.model.acgan   # no recipe
    cfg, _ = _chosen("mnist", ["train.lr_g=0.001"])
    assert cfg.train.lr_g == 0.001 and cfg.model.family == "dcgan"       # a recipe fills only what was not given


def test_a_size_the_family_cannot_make_is_resized_with_a_notice():
    cfg, lines = _chosen("mnist", ["model.family=dfgan", "model.condition=[label]"])
    assert cfg.data.resolution == 32 and any(line.startswith("resized: data.resolution=32") for line in lines)
    with pytest.raises(ConfigError, match="nearest size"):
        _chosen("mnist", ["model.family=dfgan", "model.condition=[label]", "data.resolution=28"])


def test_video_with_sound_is_drawn_from_its_sound(tmp_path):
    """A user's manifest of clips with their sound: mocogan, conditioned on the audio (not the captions), with the
    sound -> video preset's settings; clips without sound are refused by name."""
    import json

    from _tiny import video_manifest

    manifest = video_manifest(tmp_path / "v", n=4)
    cfg = Config().override([f"data.name={manifest}", "data.target=video"])
    lines = choose(cfg, load_dataset(str(manifest), target="video").info)
    assert cfg.model.family == "mocogan" and cfg.model.condition == ["audio"]
    assert any("mocogan-moving-digits" in line for line in lines)
    silent = tmp_path / "v" / "silent.jsonl"
    rows = [json.loads(r) for r in manifest.read_text().splitlines()]
    silent.write_text("".join(json.dumps({"video": r["video"], "text": r["text"]}) + "\n" for r in rows))
    with pytest.raises(ConfigError, match="no audio column"):
        choose(Config().override([f"data.name={silent}"]), load_dataset(str(silent), target="video").info)
