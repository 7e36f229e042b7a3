"""`mmgan eval RUN [--metrics fid10k,pr10k,...] [--samples N]`: a thin wrapper over metrics.evaluate."""
from __future__ import annotations

from .commands import COMMANDS
from .options import add_device, add_seed
from ..metrics.base import describe_metrics
from ..metrics.evaluate import evaluate


def _add_eval(sub):
    listing = "; ".join(f"{n} ({d:,} samples)" if d else n for n, d, _ in describe_metrics())
    p = sub.add_parser(
        "eval", help="evaluate a run: FID, KID, precision/recall, modes, CAS, ... -> metrics.jsonl + report.html",
        description="Evaluate a run folder, a checkpoint folder or an exported pipeline. Results are appended "
                    "as JSON lines to RUN/metrics.jsonl and RUN/report.html is rewritten. A metric name may carry "
                    f"its sample count (fid10k, pr2k, kid500). Metrics: {listing}.")
    p.add_argument("run", help="run folder, checkpoint folder or exported pipeline")
    p.add_argument("--metrics", default="", help="comma-separated metric names (default: sensible ones for the data)")
    p.add_argument("--samples", type=int, default=0, help="generated samples for every metric (replaces the counts "
                   "in the names)")
    p.add_argument("--features", help="feature network to use instead of the dataset's own: a folder written by "
                   "mmgan (config.json + model.safetensors), a TorchScript file, or an Inception-v3 state dict")
    p.add_argument("--data", help="reference data (built-in name, folder or manifest) instead of the run's own")
    add_seed(p, "seed of the latents and drawn conditions (default 0)")
    p.add_argument("--weights", default="G_ema", choices=["G_ema", "G"], help="generator weights of a checkpoint: "
                   "the EMA copy (default) or the raw one")
    add_device(p)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--no-report", action="store_true", help="do not write report.html")
    p.add_argument("--strict", action="store_true", help="fail on metrics that do not fit the model instead of skipping")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--drs", action="store_true", help="draw the samples by the run's rejection sampler (a critic "
                   "from `mmgan calibrate` or train.drs_steps); default: plain G(z) from seeded latents")


def _run_eval(args) -> int:
    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()] or None
    ev = evaluate(args.run, metrics=metrics, samples=args.samples or None, features=args.features, data=args.data,
                  seed=args.seed, device=args.device, batch_size=args.batch_size, progress=not args.quiet,
                  report=not args.no_report, strict=args.strict, weights=args.weights, drs=args.drs)
    print(ev.table())
    print(f"appended to {ev.metrics_file}" + (f"; report: {ev.report}" if ev.report else ""))
    return 0


COMMANDS["eval"] = (_add_eval, _run_eval)
