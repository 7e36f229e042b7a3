"""evaluate(): the library call behind `mmgan eval`.

    from mmgan.metrics import evaluate
    results = evaluate("runs/00003-mnist-dcgan", metrics=["fid10k", "pr10k", "cond_acc"])

Loads the pipeline (a run's latest checkpoint, a checkpoint folder or an exported pipeline), takes the
reference data from the run's saved config (meta["config"]["data"]; built-ins, users' folders and
manifests alike), computes each metric, appends one JSON line per metric to RUN/metrics.jsonl and
writes RUN/report.html.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from ..pipeline import Pipeline
from ..runs import resolve
from ..utils import append_jsonl
from ..registry import get, names, register
from .base import MetricNotApplicable, MetricResult, check_target, resolve_metric
from .context import EvalContext
from .features import FeatureNetwork, Recipe
from .sound_features import is_spoken_digits, not_spoken_digits
from ..data import list_datasets
from .report import write_report


@dataclass
class Evaluation:
    results: list[MetricResult] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)        # metric -> why
    run_dir: Path | None = None
    checkpoint: str | None = None
    step: int | None = None
    report: Path | None = None
    metrics_file: Path | None = None

    def table(self) -> str:
        rows = [f"{'metric':<14} {'value':>10}  details"]
        for r in self.results:
            others = ", ".join(f"{k} {_fmt(v)}" for k, v in r.values.items() if k != r.primary)
            rows.append(f"{r.name:<14} {_fmt(r.value):>10}  {r.primary}{'; ' + others if others else ''} "
                        f"[{r.seconds:.1f}s]")
        for k, why in self.skipped.items():
            rows.append(f"{k:<14} {'skipped':>10}  {why}")
        return "\n".join(rows)

    def __getitem__(self, name: str) -> MetricResult:
        for r in self.results:
            if r.name == name:
                return r
        raise KeyError(name)


def _fmt(v: float) -> str:
    if v != v:
        return "nan"
    return f"{v:.4g}" if abs(v) < 1e5 else f"{v:.3e}"


def default_metrics(ctx: EvalContext) -> list[str]:
    """Sensible metrics for the model's target and conditioning: the list registered under kind
    "default_metrics" by the target's name (image, vector, ...)."""
    if ctx.target not in names("default_metrics"):
        raise ValueError(f"no default metrics for {ctx.target} models (defaults exist for "
                         f"{', '.join(names('default_metrics'))}); name the metrics to compute")
    return get("default_metrics", ctx.target)(ctx)


@register("default_metrics", "vector")
def vector_metrics(ctx: EvalContext) -> list[str]:
    out = ["modes"] if "means" in (ctx.info.get("extra") or {}) else []
    out += ["fid2.5k", "pr2.5k", "dc2.5k"]
    if ctx.label_conditioned and out[0] == "modes":
        out.append("cond_acc")
    return out


@register("default_metrics", "image")
def image_metrics(ctx: EvalContext) -> list[str]:
    if ctx.name == "stacked-mnist":
        return ["modes", "fid10k", "kid10k", "pr10k", "dc10k"] + (["cond_acc"] if ctx.label_conditioned else [])
    out = ["fid10k", "kid10k", "pr10k", "dc10k"]
    mods = ctx.modalities
    if mods == ["label"]:
        out += ["is10k", "cond_acc", "intra_fid"] + (["diversity_ratio"] if ctx.num_classes <= 100 else [])
    elif mods:
        out += ["diversity_ratio"] + (["rprec"] if set(mods) & {"text", "audio"} else [])
    else:
        out += ["is10k", "modes", "diversity_ratio"]
    return out


@register("default_metrics", "audio")
def audio_metrics(ctx: EvalContext) -> list[str]:
    """The SC09 protocol's scores that the registry computes (bench/sc09.py has them all, with pocketsphinx):
    IS (and its ratio to the real test clips'), FID in the judge's features, label accuracy; 2,048 clips."""
    if not is_spoken_digits(ctx.train):
        raise ValueError(f"no default metrics for this audio model: {not_spoken_digits(ctx.train)}")
    return ["is2048", "fid2048"] + (["cond_acc2048"] if ctx.label_conditioned else [])


def compute_metrics(ctx: EvalContext, metrics: Sequence[str] | None = None, samples: int | None = None,
                    strict: bool = False, on_result: Callable[[MetricResult], None] | None = None,
                    verbose: bool = True) -> Evaluation:
    """Compute metrics on an EvalContext. Metrics that do not fit the model are skipped with the reason
    (strict=True raises instead)."""
    ev = Evaluation()
    wanted = list(metrics) if metrics else default_metrics(ctx)
    resolved = [resolve_metric(m, samples) for m in wanted]        # unknown names fail before any work
    for base, fn, num, name in resolved:
        t0 = time.time()
        try:
            check_target(base, ctx.target)
            res = fn(ctx, num)
        except MetricNotApplicable as e:
            if strict:
                raise
            ev.skipped[name] = str(e)
            ctx.log(f"skipped {name}: {e}")
            continue
        res.name, res.seconds = name, time.time() - t0
        ev.results.append(res)
        if verbose:
            ctx.log(f"{name}: {res.primary} {_fmt(res.value)} ({res.seconds:.1f}s)")
        if on_result:
            on_result(res)
    return ev


def _findable(spec: str) -> bool:

    return bool(spec) and (spec.lower() in list_datasets() or Path(spec).expanduser().exists())


def locate_run(path: str | Path) -> tuple[Path, Path | None, dict | None]:
    """(folder for metrics.jsonl and report.html, checkpoint folder or None, checkpoint meta or None)."""
    ref = resolve(path)
    return ref.run_dir or ref.path, ref.checkpoint, ref.meta


def evaluate(run: str | Path, metrics: Sequence[str] | None = None, samples: int | None = None,
             features: str | Path | FeatureNetwork | None = None, data: str | dict | None = None, seed: int = 0,
             device: str = "auto", batch_size: int = 256, progress: bool = True, report: bool = True,
             strict: bool = False, recipe: Recipe | None = None, log: Callable[[str], None] = print,
             embedder=None, weights: str = "G_ema", drs: bool = False) -> Evaluation:
    """Evaluate a run, checkpoint or exported pipeline; append to RUN/metrics.jsonl; write RUN/report.html."""
    run_dir, ckpt, meta = locate_run(run)
    pipe = Pipeline.from_pretrained(ckpt or run_dir, device=device, weights=weights)
    spec = dict((meta or {}).get("config", {}).get("data", {}))
    if not spec:
        spec = {"name": pipe.config.get("data", {}).get("name", "")}
    if isinstance(data, dict):
        spec.update(data)
    elif data:
        spec = {"name": str(data)}
    elif meta and not _findable(spec.get("name", "")) and meta.get("data", {}).get("root"):
        spec["name"] = meta["data"]["root"]             # a user's folder/manifest named relative to another cwd
    ctx = EvalContext(pipe, spec, features=features, run_dir=run_dir, seed=seed, batch_size=batch_size,
                      progress=progress, log=log, recipe=recipe, drs=drs)
    ctx.embedder = embedder
    step = int(meta["step"]) if meta else int(pipe.config.get("step", 0))
    out = run_dir / "metrics.jsonl"

    def write(res: MetricResult) -> None:
        append_jsonl(out, res.to_json(step=step, checkpoint=str(ckpt or run_dir), source="eval",
                                      weights=weights if ckpt else "exported",
                                      sampler="rejection (drs)" if drs else "G(z)"))

    ev = compute_metrics(ctx, metrics, samples, strict=strict, on_result=write)
    ev.run_dir, ev.checkpoint, ev.step, ev.metrics_file = run_dir, str(ckpt or run_dir), step, out
    if report:

        ev.report = write_report(run_dir, ctx, ev)
    return ev
