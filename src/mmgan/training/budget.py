"""One wall-clock budget for the whole `mmgan train` command (train.minutes), split between its stages.

    data loading -> joint space -> features + fusion -> speaker encoder -> GAN -> finish (final checkpoint,
    samples, critic)

The clock starts when the command starts, so data loading counts. What is left after it is split:
the joint space 25% (model.extra.joint_share; at most model.extra.joint_minutes), feature extraction
and the fusion fit 10%, a voice condition's speaker encoder 10% (at most model.extra.voice_minutes), the
finish a small reserve, the GAN the rest. A stage that ends early (a step cap, a joint space that is
reused) leaves its time to the GAN, whose deadline is the command's deadline less the finish reserve.
One-time preparation that cannot be cut short (speech synthesis, features computed for the first time;
both cached) can overrun the budget: then each training stage still gets a small floor (FLOORS), and
the summary at the end says where the time went.

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

from ..conditioning.source import reads
from ..config import Config, ConfigError
from ..model_options import SharedOptions

SHARES = {"features": 0.10, "voice": 0.10}     # of the time left after data loading; the GAN the rest
MAX_JOINT_SHARE = 0.6                           # the joint space's share is model.extra.joint_share (25%), up to this
FINISH_SHARE, FINISH_MIN_S, FINISH_MAX_S = 0.03, 5.0, 60.0     # final checkpoint, sample grid, loss curves
FINISH_SHARE_DRS = 0.10                         # ... and a rejection-sampling critic (train.drs_steps)
FUSION_MINUTES = 1.0                            # the fusion fit's cap without a time budget
STAGES = {"data": "data loading", "joint": "joint space", "features": "features + fusion",
          "voice": "speaker encoder", "gan": "GAN", "finish": "finish"}
MIN_STAGE_S = 0.5                               # a stage squeezed to nothing still gets a moment
# The least share of the budget a training stage gets when what came before it overran (speech synthesis or
# features computed for the first time, which cannot be cut short): the run goes over its budget by that
# much rather than keep an untrained joint space or GAN, and says so.
FLOORS = {"joint": 0.05, "features": 0.02, "voice": 0.03, "gan": 0.10}


def needs_conditioner_fit(cfg: Config) -> bool:
    """Text, audio or image conditions bring a joint space and a fusion (training.conditioner), unless the
    family reads its source raw (conditioning.source)."""
    return not set(cfg.model.condition) - {"voice"} <= {"label"} and not reads(cfg.model.family)


def trains_voice(cfg: Config, run_dir: str | Path) -> bool:
    """Whether this run trains a speaker encoder (a voice condition, none given in model.extra.voice_encoder,
    none saved in RUN/voice)."""
    return "voice" in cfg.model.condition and not cfg.model.extra.get("voice_encoder") \
        and not (Path(run_dir) / "voice" / "config.json").exists()


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
    voice_cap_s: float = 0.0                       # model.extra.voice_minutes in seconds (0 = none)
    began: dict[str, float] = field(default_factory=dict)

    @classmethod
    def plan(cls, cfg: Config, run_dir: str | Path, start: float | None = None, now: float | None = None) -> "Budget":
        """Split cfg.train.minutes between the stages this run has; `start` is when the command began."""
        start = time.time() if start is None else start
        now = time.time() if now is None else now
        joint_min = float(cfg.model.extra.get("joint_minutes", 3.0) or 0.0)
        voice_min = float(cfg.model.extra.get("voice_minutes", 1.5) or 0.0)
        b = cls(minutes=float(cfg.train.minutes or 0.0), start=start, joint_cap_s=max(0.0, joint_min) * 60,
                voice_cap_s=max(0.0, voice_min) * 60)
        if b.minutes <= 0:
            return b
        total = b.minutes * 60
        b.planned["data"] = min(total, max(0.0, now - start))
        left = total - b.planned["data"]
        if trains_joint(cfg, run_dir):
            share = float(SharedOptions.value(cfg.model.extra, "joint_share"))
            if not 0.0 < share <= MAX_JOINT_SHARE:
                raise ConfigError(f"model.extra.joint_share must be in (0, {MAX_JOINT_SHARE}] (a share of "
                                  f"train.minutes; the GAN needs the rest), got {share}")
            b.planned["joint"] = share * left
            if b.joint_cap_s > 0:
                b.planned["joint"] = min(b.planned["joint"], b.joint_cap_s)
        if needs_conditioner_fit(cfg):
            b.planned["features"] = SHARES["features"] * left
        if trains_voice(cfg, run_dir):
            b.planned["voice"] = SHARES["voice"] * left
            if b.voice_cap_s > 0:
                b.planned["voice"] = min(b.planned["voice"], b.voice_cap_s)
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
        """The time.time() at which `stage` must stop, asked when its training starts: its planned share
        from when it began, never past the command's end less the finish reserve (the GAN runs to that
        point), and never less than its floor from now."""
        now = time.time()
        if not self.timed:
            if stage == "joint" and self.joint_cap_s > 0:
                return self.began.get(stage, now) + self.joint_cap_s
            if stage == "voice" and self.voice_cap_s > 0:
                return self.began.get(stage, now) + self.voice_cap_s
            if stage == "features":          # asked when the fusion fit starts: its own minute, after the features
                return now + FUSION_MINUTES * 60
            return math.inf
        hard = self.end - (self.planned.get("finish", 0.0) if stage != "finish" else 0.0)
        d = hard if stage in ("gan", "finish") else min(self.began.get(stage, now) + self.planned.get(stage, 0.0), hard)
        return max(d, now + FLOORS.get(stage, 0.0) * self.minutes * 60)

    def spent(self, now: float | None = None) -> dict[str, float]:
        """Seconds each stage took so far, in order (data loading until the first stage began)."""
        now = time.time() if now is None else now
        marks = sorted(self.began.items(), key=lambda kv: kv[1])
        out, prev, name = {}, self.start, "data"
        for stage, t in marks:
            out[name] = t - prev
            prev, name = t, stage
        out[name] = now - prev
        return out

    def summary(self, now: float | None = None) -> str:
        """Where the time went, e.g. at the end of a run: 'took 3.1 min of a 3 min budget: ...'."""
        now = time.time() if now is None else now
        used, spent = now - self.start, self.spent(now)
        parts = ", ".join(f"{STAGES[k]} {_fmt(v)}" for k, v in spent.items())
        head = f"took {_fmt(used)}" + (f" of a {self.minutes:g} min budget" if self.timed else "")
        if self.timed and used > self.minutes * 60 + 1:
            late = [f"{STAGES[k]} {_fmt(v)} for its {_fmt(self.planned.get(k, 0.0))}" for k, v in spent.items()
                    if v > self.planned.get(k, 0.0) + 1]
            head += (f" ({_fmt(used - self.minutes * 60)} over: {', '.join(late)}; what cannot be cut short ran past "
                     f"its share: speech synthesis and features computed the first time (cached for the next run), "
                     f"a training step, the final files)")
        return f"{head}: {parts}"

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
