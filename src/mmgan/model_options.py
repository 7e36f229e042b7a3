"""Typed `model.extra` options: every key a model family reads, with its type, default and a one-line help.

  * A family declares its own keys -- those its networks read and those its phases read from the
    generator's `loss_options` -- as a frozen dataclass of `option(default, help)` fields (a subclass
    of Options) and registers it with itself: `@register("model", "stackgan", options=StackGANOptions)`.
  * SharedOptions (here) are the keys every family accepts: the multimodal conditioner's joint space
    and fusion (read in mmgan.multimodal.build), the rejection-sampling critic (mmgan.sampling.drs) and
    d_norm (read by dcgan; config resolution writes it for every family under per-sample penalties).
  * Families read their values with `XOptions.read(cfg.extra)`, so each default lives in one place.
  * `check_extra(family, extra)` refuses unknown keys (naming the family, the closest valid key and
    every valid one) and values of the wrong type. Nothing is filled in: configs are saved as written,
    so runs saved before load and behave as they did.
"""
from __future__ import annotations

import copy
import dataclasses
import difflib
import functools
import json
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from .config import ConfigError
from .registry import names
from .registry import options

_NONE = type(None)
_WORDS = {int: "an integer", float: "a number", bool: "true or false", str: "a string", dict: "a mapping",
          list: "a list", _NONE: "null"}
_PLURAL = {int: "integers", float: "numbers", str: "strings", bool: "booleans"}


def option(default: Any, help: str, choices: tuple = ()) -> Any:
    """Declare one model.extra key (a dataclass field): its default, a one-line help and, for strings,
    the accepted values. A default of None outside the declared type means "chosen by the family"
    (the help says how); a mutable default is copied for every read."""
    meta = {"help": help, "choices": tuple(choices)}
    if isinstance(default, (dict, list)):
        return dataclasses.field(default_factory=functools.partial(copy.deepcopy, default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def _fits(t: Any, v: Any) -> bool:
    """Whether v is a value of declared type t, as the families convert it (int(), float(), ...):
    numbers may be numeric strings (YAML 1.1 reads 1e-3 as one), integers integral floats."""
    base = typing.get_origin(t) or t
    if t is _NONE:
        return v is None
    if base is bool:
        return isinstance(v, bool) or (type(v) is int and v in (0, 1))
    if isinstance(v, bool):
        return False                                    # true is no number, string or list here
    if base is int:
        if isinstance(v, float):
            return v.is_integer()
        return isinstance(v, int) or (isinstance(v, str) and _parses(int, v))
    if base is float:
        return isinstance(v, (int, float)) or (isinstance(v, str) and _parses(float, v))
    if base is list:
        args = typing.get_args(t)
        return isinstance(v, (list, tuple)) and (not args or all(_fits(args[0], x) for x in v))
    return isinstance(v, base)


def _parses(fn: Any, s: str) -> bool:
    try:
        fn(s)
    except ValueError:
        return False
    return True


def _type_name(t: Any) -> str:
    return "null" if t is _NONE else t.__name__ if isinstance(t, type) else str(t)


def _words(t: Any) -> str:
    args = typing.get_args(t)
    if (typing.get_origin(t) or t) is list and args:
        return f"a list of {_PLURAL.get(args[0], _type_name(args[0]))}"
    return _WORDS.get(t, _type_name(t))


@dataclass(frozen=True)
class Spec:
    """One declared option, as validation and the dry run see it."""
    name: str
    types: tuple            # accepted types: int, float, bool, str, dict, list, list[int], NoneType
    default: Any
    help: str
    choices: tuple = ()

    @property
    def type_name(self) -> str:
        return " | ".join(_type_name(t) for t in self.types)

    def problem(self, value: Any) -> str | None:
        """Why value is not valid for this option (None when it is)."""
        if not any(_fits(t, value) for t in self.types):
            want = " or ".join(_words(t) for t in self.types)
            return f"model.extra.{self.name} must be {want} ({self.type_name}), got {value!r}"
        if self.choices and value is not None and value not in self.choices:
            return f"model.extra.{self.name} must be one of {', '.join(map(str, self.choices))}, got {value!r}"
        return None

    def convert(self, value: Any) -> Any:
        """The value as the family uses it: int(), float(), bool() or str() of it as the families always
        took it, a list or mapping as it is, None where None is declared."""
        if value is None and _NONE in self.types:
            return None
        for t in self.types:
            base = typing.get_origin(t) or t
            if base is list and isinstance(value, (list, tuple)):
                return list(value)
            if base is dict and isinstance(value, dict):
                return value
        base = typing.get_origin(self.types[0]) or self.types[0]
        return base(value) if base in (int, float, bool, str) else value


@functools.cache
def _specs(cls: type) -> tuple[Spec, ...]:
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        t = hints[f.name]
        members = typing.get_args(t) if typing.get_origin(t) in (typing.Union, types.UnionType) else (t,)
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        out.append(Spec(f.name, tuple(members), default, f.metadata.get("help", ""), f.metadata.get("choices", ())))
    return tuple(out)


@dataclass(frozen=True)
class Options:
    """Base of a family's declared model.extra options (itself: none). `phases`: the step logic the family
    trains with when loss.phases is left at "standard" (a family with its own, e.g. cyclegan's "cycle",
    names it here; training.setup.resolve writes it into the config, so the saved config says what trained)."""

    phases: ClassVar[str] = "standard"

    @classmethod
    def specs(cls) -> tuple[Spec, ...]:
        return _specs(cls)

    @classmethod
    def names(cls) -> list[str]:
        return [s.name for s in cls.specs()]

    @classmethod
    def read(cls, extra: Mapping | None) -> Options:
        """The declared options with their values from `extra` (converted as the family uses them) or
        their defaults; keys that are not declared here are ignored (validation is check_extra's)."""
        return cls(**{s.name: cls._get(s, extra or {}) for s in cls.specs()})

    @classmethod
    def value(cls, extra: Mapping | None, name: str) -> Any:
        """One option's value (or default), without reading the others."""
        spec = next((s for s in cls.specs() if s.name == name), None)
        if spec is None:
            raise KeyError(f"{cls.__name__} declares no option {name!r}")
        return cls._get(spec, extra or {})

    @staticmethod
    def _get(spec: Spec, extra: Mapping) -> Any:
        return spec.convert(extra[spec.name]) if spec.name in extra else copy.deepcopy(spec.default)


@dataclass(frozen=True)
class SharedOptions(Options):
    """model.extra keys every family accepts (not family-specific: conditioner, critic, resolution)."""
    # the joint space and fusion of multimodal conditions (mmgan.multimodal.build)
    joint: str | None = option(None, "a saved joint space to reuse (folder); unset: RUN/joint when resuming, "
                                     "else trained for this run")
    joint_modalities: list | None = option(None, "modalities the joint space learns (unset: the conditions, "
                                                 "plus label when the data has classes)")
    joint_minutes: float = option(3.0, "wall-clock budget of joint-space training (minutes)")
    joint_share: float = option(0.25, "share of the run's time budget (train.minutes) the joint space may take, "
                                      "at most joint_minutes")
    joint_steps: int = option(1500, "joint-space training steps, phase A (image, text, label)")
    joint_audio_steps: int = option(2000, "joint-space training steps, phase B (audio)")
    joint_batch: int = option(128, "joint-space training batch size")
    joint_lr: float = option(2e-3, "joint-space learning rate (AdamW; cosine decay over joint_steps / joint_audio_steps)")
    joint_audio_batch: int | None = option(None, "joint-space batch size of phase B, the audio (unset: joint_batch)")
    joint_audio_lr: float | None = option(None, "joint-space learning rate of phase B, the audio (unset: joint_lr)")
    joint_dim: int = option(256, "joint-space embedding size")
    joint_heads: str = option("linear", "joint-space projection heads", choices=("linear", "mlp"))
    joint_positives: str = option("auto", "which items are positives for each other in the joint space and the "
                                          "fusion: auto (the same attributes, else caption; with the audio hub the same "
                                          "label), label, attributes, text (the same caption) or item",
                                  choices=("auto", "label", "attributes", "text", "item"))
    text_encoder: str | None = option(None, "text encoder name (unset: the joint space's default)")
    audio_encoder: str | None = option(None, "audio encoder name (unset: the joint space's default)")
    joint_encoders: dict | None = option({}, "per-modality encoder options, e.g. {audio: {width: 64}}")
    audio_norm: str = option("clip", "per-utterance normalization of the audio encoder's log-mels: clip (one "
                                     "mean and std) or cmvn (per mel band)", choices=("clip", "cmvn"))
    audio_dropout: float = option(0.0, "dropout after each stage of the audio encoder (0 = off)")
    audio_augment: bool = option(False, "perturb speech while training the joint space (speed, pitch, room, "
                                        "level, noise, SpecAugment masks), for voices never heard in training")
    audio_augment_args: dict | None = option({}, "overrides of the audio augmentation's settings, e.g. "
                                                 "{speed: [0.9, 1.1], noise_p: 0.3} (mmgan.encoders.audio_augment)")
    fusion_steps: int = option(1500, "steps fitting the fusion (model.fusion) on joint-space features")
    fusion_args: dict | None = option({}, "keyword arguments of the fusion")
    modality_dropout: float = option(0.3, "probability of dropping a condition modality while fitting and training")
    cond_noise: float = option(0.0, "GAN training only: Gaussian noise added to the fused condition, as a share of its "
                                    "length (0.3 moves it to cosine ~0.95), so G draws the same for the slightly "
                                    "different condition that speech (or another voice) gives for the same caption")
    retrieval_alpha: float = option(0.5, "weight of retrieved neighbours for generate --retrieve (0 = the query alone)")
    # a voice condition (model.condition with voice: mmgan.conditioning.voice, training.voice)
    voice_encoder: str | None = option(None, "a saved speaker encoder to reuse (folder); unset: RUN/voice when "
                                             "resuming, else trained for this run on its clips' speakers")
    voice_minutes: float = option(1.5, "wall-clock budget of the speaker encoder's training (minutes)")
    voice_steps: int = option(800, "speaker encoder training steps")
    voice_dim: int = option(128, "size of the voice vector")
    voice_dropout: float = option(0.1, "GAN training only: probability of hiding a row's voice (zeros), so the "
                                       "model also speaks with no reference clip")
    # families that read their source raw (mmgan.conditioning.source)
    source: dict | None = option(None, "written by training for a family that reads its source raw (captioner: the "
                                       "image): {modality, and its codec's spec: resolution, channels, ...}")
    # the rejection-sampling critic (mmgan.sampling.drs), on vector data
    critic_fourier: int = option(128, "random Fourier features the critic reads on vector data (0 = off)")
    critic_fourier_scale: float = option(100.0, "highest Fourier frequency of the critic, per data unit")
    # read by dcgan; config resolution sets none for every family under wgan-gp or R1
    d_norm: str = option("auto", "discriminator normalization (dcgan): auto (bn unless spectral norm or a "
                                 "gradient penalty), bn or none", choices=("auto", "bn", "none"))


def family_options(family: str) -> type[Options]:
    """The options a model family registered (Options, none, if it declared none); an unknown family
    fails listing the valid ones."""

    return options("model", family) or Options


def _show(v: Any, spec: Spec | None = None) -> str:
    if v is None:
        return "auto" if spec is not None and _NONE not in spec.types else "-"   # chosen by the family / unset
    if isinstance(v, str):
        return v
    return json.dumps(v) if isinstance(v, (bool, int, float, list, dict)) else str(v)


def extra_problems(family: str, extra: Mapping | None) -> dict[str, str]:
    """{key: message} for every unknown key and every value of the wrong type in `extra`."""
    own, shared = family_options(family).specs(), SharedOptions.specs()
    by_name = {s.name: s for s in shared} | {s.name: s for s in own}
    out = {}
    for key, value in (extra or {}).items():
        spec = by_name.get(key)
        if spec is None:
            out[key] = _unknown(str(key), family, [s.name for s in own], [s.name for s in shared])
        elif (msg := spec.problem(value)) is not None:
            out[key] = f"{msg} (model family {family!r})"
    return out


def _unknown(key: str, family: str, own: list[str], shared: list[str]) -> str:

    close = difflib.get_close_matches(key, own + shared, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    others = [f for f in names("model") if f != family and key in family_options(f).names()]
    elsewhere = f" ({key} is an option of {', '.join(others)})" if others else ""
    return (f"unknown option model.extra.{key} for model family {family!r}{hint}{elsewhere}\n"
            f"  valid options of {family}: {', '.join(sorted(own)) or '(none)'}\n"
            f"  valid for every family: {', '.join(sorted(shared))}")


def check_extra(family: str, extra: Mapping | None, saved: Mapping | None = None) -> list[str]:
    """Refuse unknown model.extra keys and values of the wrong type: one ConfigError listing every
    problem. Keys of `saved` (the model.extra of a run saved before: --resume, calibrate) that still
    hold their saved value are not refused; their problems are returned, for the caller to print as
    warnings, so a run saved with a key that was ignored then still resumes as it trained."""
    saved = saved or {}
    old, new = [], []
    for key, msg in extra_problems(family, extra).items():
        kept = key in saved and saved[key] == extra[key]
        (old if kept else new).append(msg)
    if new:
        raise ConfigError("\n".join(new))
    return old


def describe(family: str, extra: Mapping | None) -> str:
    """The family's options and the shared ones as a table: name, type, default, value in use, help."""
    extra = extra or {}
    lines = []
    for title, specs in ((f"model.extra options of {family}:", family_options(family).specs()),
                         ("model.extra options of every family:", SharedOptions.specs())):
        rows = [(s.name, s.type_name + (f": {'|'.join(s.choices)}" if s.choices else ""), _show(s.default, s),
                 _show(extra[s.name] if s.name in extra else s.default, s) + (" *" if s.name in extra else ""), s.help)
                for s in specs]
        lines.append(title if rows else f"{title} (none)")
        if not rows:
            continue
        rows.insert(0, ("name", "type", "default", "value", "help"))
        w = [max(len(r[i]) for r in rows) for i in range(4)]
        lines += ["  " + "  ".join(c.ljust(w[i]) for i, c in enumerate(r[:4])) + "  " + r[4] for r in rows]
    lines.append("(* = set in model.extra; otherwise the default applies)")
    return "\n".join(lines)
