"""Resolve a config against its dataset: every derived value is filled in before the run prints it."""
from __future__ import annotations

from collections.abc import Mapping

from ..config import Config, ConfigError
from ..data.base import MemoryDataset
from ..conditioning.source import configure_source
from ..model_options import check_extra, family_options
from ..modalities import codec_of, target_of
from ..registry import get, names
from .conditioner import joint_options


LIBRARY_FAMILY = "dcgan"     # what resolve() uses when nothing chose a family


def resolve(cfg: Config, ds: MemoryDataset, saved_extra: Mapping | None = None) -> Config:
    """Fill in every derived value of cfg for dataset ds (in place; returns cfg). model.extra is checked
    against the family's declared options (mmgan.model_options), not filled in: keys of `saved_extra`
    (the model.extra of a saved run being resumed) that keep their saved value are let through."""
    info, m = ds.info, cfg.model
    # mmgan.train() / `mmgan train` choose unset keys from the data first (mmgan.training.recipes.choose);
    # a config resolved directly keeps the library's plain defaults: a DCGAN, unconditional.
    m.family = m.family or LIBRARY_FAMILY
    m.condition = [] if m.condition is None else m.condition
    get("model", m.family)                      # fail early, listing the valid families
    check_extra(m.family, m.extra, saved_extra)  # unknown keys, wrong types
    joint_options(m.extra)                      # the joint space's nested settings (audio_augment_args)
    get("loss", cfg.loss.name)
    for a in filter(None, (p.strip() for p in cfg.loss.diffaug.split(","))):
        get("augment", a)
    ds.with_target(cfg.data.target)             # data.target, or the dataset's default target
    cfg.data.target = target_of(ds)
    codec_of(ds).configure(cfg, ds)             # the target's shape, scale and family checks
    try:
        configure_source(cfg, ds)               # a family reading its source raw: model.extra.source
    except ValueError as e:
        raise ConfigError(str(e)) from None
    for mod in m.condition:
        if mod == "label" and "label" not in info.modalities:
            raise ConfigError(f"model.condition includes 'label' but dataset {info.name!r} has no labels")
        if mod in ("text", "audio", "image") and mod not in info.modalities:
            raise ConfigError(f"model.condition includes {mod!r} but dataset {info.name!r} has no {mod} column")
        if mod == "voice" and not ({"audio", "speaker"} <= set(info.modalities)):
            raise ConfigError(f"model.condition includes 'voice' but dataset {info.name!r} has no "
                              f"{' and no '.join(repr(c) for c in ('audio', 'speaker') if c not in info.modalities)} "
                              f"column: a voice condition learns voices from clips and who speaks each (a manifest's "
                              f"'speaker' column)")
    if "label" in m.condition or m.acgan:
        m.num_classes = m.num_classes or int(info.num_classes)
    # AC-GAN's classifier learns the data's labels; conditioned on something else (an image, a caption), the labels
    # still teach D to tell the classes apart and G to make the class its condition names
    if m.acgan and "label" not in info.modalities:
        raise ConfigError(f"model.acgan needs labels: dataset {info.name!r} has none")
    if m.acgan and not m.condition:
        raise ConfigError("model.acgan needs a condition that names the class: set model.condition (e.g. [label])")
    if m.acgan and cfg.loss.phases == "matching":      # checked here, before minutes of joint-space fitting
        raise ConfigError("model.acgan: the matching phases train no classifier head; use loss.phases=standard "
                          "(its loss.mismatch is the matching-aware D) or model.acgan=false")
    if m.acgan_twin and not m.acgan:
        raise ConfigError("model.acgan_twin (TAC-GAN) is a second classifier head beside the AC-GAN one: set model.acgan=true")
    if m.acgan and m.pack > 1:
        raise ConfigError("model.acgan cannot be combined with model.pack > 1 (a pack has no single label)")
    if cfg.train.batch_size % max(1, m.pack):
        raise ConfigError(f"train.batch_size={cfg.train.batch_size} must be divisible by model.pack={m.pack}")
    if cfg.loss.name == "wgan-gp" or cfg.loss.r1_gamma > 0:
        m.extra.setdefault("d_norm", "none")    # per-sample gradient penalties and batch-norm in D do not mix
    if cfg.loss.phases == "standard":            # a family with its own step logic names it (recognizer: "ctc")
        cfg.loss.phases = family_options(m.family).phases
    if cfg.loss.phases not in names("phases"):
        raise ConfigError(f"unknown loss.phases {cfg.loss.phases!r}; valid: {', '.join(names('phases'))}")
    reads = {n: getattr(get("phases", n), "EXTRA_OPTIONS", ()) for n in names("phases")}
    for opt in ("recon", "contrastive"):            # set but never read would be silently ignored
        if getattr(cfg.loss, opt) and opt not in reads[cfg.loss.phases]:
            raise ConfigError(f"loss.{opt}={getattr(cfg.loss, opt)} does nothing with loss.phases={cfg.loss.phases!r}; "
                              f"it is read by {', '.join(n for n, r in reads.items() if opt in r)} (or set it to 0)")
    return cfg
