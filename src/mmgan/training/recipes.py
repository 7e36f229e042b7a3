"""Data-aware defaults: what a run trains when the user leaves model.family or model.condition unset,
so that `mmgan train --data X` alone trains the recipe that works on X.

  target     what the model generates: data.target, else the image when the data has images, else the
             vectors (`target_kind`); a target's codec may bring its own condition and recipe rule
             (Codec.default_condition / Codec.recipe: text is written from the image, or the audio)
  condition  unset: what the recipe of the data's direction conditions on (`default_condition`):
               vectors        nothing (a label column stays for the metrics)
               images         captions and speech when the data has them (labels then bind the joint
                              space), else labels, else nothing
             given: that, `[]` included (unconditional)
  recipe     a built-in dataset names its preset (DATASET_PRESETS), used when it conditions the same
             way; otherwise a preset's settings by target and condition (`generic_recipe`):
               vectors                      mlp with the config defaults
               images + captions / speech   shapes-text-speech: joint space, attention fusion, dfgan,
                                            matching-aware D, contrastive and L1 terms
               images + labels              mnist-cond (<= 64 px), stylegan2-shapes above
               images alone                 dcgan with the config defaults (<= 64 px), stylegan2-shapes above
             The recipe fills only the keys that --config, --set and the flags did not give (cfg.given).
             A generic recipe never touches data.* (the user's data keeps its own size and items).
  family     given by the user: no recipe (its settings are the user's); the condition, if unset, is the
             labels when the data has them.
  size       an image size the family cannot make is resized to the nearest one it can, with a notice,
             unless data.resolution or model.resolution was given (then it is an error naming that size).

`choose(cfg, info)` does all of it in place and returns the lines that say what was chosen and why.
"""
from __future__ import annotations

import copy

from ..config import Config, ConfigError, read_config
from ..data.base import DataInfo
from ..data.loader import list_datasets
from ..data.speech import available as speech_available
from ..modalities import get_codec
from ..models.sizes import nearest_size, size_problem

SMALL = 64                 # dcgan (or the label recipe) up to this image side; stylegan2 above
TEXT_RECIPE = "shapes-text-speech"
LABEL_RECIPE = "mnist-cond"
LARGE_RECIPE = "stylegan2-shapes"
DATASET_PRESETS = {        # built-in dataset -> the preset it trains with by default
    "grid25": "grid25-mlp",
    "ring8": "ring8-mlp",
    "mnist": "mnist-cond",
    "digits": "digits-dcgan",
    "shapes": "shapes-text-speech",
    "stacked-mnist": "stacked-mnist-pacdcgan2",
    "shapes-palette": "cyclegan-shapes-palette",
    "mnist-rotated": "cyclegan-mnist-rotated",
}
MULTIMODAL = ("text", "audio", "image")     # conditions that bring the joint space and the fusion
SPEECH_TIME = ("joint_share", "joint_minutes")   # the text/speech recipe's larger joint-space budget, for speech
WORDS = {"text": "captions", "audio": "speech", "label": "labels", "image": "images"}


def target_kind(info: DataInfo) -> str:
    """What a model of this data generates: "image" or "vector" (the data's kind)."""
    return info.kind


def recipe_kind(condition: list) -> str:
    """Which recipe a condition needs: multimodal (text, speech, images), label, or unconditional."""
    if any(m in MULTIMODAL for m in condition):
        return "multimodal"
    return "label" if "label" in condition else "unconditional"


def has_labels(info: DataInfo) -> bool:
    return "label" in info.modalities and info.num_classes >= 2


def target_preset(info: DataInfo) -> str | None:
    """The preset the target's codec names for its models (sound: specgan), if any."""
    return get_codec(target_kind(info)).preset


def default_condition(info: DataInfo) -> tuple[list, str]:
    """(condition, why) for the data's direction when the user names none."""
    own = get_codec(target_kind(info)).default_condition(info)      # a codec with its own rule (text)
    if own is not None:
        return own
    if target_preset(info):
        if has_labels(info):
            return ["label"], f"the {info.kind} comes with labels"
        cond = [m for m in ("text",) if m in info.modalities]
        return cond, (f"the {info.kind} comes with captions" if cond else f"the data holds {info.kind} alone")
    if target_kind(info) == "vector":
        why = "vectors: the mlp recipe is unconditional"
        if has_labels(info):
            why += "; the labels stay for the metrics (--set model.condition=[label] conditions on them)"
        return [], why
    cond = [m for m in ("text", "audio") if m in info.modalities]
    if cond:
        why = f"the images come with {_words(cond)}"
        if has_labels(info):
            why += "; the labels bind the joint space"
        return cond, why
    if has_labels(info):
        return ["label"], "the images come with labels"
    return [], "the data holds images and nothing to condition on"


def generic_recipe(info: DataInfo, kind: str, side: int, condition: list = ()) -> tuple[str | None, dict, str]:
    """(preset whose settings are the recipe or None, those settings, why) for data of no preset of its own.
    The settings leave out data.*; model.condition is chosen apart (default_condition)."""
    if target_kind(info) == "vector":
        return None, {"model": {"family": "mlp"}}, "mlp for vectors"
    own = get_codec(target_kind(info)).recipe(condition)             # a codec with its own rule (text)
    if own is not None:
        return own
    preset = target_preset(info)
    if preset:
        return preset, _settings(preset), f"the {info.kind} recipe of preset {preset}"
    if kind == "multimodal":
        return TEXT_RECIPE, _settings(TEXT_RECIPE), ("the text/speech recipe: joint space, attention fusion, "
                                                    "dfgan with a matching-aware D, contrastive loss")
    if side > SMALL:
        return LARGE_RECIPE, _settings(LARGE_RECIPE), f"stylegan2 for images over {SMALL} px"
    if kind == "label":
        return LABEL_RECIPE, _settings(LABEL_RECIPE), "the label recipe: label concatenation, AC-GAN, mode seeking"
    return None, {"model": {"family": "dcgan"}}, f"dcgan for images up to {SMALL} px"


def describe(info: DataInfo, side: int, condition: list) -> str:
    """The data as the choice sees it: "the data holds 2-D vectors", "28 px images with labels"."""
    if target_kind(info) == "vector":
        return f"the data holds {info.shape[0]}-D vectors"
    if target_preset(info):
        return f"{info.kind} items of shape {tuple(info.shape)}" + (f" with {_words(condition)}" if condition else "")
    return f"{side} px images" + (f" with {_words(condition)}" if condition else ", unconditional")


def choose(cfg: Config, info: DataInfo) -> list[str]:
    """Fill in what the user left unset (model.family, model.condition, the recipe's settings) and fit
    the image size to the family, for data described by info. In place; returns the lines saying
    what was chosen and why."""
    lines: list[str] = []
    m = cfg.model
    if not m.family:
        lines += _from_recipe(cfg, info)
    elif m.condition is None:
        own = get_codec(target_kind(info)).default_condition(info)
        m.condition = own[0] if own is not None else \
            ["label"] if (target_kind(info) == "image" or target_preset(info)) and has_labels(info) else []
        why = f"model.family={m.family} was given, so no recipe: " + ("its labels" if m.condition else "nothing to condition on")
        unused = [c for c in ("text", "audio") if c in info.modalities and c != info.kind]
        if unused:
            why += (f"; {_words(unused)} are not used (--set model.condition=[{','.join(unused)}] conditions on them, "
                    f"or leave model.family unset for the text/speech recipe)")
        lines.append(f"chosen: model.condition={_show(m.condition)} ({why})")
    if target_kind(info) == "image":
        lines += fit_size(cfg, info)
    return lines


def fit_size(cfg: Config, info: DataInfo) -> list[str]:
    """Resize to the nearest size the family can make when the user gave no size (else fail naming it)."""
    c, h, w = info.shape
    if h != w:
        return []                                  # resolve() asks for data.resolution
    side = cfg.data.resolution or cfg.model.resolution or int(h)
    problem = size_problem(cfg.model.family, side, cfg.model.extra)
    if problem is None:
        return []
    best = nearest_size(cfg.model.family, side, cfg.model.extra)
    if {"data.resolution", "model.resolution"} & cfg.given:
        raise ConfigError(f"{problem}; the nearest size {cfg.model.family} can make is {best}: set data.resolution={best}")
    cfg.data.resolution = best
    cfg.model.resolution = 0
    return [f"resized: data.resolution={best} (the images are {side} px, which {cfg.model.family} cannot make; "
            f"{best} px is the nearest size it can)"]


def _from_recipe(cfg: Config, info: DataInfo) -> list[str]:
    m, lines = cfg.model, []
    name = cfg.data.name.strip().lower()
    preset = DATASET_PRESETS.get(name) if name in list_datasets() else None
    preset_cfg = read_config(preset) if preset else {}
    fits = get_codec(target_kind(info)).families
    if preset and fits and (preset_cfg.get("model") or {}).get("family") not in fits:
        preset, preset_cfg = None, {}          # the dataset's preset makes another target (shapes -> speech)
    preset_cond = list((preset_cfg.get("model") or {}).get("condition") or [])
    if m.condition is not None:
        cond, cond_why = list(m.condition), None
    elif preset:
        cond, cond_why = preset_cond, f"from preset {preset}"
        if "audio" in cond and "audio" not in info.modalities and not speech_available():
            cond = [c for c in cond if c != "audio"]
            cond_why += "; speech synthesis (espeak-ng) is unavailable, so the captions alone"
    else:
        cond, cond_why = default_condition(info)
    kind = recipe_kind(cond)
    side = cfg.data.resolution or cfg.model.resolution or (int(info.shape[1]) if len(info.shape) == 3 else 0)
    if preset and recipe_kind(preset_cond) == kind:
        settings = copy.deepcopy(preset_cfg)
        (settings.get("model") or {}).pop("condition", None)
        source, why = preset, f"recipe: preset {preset}, named by built-in dataset {name}"
    else:
        source, settings, why = generic_recipe(info, kind, side, cond)
        settings = copy.deepcopy(settings)
        settings.pop("data", None)
        (settings.get("model") or {}).pop("condition", None)
        why = f"{why}; recipe: preset {source}'s settings" if source else why
    if "label" not in cond:                  # AC-GAN heads classify labels: not for a recipe conditioned otherwise
        for key in ("acgan", "acgan_twin"):
            (settings.get("model") or {}).pop(key, None)
    if "audio" not in cond:                  # the speech encoder's extra time: without speech the GAN keeps it
        for key in SPEECH_TIME:
            ((settings.get("model") or {}).get("extra") or {}).pop(key, None)
    m.condition = cond
    filled = cfg.fill(settings, where=f"preset {source}" if source else "recipe")
    if not m.family:                     # a family given as "" counts as unset
        m.family = (settings.get("model") or {}).get("family") or "dcgan"
    lines.append(f"chosen: model.family={m.family} ({describe(info, side, cond)}: {why})")
    if cond_why:
        lines.append(f"chosen: model.condition={_show(cond)} ({cond_why})")
    rest = [k for k in filled if k != "model.family"]
    if rest:
        lines.append(f"chosen: {len(rest)} settings of preset {source} that --config/--set did not give: {', '.join(rest)}")
    return lines


def _settings(preset: str) -> dict:
    d = read_config(preset)
    d.pop("data", None)
    return d


def _words(mods: list) -> str:
    names = [WORDS.get(x, x) for x in mods]
    return " and ".join(names) if len(names) < 3 else ", ".join(names[:-1]) + " and " + names[-1]


def _show(cond: list) -> str:
    return "[" + ",".join(cond) + "]"
