"""One wall-clock budget for the whole `mmgan train` command (train.minutes), split between its stages.

    data loading -> joint space -> features + fusion -> GAN -> finish (final checkpoint, samples, critic)

The clock starts when the command starts, so data loading counts. What is left after it is split:
the joint space 25% (at most model.extra.joint_minutes), feature extraction and the fusion fit 10%, the
finish a small reserve, the GAN the rest. A stage that ends early (a step cap, a joint space that is
reused) leaves its time to the GAN, whose deadline is the command's deadline less the finish reserve.

    budget = Budget.plan(cfg, run_dir, start=t0)      # print(budget.describe())
    budget.begin("joint"); opts.minutes = budget.minutes_for("joint")
    deadline = budget.deadline("gan")

Without a time budget (train.minutes = 0) the stages keep their own caps: joint_minutes for the joint
space, a minute for the fusion, train.steps for the GAN.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..config import Config

SHARES = {"joint": 0.25, "features": 0.10}      # of the time left after data loading; the GAN gets the rest
FINISH_SHARE, FINISH_MIN_S, FINISH_MAX_S = 0.03, 5.0, 60.0     # final checkpoint, sample grid, loss curves
FINISH_SHARE_DRS = 0.10                         # ... and a rejection-sampling critic (train.drs_steps)
FUSION_MINUTES = 1.0                            # the fusion fit's cap without a time budget
STAGES = {"data": "data loading", "joint": "joint space", "features": "features + fusion", "gan": "GAN",
          "finish": "finish"}
MIN_STAGE_S = 0.5                               # a stage squeezed to nothing still gets a moment


def needs_conditioner_fit(cfg: Config) -> bool:
    """Text, audio or image conditions bring a joint space and a fusion (training.conditioner)."""
    return not set(cfg.model.condition) <= {"label"}


def trains_joint(cfg: Config, run_dir: str | Path) -> bool:
    """Whether this run trains its joint space (none given in model.extra.joint, none saved in RUN/joint)."""
    return needs_conditioner_fit(cfg) and not cfg.model.extra.get("joint") \
        and not (Path(run_dir) / "joint" / "config.json").exists()


@dataclass
class Budget:
    minutes: float = 0.0                           # the whole command (0 = no time budget)
    start: float = field(default_factory=time.time)
    planned: dict[str, float] = field(default_factory=dict)    # stage -> seconds (gan: the rest)
    joint_cap_s: float = 0.0                       # model.extra.joint_minutes in seconds (0 = none)
    began: dict[str, float] = field(default_factory=dict)

    @classmethod
    def plan(cls, cfg: Config, run_dir: str | Path, start: float | None = None, now: float | None = None) -> "Budget":
        """Split cfg.train.minutes between the stages this run has; `start` is when the command began."""
        start = time.time() if start is None else start
        now = time.time() if now is None else now
        joint_min = float(cfg.model.extra.get("joint_minutes", 3.0) or 0.0)
        b = cls(minutes=float(cfg.train.minutes or 0.0), start=start, joint_cap_s=max(0.0, joint_min) * 60)
        if b.minutes <= 0:
            return b
        total = b.minutes * 60
        b.planned["data"] = min(total, max(0.0, now - start))
        left = total - b.planned["data"]
        if trains_joint(cfg, run_dir):
            b.planned["joint"] = SHARES["joint"] * left
            if b.joint_cap_s > 0:
                b.planned["joint"] = min(b.planned["joint"], b.joint_cap_s)
        if needs_conditioner_fit(cfg):
            b.planned["features"] = SHARES["features"] * left
        drs = cfg.train.drs_steps > 0
        finish = max((FINISH_SHARE_DRS if drs else FINISH_SHARE) * left, min(FINISH_MIN_S, 0.2 * left))
        b.planned["finish"] = finish if drs else min(finish, FINISH_MAX_S)
        b.planned["gan"] = max(0.0, left - sum(v for k, v in b.planned.items() if k != "data"))
        return b

    @property
    def timed(self) -> bool:
        return self.minutes > 0

    @property
    def end(self) -> float:
        """When the whole command must be done (inf without a time budget)."""
        return self.start + self.minutes * 60 if self.timed else math.inf

    def begin(self, stage: str) -> None:
        self.began[stage] = time.time()

    def deadline(self, stage: str) -> float:
        """The time.time() at which `stage` must stop: its planned share from when it began, never past the
        command's end less the finish reserve; the GAN runs to that point."""
        if not self.timed:
            if stage == "joint" and self.joint_cap_s > 0:
                return self.began.get(stage, time.time()) + self.joint_cap_s
            if stage == "features":
                return self.began.get(stage, time.time()) + FUSION_MINUTES * 60
            return math.inf
        hard = self.end - (self.planned.get("finish", 0.0) if stage != "finish" else 0.0)
        if stage in ("gan", "finish"):
            return hard
        return min(self.began.get(stage, time.time()) + self.planned.get(stage, 0.0), hard)

    def seconds_for(self, stage: str) -> float:
        """Seconds `stage` may still run (inf: no limit); at least MIN_STAGE_S when limited."""
        d = self.deadline(stage)
        return math.inf if math.isinf(d) else max(MIN_STAGE_S, d - time.time())

    def minutes_for(self, stage: str) -> float:
        """seconds_for in minutes, as JointOptions.minutes and fit_fusion take it (0 = no limit)."""
        s = self.seconds_for(stage)
        return 0.0 if math.isinf(s) else s / 60

    def describe(self) -> str:
        """One line: the budget and its split, e.g. for the start of a run and for --dry-run."""
        if not self.timed:
            return "time budget: none (train.minutes=0; train.steps ends the run)"
        total = self.minutes * 60
        parts = [f"{name} {_fmt(self.planned[k])} ({100 * self.planned[k] / total:.0f}%)"
                 for k, name in STAGES.items() if k in self.planned and (k != "data" or self.planned[k] >= 1)]
        return f"time budget {self.minutes:g} min for the whole command: " + ", ".join(parts)


def _fmt(seconds: float) -> str:
    return f"{seconds:.0f}s" if seconds < 120 else f"{seconds / 60:.1f} min"
