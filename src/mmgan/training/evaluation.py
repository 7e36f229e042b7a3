"""Metrics during training: called by the trainer every `train.eval_every` steps when
`train.eval_metrics` is set (e.g. [fid2k, pr2k]).

Each call evaluates the EMA generator, appends one JSON line per metric to RUN/metrics.jsonl (with the
step), and keeps the best snapshot: when the first metric improves, the EMA generator is exported with
Pipeline.save_pretrained into RUN/best/ (written beside and renamed into place) and trainer.best
records {metric, value, step, path}; trainer.best travels in checkpoints, so a resumed run keeps it.

The feature network, the reference features and the latents are built once per run and reused, so
numbers at different steps are comparable; the trainer's random state is left untouched.
"""
from __future__ import annotations

import os
import shutil
import time
from dataclasses import asdict
from pathlib import Path

import torch

from ..utils import append_jsonl, atomic_write_json
from ..metrics.base import higher_is_better
from ..metrics.context import EvalContext
from ..metrics.evaluate import compute_metrics
from ..pipeline import Pipeline
from ..runs import pipeline_config


def _pipeline(trainer):
    """The trainer's EMA generator as a Pipeline (what RunLogger.pipeline builds for sample grids)."""

    meta = trainer.meta() | {"step": trainer.step}
    return Pipeline(trainer.G_ema, trainer.conditioner, pipeline_config(meta), trainer.device, compile=False)


def _context(trainer) -> EvalContext:
    ctx = getattr(trainer, "_eval_context", None)
    if ctx is None:
        ctx = EvalContext(_pipeline(trainer), asdict(trainer.cfg.data), train_ds=trainer.ds, run_dir=trainer.run_dir,
                          progress=False, log=trainer.log, batch_size=256)
        if not trainer.cfg.data.name:
            ctx._test_tried = True                 # an in-memory dataset: no test split to load
        trainer._eval_context = ctx
    return ctx


def evaluate_during_training(trainer, step: int) -> dict:
    """Compute train.eval_metrics now; returns {metric: headline value}."""
    names = list(trainer.cfg.train.eval_metrics or [])
    if not names:
        return {}
    ctx = _context(trainer)
    was = {m: m.training for m in (trainer.conditioner, trainer.G_ema)}
    ctx.pipe = _pipeline(trainer)                              # fresh config (step) around the live EMA weights
    ctx._fake.clear()                                          # the generator changed; reals stay cached
    t0 = time.time()
    try:
        with torch.random.fork_rng(devices=[trainer.device] if trainer.device.type == "cuda" else []):
            ev = compute_metrics(ctx, names, verbose=False)
    finally:
        for m, flag in was.items():
            m.train(flag)
    run_dir = Path(trainer.run_dir)
    for r in ev.results:
        append_jsonl(run_dir / "metrics.jsonl", r.to_json(step=step, source="training"))
    summary = {r.name: r.value for r in ev.results}
    if ev.results:
        _keep_best(trainer, ctx, ev.results[0], step)
        trainer.log(f"step {step}: " + ", ".join(f"{k} {v:.4g}" for k, v in summary.items())
                    + f" ({time.time() - t0:.0f}s)" + (f"; best {trainer.best['metric']} {trainer.best['value']:.4g} "
                                                       f"at step {trainer.best['step']}" if trainer.best else ""))
    return summary


def _keep_best(trainer, ctx: EvalContext, res, step: int) -> None:
    best = trainer.best or {}
    up = higher_is_better(res.name)
    value = res.value
    if value != value:                                         # nan never wins
        return
    if best.get("metric") == res.name and best.get("value") is not None:
        old = float(best["value"])
        if (value <= old) if up else (value >= old):
            return
    out = Path(trainer.run_dir) / "best"
    tmp = out.parent / f".tmp-best-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    ctx.pipe.save_pretrained(tmp)
    atomic_write_json(tmp / "metrics.json", {"step": step, "metric": res.name, "value": value, "results": res.values,
                                             "protocol": res.protocol})
    old_dir = out.parent / f".old-best-{os.getpid()}"
    if out.exists():
        os.replace(out, old_dir)
    os.replace(tmp, out)
    shutil.rmtree(old_dir, ignore_errors=True)
    trainer.best = {"metric": res.name, "value": value, "step": step, "path": str(out),
                    "higher_is_better": up}
