"""Typed configs: the one place defaults live. Loaded from YAML, overridden by `--set key=value`.

A key is dotted (`model.family=mlp`) or bare when the name is unique across sections (`family=mlp`).
Values are parsed as YAML, so `condition=[text,audio]` is a list and `ema=0` a number.

Two keys start unset and are chosen from the data by `mmgan train` (mmgan.training.recipes):
model.family ("" = unset) and model.condition (null = unset; [] = unconditional). A Config remembers
which keys a config file or `--set` gave (`cfg.given`), so a recipe fills in only the others.
"""
from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .utils import COMPILE_MODES, atomic_write_text


@dataclass
class DataConfig:
    name: str = ""                 # built-in name, image folder, manifest file or a folder holding one
    resolution: int = 0            # resize images to this (0 = the model's resolution, or native)
    n: int = 0                     # items to generate for built-ins (0 = the dataset's default)
    seed: int = 0                  # seed for generated built-ins
    split: str = "train"
    skip_bad: bool = False         # skip bad manifest rows (counted) instead of refusing to start
    target: str = ""               # the column a model generates (image, vector, ...); "" = the image when the
                                   # data has one, else the vector (mmgan.modalities)


@dataclass
class ModelConfig:
    family: str = ""               # registry name: mlp, dcgan, ...; "" = chosen from the data
    z_dim: int = 64
    resolution: int = 0            # image side; 0 = from the data
    channels: int = 0              # image channels; 0 = from the data
    data_dim: int = 0              # vector data size (mlp on 2-D mixtures); 0 = from the data
    g_width: int = 64              # dcgan: channels at the last generator block (doubles going down)
    d_width: int = 64
    g_hidden: list = field(default_factory=lambda: [256, 512, 1024])   # mlp generator widths
    d_hidden: list = field(default_factory=lambda: [1024, 512, 256])   # mlp discriminator widths
    condition: list | None = None  # modalities that condition G: [], [label], [text, audio], ...; null = from the data
    num_classes: int = 0           # from the data when condition includes label
    cond_dim: int = 0              # size of the condition vector; derived
    g_cond: str = "cbn"            # cbn (conditional batch-norm) or concat
    d_cond: str = "projection"     # projection, concat or none
    acgan: bool = False            # auxiliary classifier head on D: learns the data's labels, with any condition
    acgan_twin: bool = False       # TAC-GAN: a twin head learns the fakes' labels and G is pushed away from it
                                   # (undoes AC-GAN's pull toward easily classified samples; needs acgan)
    spectral_norm: bool = False
    mbstd: bool = False            # minibatch standard deviation feature in D
    pack: int = 1                  # PacGAN: D judges packs of this many samples
    fusion: str = "attention"      # how several condition modalities are fused
    extra: dict = field(default_factory=dict)  # family options, declared by each family (mmgan.model_options)


@dataclass
class LossConfig:
    name: str = "hinge"            # ns, hinge, wgan-gp, lsgan
    gp_weight: float = 10.0        # wgan-gp gradient penalty
    r1_gamma: float = 0.0          # R1 penalty on reals (0 = off)
    r1_every: int = 1              # lazy regularization interval
    diffaug: str = ""              # comma list of translation, color, cutout
    mode_seeking: float = 0.0      # MSGAN weight (0 = off)
    ms_tau: float = 0.0            # mode seeking's target: 0 = MSGAN's 1 / (ratio + 1e-5), unbounded; > 0 = DSGAN's
                                   # capped form max(0, 1 - ratio / ms_tau), no push once image distance per
                                   # latent distance (mean |.|) reaches ms_tau (set it near the real data's)
    ms_pool: int = 1               # mode seeking measures image distance on images average-pooled by this: 2+ leaves out
                                   # pixel-level texture (stripes, speckle), so only layout, pose and shape count
    acgan_weight: float = 1.0
    mismatch: float = 0.0          # standard phases: D also scores reals under another row's condition (rolled by
                                   # one; a voice condition swaps only the voice on half the rows) as fakes, with this
                                   # weight (GAN-CLS's matching-aware D; 0 = off): D must then check the condition too
    topk: float = 1.0              # top-k G updates (Sinha et al. 2020): share of fakes (by D score) G learns from
    topk_ramp: int = 1000          # steps over which that share falls linearly from 1 to topk
    n_critic: int = 1              # D steps per G step
    reuse_fakes: bool = True       # G phase trains on the last D phase's fakes (one G forward a step)
    phases: str = "standard"       # step logic: standard; matching (matching-aware D, multimodal)
    ma_gp: float = 2.0             # matching phases: MA-GP weight (DF-GAN: 2, on ||grad||^6)
    contrastive: float = 0.0       # matching phases: InfoNCE of G(z, c) against c in the joint space (0 = off)
    recon: float = 0.0             # matching phases: L1 between G(z, c) and the image paired with c (0 = off)
    recon_pool: int = 1            # loss.recon compares images average-pooled by this factor (1 = pixels, which
                                   # pins every seed to the paired image; 4 = the layout only, detail left to z)


@dataclass
class TrainConfig:
    out: str = "runs"              # root for numbered run folders (the CLI's --out names the run itself)
    steps: int = 2000
    minutes: float = 0.0           # wall-clock budget (0 = none); whichever of steps/minutes ends first
    batch_size: int = 64
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    lr_decay: str = "none"         # none, linear or cosine decay of both learning rates to 0 at train.steps
    ema: float = 0.999             # EMA decay of G (0 = off)
    ema_start: int = 0
    seed: int = 0
    device: str = "auto"
    threads: int = 0               # CPU threads for torch ops (0 = torch's default, one per core; torchrun: 1 per rank)
    sample_every: int = 500        # sample grid every N steps (0 = off)
    ckpt_every: int = 500          # checkpoint every N steps (0 = only at the end)
    log_every: int = 25            # log losses every N steps (0 = the first step only)
    keep_checkpoints: int = 3
    tensorboard: bool = True
    channels_last: bool = True     # faster convolutions on CPU and GPU
    bf16: bool | str = "auto"      # bf16 autocast: true, false, or auto (native bf16 + conv model; utils.use_bf16)
    compile: bool | str = "auto"   # torch.compile G and D: true, false, a mode, or auto (CUDA only; utils.compile_mode)
    progress: bool = True
    eval_every: int = 0            # evaluate metrics during training every N steps (0 = off)
    eval_metrics: list = field(default_factory=list)   # e.g. [fid2k]; the first picks the best checkpoint
    drs_steps: int = 0             # after training, fit a rejection-sampling critic for this many steps (0 = off)
    drs_quantile: float = 0.995    # its bound M: this quantile of the critic's logits on G's samples


@dataclass
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self) -> None:
        self.given: set[str] = set()   # dotted keys a config file or --set gave (model.extra.KEY for extras)

    # ---- conversions -------------------------------------------------------------------
    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict | None, where: str = "config") -> "Config":
        cfg = cls()
        for section, values in (d or {}).items():
            if section not in SECTIONS:
                raise ConfigError(f"{where}: unknown section {section!r}; valid: {', '.join(SECTIONS)}")
            if values is None:
                continue
            if not isinstance(values, dict):
                raise ConfigError(f"{where}: section {section!r} must be a mapping, got {type(values).__name__}")
            for k, v in values.items():
                _set_field(getattr(cfg, section), section, k, v, where)
                cfg._mark(section, k, v)
        return cfg

    def fill(self, d: dict, where: str) -> list[str]:
        """Set the keys of d (a config as a mapping, e.g. a preset's) that this config was not given;
        model.extra keys one by one. Returns the dotted keys it set."""
        done = []
        for section, values in (d or {}).items():
            if section not in SECTIONS:
                raise ConfigError(f"{where}: unknown section {section!r}; valid: {', '.join(SECTIONS)}")
            for k, v in (values or {}).items():
                if section == "model" and k == "extra":
                    keep = {e: x for e, x in (v or {}).items() if f"model.extra.{e}" not in self.given}
                    if keep:
                        self.model.extra = {**keep, **self.model.extra}
                        done += [f"model.extra.{e}" for e in keep]
                elif f"{section}.{k}" not in self.given:
                    _set_field(getattr(self, section), section, k, v, where)
                    done.append(f"{section}.{k}")
        return done

    def _mark(self, section: str, name: str, value: Any) -> None:
        if section == "model" and name == "extra" and isinstance(value, dict):
            self.given.update(f"model.extra.{k}" for k in value)
        else:
            self.given.add(f"{section}.{name}")

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def save(self, path: str | Path, comments: list[str] = ()) -> None:
        """Write the config as YAML; `comments` (e.g. what was chosen and why) go first as # lines."""
        head = "".join(f"# {line}\n" for c in comments for line in str(c).splitlines())
        atomic_write_text(path, head + self.to_yaml())

    @classmethod
    def load(cls, path: str | Path) -> "Config":
        p = config_path(path)
        return cls.from_dict(read_config(p), where=str(p))

    def override(self, assignments: list[str]) -> "Config":
        for a in assignments or []:
            if "=" not in a:
                raise ConfigError(f"--set {a!r}: expected key=value")
            key, raw = a.split("=", 1)
            try:
                value = yaml.safe_load(raw) if raw != "" else ""
            except yaml.YAMLError:
                value = raw
            key = key.strip()
            if key.startswith(("model.extra.", "extra.")):
                sub = key.split("extra.", 1)[1]
                self.model.extra = {**self.model.extra, sub: value}
                self.given.add(f"model.extra.{sub}")
                continue
            section, name = _resolve_key(key)
            _set_field(getattr(self, section), section, name, value, f"--set {a}")
            self._mark(section, name, value)
        return self


SECTIONS = ("data", "model", "loss", "train")
PRESETS = Path(__file__).parent / "configs"


def presets() -> list[str]:
    return sorted(p.stem for p in PRESETS.glob("*.yaml"))


def config_path(path: str | Path) -> Path:
    """A config file, or a preset by name (`--config grid25-mlp`)."""
    p = Path(path)
    if not p.exists() and (PRESETS / f"{p.name}.yaml").exists() and len(p.parts) == 1:
        p = PRESETS / f"{p.name}.yaml"
    if not p.exists():
        raise ConfigError(f"config file not found: {p}; presets: {', '.join(presets())}")
    return p


def read_config(path: str | Path) -> dict:
    """A config file or preset as the mapping it holds (nothing checked or filled in)."""
    p = config_path(path)
    try:
        d = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{p}: not valid YAML: {e}") from e
    if not isinstance(d, dict):
        raise ConfigError(f"{p}: a config is a mapping of sections ({', '.join(SECTIONS)}), got {type(d).__name__}")
    return d


class ConfigError(ValueError):
    pass


def _field_map(section: str) -> dict[str, dataclasses.Field]:
    cls = {"data": DataConfig, "model": ModelConfig, "loss": LossConfig, "train": TrainConfig}[section]
    return {f.name: f for f in dataclasses.fields(cls)}


def _resolve_key(key: str) -> tuple[str, str]:
    if "." in key:
        section, name = key.split(".", 1)
        if section not in SECTIONS:
            raise ConfigError(f"unknown config section {section!r} in {key!r}; valid: {', '.join(SECTIONS)}")
        if name not in _field_map(section):
            raise ConfigError(f"unknown key {key!r}; valid {section} keys: {', '.join(_field_map(section))}")
        return section, name
    hits = [s for s in SECTIONS if key in _field_map(s)]
    if not hits:
        every = sorted(f"{s}.{k}" for s in SECTIONS for k in _field_map(s))
        raise ConfigError(f"unknown config key {key!r}; valid keys: {', '.join(every)}")
    if len(hits) > 1:
        raise ConfigError(f"config key {key!r} is ambiguous; write one of: {', '.join(f'{s}.{key}' for s in hits)}")
    return hits[0], key


def _number(value: Any) -> Any:
    """YAML 1.1 reads 1e-3 as a string; accept any numeric string for numeric fields."""
    if isinstance(value, str):
        try:
            f = float(value)
        except ValueError:
            return value
        return int(f) if f.is_integer() and "." not in value and "e" not in value.lower() else f
    return value


def _coerce(value: Any, typ: Any, where: str, key: str) -> Any:
    if typ == "bool | str":                       # a switch with an "auto" position
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            value = value.strip().lower() == "true"
        modes = COMPILE_MODES if key.rsplit(".", 1)[-1] == "compile" else ()
        if isinstance(value, bool) or value == "auto" or value in modes:
            return value
        extra = f" or a torch.compile mode ({', '.join(modes)})" if modes else ""
        raise ConfigError(f"{where}: {key} must be true, false or auto{extra}, got {value!r}")
    if typ == "list | None":                      # a list that may be left unset (chosen later)
        return None if value is None else _coerce(value, "list", where, key)
    origin = typing.get_origin(typ) or typ
    if typ in ("int", int, "float", float):
        value = _number(value)
    if typ in ("int", int) or origin is int:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value:
            raise ConfigError(f"{where}: {key} must be an integer, got {value!r}")
        return int(value)
    if typ in ("float", float) or origin is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: {key} must be a number, got {value!r}")
        return float(value)
    if typ in ("bool", bool) or origin is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: {key} must be true or false, got {value!r}")
        return value
    if typ in ("str", str) or origin is str:
        if isinstance(value, (dict, list)):
            raise ConfigError(f"{where}: {key} must be a string, got {value!r}")
        return "" if value is None else str(value)
    if typ in ("list", list) or origin is list:
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if value is None:
            value = []
        if not isinstance(value, list):
            raise ConfigError(f"{where}: {key} must be a list, got {value!r}")
        return value
    if typ in ("dict", dict) or origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: {key} must be a mapping, got {value!r}")
        return value
    return value


def _set_field(obj: Any, section: str, name: str, value: Any, where: str) -> None:
    fields = _field_map(section)
    if name not in fields:
        raise ConfigError(f"{where}: unknown key {section}.{name}; valid {section} keys: {', '.join(fields)}")
    if section == "model" and name == "extra" and isinstance(value, dict):
        merged = dict(obj.extra)
        merged.update(value)
        value = merged
    value = _coerce(value, fields[name].type, where, f"{section}.{name}")
    if name.endswith("_every") and isinstance(value, int) and value < 0:
        raise ConfigError(f"{where}: {section}.{name} is an interval in steps and must be 0 or more, got {value}")
    setattr(obj, name, value)
