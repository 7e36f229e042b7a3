"""train(): resolve every option into one Config, print it, save it in a numbered run folder, train."""
from __future__ import annotations

import sys
import time
from dataclasses import replace
from pathlib import Path

from ..config import Config, ConfigError
from ..data import MemoryDataset, list_datasets, load_dataset
from ..modalities import family_target
from ..model_options import check_extra, describe
from ..runs import latest_checkpoint, next_run_dir, read_meta
from .. import distributed
from ..training import Trainer
from ..training.budget import Budget
from ..training.conditioner import with_spoken_captions
from ..training.recipes import choose
from ..training.setup import resolve

PROBE_N = 16            # items of a built-in dataset loaded to see its columns and image size
TASKS = {"generate": None, "upscale": "srresnet", "restore": "restorer"}   # --task -> its default family
TASK_FAMILIES = {"upscale": ("srresnet", "esrgan"), "restore": ("restorer",)}


def load_config(config: str | None = None, overrides: list[str] | None = None) -> Config:
    cfg = Config.load(config) if config else Config()
    return cfg.override(overrides or [])


def train(data: str | None = None, config: str | Path | None = None, overrides: list[str] | None = None,
          out: str | Path | None = None, steps: int | None = None, minutes: float | None = None,
          resume: bool = False, dry_run: bool = False, skip_bad: bool = False, log=print, cfg: Config | None = None,
          target: str | None = None, task: str | None = None, scale: int | None = None,
          degrade: str | None = None):
    """The library call behind `mmgan train`. Returns a TrainResult, or None for a dry run. A time budget
    (minutes, or train.minutes) bounds the whole call, data loading included (training.budget).
    target: the column the model generates (data.target; default: the image, else the vector).
    task: "generate" (the default: a GAN that draws samples) or "upscale" (super-resolution: model.family
    srresnet unless srresnet/esrgan is given, unconditional; the LR inputs are made from the data on the
    fly) or "restore" (inpainting, denoising, JPEG artefact removal: model.family restorer, the damaged
    inputs made on the fly); scale: the upscaling factor (model.extra.scale); degrade: what the inputs
    suffer, model.extra.degrade (upscale: bicubic, blur, noise, jpeg, second-order; restore: noise, jpeg,
    mask; a comma list)."""
    t0 = time.time()
    saved_extra = None
    if resume:
        if not out:
            raise ConfigError("--resume needs --out RUN: the run folder to continue")
        last = latest_checkpoint(out)
        if last is None:
            raise FileNotFoundError(f"--resume: no checkpoint found in {out}/checkpoints")
        cfg = Config.from_dict(read_meta(last)["config"], where=f"{last}/meta.json")
        saved_extra = dict(cfg.model.extra)     # what the run trained with: let through as it was
        if overrides or config:
            cfg = (Config.load(config) if config else cfg).override(overrides or [])
    else:
        cfg = cfg or load_config(str(config) if config else None, overrides)
    given = [f"data.name={data}"] if data else []
    given += [f"train.steps={int(steps)}"] if steps is not None else []
    given += [f"train.minutes={float(minutes)}"] if minutes is not None else []
    given += ["data.skip_bad=true"] if skip_bad else []
    given += [f"data.target={target}"] if target else []
    given += _task_settings(cfg, task, scale, degrade) if not resume else []
    cfg.override(given)                         # flags count as given: a recipe does not overwrite them
    if not cfg.data.name:
        raise ConfigError("no data: pass --data NAME|FOLDER|MANIFEST or set data.name in the config")
    named = bool(cfg.model.family)
    if named:                                   # before loading any data
        warnings = check_extra(cfg.model.family, cfg.model.extra, saved_extra)
    distributed.init()
    ds, chosen = (None, []) if resume else _choose(cfg)
    if not named:
        warnings = check_extra(cfg.model.family, cfg.model.extra, saved_extra)
    if distributed.rank() == 0:
        for w in warnings:
            log(f"warning (kept from the saved run): {w}")
    with distributed.rank_zero_first():       # under torchrun rank 0 fills the caches (spoken captions) first
        ds = _dataset(cfg, log if distributed.rank() == 0 else lambda m: None, ds)
    resolve(cfg, ds, saved_extra)
    if out:
        run_dir = Path(out)
    else:
        tag = f"{Path(cfg.data.name).stem or cfg.data.name}-{cfg.model.family}"
        run_dir = next_run_dir(cfg.train.out, tag)
    if not resume and latest_checkpoint(run_dir) is not None:
        raise ConfigError(f"{run_dir} already holds a run; pass --resume to continue it or choose another --out")
    text = cfg.to_yaml()
    budget = Budget.plan(cfg, run_dir, start=t0)
    if distributed.rank() == 0:
        log(f"run folder: {run_dir}\ndata: {ds}\n" + "".join(f"{line}\n" for line in chosen) + f"resolved config:\n{text}")
        log(budget.describe())
        run_dir.mkdir(parents=True, exist_ok=True)
        cfg.save(run_dir / ("config.dry-run.yaml" if dry_run else "config.yaml"), comments=chosen)
    if dry_run:
        if distributed.rank() == 0:
            log(describe(cfg.model.family, cfg.model.extra))
        log("dry run: stopping before training")
        return None
    trainer = Trainer(cfg, run_dir, ds, log=lambda m: print(m, file=sys.stderr) if distributed.rank() == 0 else None,
                      budget=budget)
    return trainer.fit(resume=resume)


def _task_settings(cfg: Config, task: str | None, scale: int | None, degrade: str | None = None) -> list[str]:
    """The --task/--scale/--degrade flags as config assignments (the saved config then says what was trained)."""
    task = (task or "generate").strip().lower()
    if task not in TASKS:
        raise ConfigError(f"unknown --task {task!r}; valid: {', '.join(TASKS)}")
    if scale is not None and task != "upscale":
        raise ConfigError("--scale belongs to --task upscale")
    if task == "generate":
        if degrade is not None:
            raise ConfigError("--degrade belongs to --task upscale or --task restore")
        return []
    fams = TASK_FAMILIES[task]
    if cfg.model.family and cfg.model.family not in fams:
        raise ConfigError(f"--task {task} trains {' or '.join(fams)}; model.family={cfg.model.family} was given")
    out = [] if cfg.model.family else [f"model.family={TASKS[task]}"]
    out += [] if cfg.model.condition is not None else ["model.condition=[]"]
    out += [f"model.extra.scale={int(scale)}"] if scale is not None else []
    out += [f"model.extra.degrade={','.join(k.strip() for k in degrade.split(',') if k.strip())}"] if degrade else []
    return out


def calibrate(run: str | Path, steps: int = 1000, data: str | None = None, skip_bad: bool = False,
              quantile: float | None = None, log=print) -> Path:
    """The library call behind `mmgan calibrate`: fit a rejection-sampling critic to the run's latest
    checkpoint on the data it was trained on (or `data`), saved beside it (mmgan.sampling.drs).
    Nothing in the checkpoint is changed; only critic.safetensors / critic.json are (re)written."""
    last = latest_checkpoint(run)
    if last is None:
        raise FileNotFoundError(f"{run}: no checkpoint to calibrate (checkpoints/step-*/meta.json)")
    cfg = Config.from_dict(read_meta(last)["config"], where=f"{last}/meta.json")
    saved_extra = dict(cfg.model.extra)         # the run trained with it: problems are warnings here
    for w in check_extra(cfg.model.family, cfg.model.extra, saved_extra):
        log(f"warning (kept from the saved run): {w}")
    if data:
        cfg.data.name = str(data)
    cfg.data.skip_bad = cfg.data.skip_bad or skip_bad
    cfg.train.drs_steps = int(steps)
    if quantile is not None:
        if not 0.5 <= quantile <= 1.0:
            raise ValueError(f"--quantile must lie in [0.5, 1], got {quantile}")
        cfg.train.drs_quantile = float(quantile)
    resolve(cfg, ds := _dataset(cfg, log), saved_extra)
    trainer = Trainer(cfg, Path(run), ds, log=log)
    trainer.restore(last)
    return trainer.fit_critic(last, int(steps))


def _choose(cfg: Config) -> tuple[MemoryDataset | None, list[str]]:
    """Data-aware defaults (mmgan.training.recipes): look at the data, fill in what the user left unset.
    Returns the data when it can be trained on as loaded (a user's data the choice did not change)
    and the lines saying what was chosen and why."""
    builtin = cfg.data.name.strip().lower() in list_datasets()
    before = replace(cfg.data)
    n = min(cfg.data.n or PROBE_N, PROBE_N) if builtin else cfg.data.n    # built-ins: a few items say it all
    probe = _load(cfg, n, lambda m: None)
    chosen = choose(cfg, probe.info)
    return (None if builtin or cfg.data != before else probe), chosen


def _load(cfg: Config, n: int, log) -> MemoryDataset:
    """The data with its target set (data.target, else the column the given family makes, else the data's
    default); captions are spoken first (espeak-ng, cached) when the run needs speech
    the data lacks: conditioned on it, or generating it (text -> speech on captioned data)."""
    ds = load_dataset(cfg.data.name, split=cfg.data.split, resolution=cfg.data.resolution, n=n,
                      seed=cfg.data.seed, skip_bad=cfg.data.skip_bad)
    if not cfg.data.target and cfg.model.family:
        cfg.data.target = family_target(cfg.model.family, ds.columns)     # a recognizer makes the text column
    if "audio" in ((cfg.model.condition or []) + [cfg.data.target]) and not ds.has("audio") and ds.has("text"):
        ds = with_spoken_captions(ds, seed=cfg.data.seed, log=log)
    return ds.with_target(cfg.data.target)


def _dataset(cfg: Config, log, loaded: MemoryDataset | None = None):
    ds = loaded or _load(cfg, cfg.data.n, log)
    if ds.info.skipped:
        log(f"skipped {ds.info.skipped} bad rows (--skip-bad); training on {len(ds)} items")
    return ds
