"""Shared helpers of the metrics benchmarks (bench/stacked_mnist.py, bench/conditional_mnist.py, bench/fid.py).

Each benchmark writes its own markdown section to bench/out/<name>.md and then rebuilds
bench/out/metrics.md from every section present, in a fixed order, so the file can be pasted into
docs/benchmarks.md whatever subset was re-run.
"""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
RUNS = OUT / "runs"
SECTIONS = ["stacked_mnist", "conditional_mnist", "fid"]


def setup(threads: int) -> None:
    torch.set_num_threads(threads)
    OUT.mkdir(parents=True, exist_ok=True)
    RUNS.mkdir(parents=True, exist_ok=True)


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{os.cpu_count()} CPU cores ({cpu}), torch {torch.__version__} with {torch.get_num_threads()} "
            f"thread(s); the cores were shared with other jobs while this ran, so wall times are upper bounds")


def table(header: list[str], rows: list[list]) -> str:
    def cell(v):
        if isinstance(v, float):
            return f"{v:.4g}" if abs(v) < 1e4 else f"{v:,.0f}"
        return str(v)

    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows]
    return "\n".join(out)


def write_section(name: str, text: str) -> Path:
    (OUT / f"{name}.md").write_text(text.rstrip() + "\n")
    parts = [(OUT / f"{s}.md").read_text().rstrip() for s in SECTIONS if (OUT / f"{s}.md").exists()]
    path = OUT / "metrics.md"
    path.write_text("# Evaluation benchmarks (mmgan.metrics)\n\n" + "\n\n".join(parts) + "\n")
    return path


def save_json(name: str, obj) -> Path:
    p = OUT / f"{name}.json"
    p.write_text(json.dumps(obj, indent=1, default=str))
    return p


def run_cli(args: list[str]) -> float:
    """Run `mmgan ARGS` in a subprocess (the real command line); returns wall seconds."""
    t0 = time.time()
    subprocess.run([sys.executable, "-m", "mmgan", *args], check=True, cwd=ROOT)
    return time.time() - t0


def train_record(run: Path) -> dict:
    """Steps, images seen and wall time of a finished run, from its checkpoint and log."""
    from mmgan.runs import latest_checkpoint, read_meta
    from mmgan.utils import read_jsonl

    meta = read_meta(latest_checkpoint(run))
    rows = read_jsonl(run / "log.jsonl")
    t = meta["config"]["train"]
    speeds = [r["speed/img_per_s"] for r in rows if "speed/img_per_s" in r]
    secs = rows[-1]["time"] - rows[0]["time"] if len(rows) > 1 else float("nan")
    return {"steps": meta["step"], "batch_size": t["batch_size"], "images_seen": meta["step"] * t["batch_size"],
            "train_seconds": secs, "img_per_s": (sum(speeds[1:]) / max(1, len(speeds) - 1)) if len(speeds) > 1 else float("nan")}
