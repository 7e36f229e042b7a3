"""What every metric shares: names with sample counts, the result record, and the registry wrapper.

A metric is a function registered under kind "metric" by its base name:

    @register("metric", "fid")
    def fid(ctx: EvalContext, num: int) -> MetricResult: ...

and is asked for by a name that may carry its generated-sample count the way StyleGAN names them:
`fid10k` = FID on 10,000 generated samples, `pr2k`, `kid1.5k`, `fid500`; a bare name (`cas`) uses
the metric's own default count. Every result states its protocol (sample counts, reference split,
feature network) next to its numbers, and is written as one JSON line.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from ..registry import UnknownNameError, get, names, register

# name -> (default generated samples, higher is better for the headline number, one-line description,
#          whether a bare name is shown with its count: "fid" -> "fid10k")
DEFAULTS: dict[str, tuple[int, bool, str, bool]] = {}
TARGETS: dict[str, tuple[str, ...]] = {}        # name -> the targets it measures (absent: every target)

# old names that still resolve (not listed): the metric was called "diversity" before it was named
# after its headline value
ALIASES: dict[str, str] = {"diversity": "diversity_ratio"}

_NAME = re.compile(r"^(?P<base>[a-z_]+?)(?P<num>\d+(?:\.\d+)?)(?P<k>k?)$")


class MetricNotApplicable(ValueError):
    """The metric does not fit this model or data (e.g. cond_acc on an unconditional model)."""


@dataclass
class MetricResult:
    name: str                                  # as asked for, with the count: "fid10k"
    values: dict[str, float]                   # {"fid": 12.3} or {"precision": .7, "recall": .6}
    primary: str                               # the headline key of values
    higher_is_better: bool
    protocol: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def value(self) -> float:
        return float(self.values[self.primary])

    def to_json(self, **extra: Any) -> dict:
        return {"metric": self.name, "results": self.values, "primary": self.primary,
                "higher_is_better": self.higher_is_better, "protocol": self.protocol,
                "seconds": round(self.seconds, 3), "time": time.time(), **extra}


def metric(name: str, default_num: int, higher_is_better: bool, about: str, counted: bool = True,
           targets: tuple[str, ...] = ()):
    """Register a metric function under kind "metric" with its default sample count and direction;
    `targets`: the codecs (data.target) whose samples it can measure (empty: any)."""
    def deco(fn: Callable) -> Callable:
        DEFAULTS[name] = (default_num, higher_is_better, about, counted)
        if targets:
            TARGETS[name] = tuple(targets)
        return register("metric", name)(fn)

    return deco


def check_target(base: str, target: str) -> None:
    """MetricNotApplicable when the metric does not measure this target's samples."""
    if base in TARGETS and target not in TARGETS[base]:
        raise MetricNotApplicable(f"{base} is implemented for {' and '.join(TARGETS[base])} data, not {target}")


def parse_metric_name(name: str) -> tuple[str, int | None]:
    """'fid10k' -> ('fid', 10000); 'kid1.5k' -> ('kid', 1500); 'pr500' -> ('pr', 500); 'cas' -> ('cas', None)."""
    key = name.strip().lower()
    known = names("metric")
    if key in known or key in ALIASES:
        return ALIASES.get(key, key), None
    m = _NAME.match(key)
    if m and (m["base"] in known or m["base"] in ALIASES):
        num = float(m["num"]) * (1000 if m["k"] else 1)
        if num < 2 or num != int(num):
            raise ValueError(f"metric {name!r}: the sample count must be a whole number of at least 2")
        return ALIASES.get(m["base"], m["base"]), int(num)
    raise UnknownNameError(f"unknown metric {name!r}; valid metrics: {', '.join(known)} — a name may carry its "
                           f"sample count, e.g. fid10k, pr2k, kid500")


def count_name(base: str, num: int) -> str:
    """The canonical name for a base metric and a sample count: ('fid', 10000) -> 'fid10k'."""
    if num % 1000 == 0:
        return f"{base}{num // 1000}k"
    if num % 100 == 0 and num > 1000:
        return f"{base}{num / 1000:g}k"
    return f"{base}{num}"


def resolve_metric(name: str, samples: int | None = None) -> tuple[str, Callable, int, str]:
    """(base, function, sample count, canonical name). `samples` replaces the name's count."""
    base, num = parse_metric_name(name)
    fn = get("metric", base)
    default_num = DEFAULTS[base][0]
    num = int(samples) if samples else (num or default_num)
    counted = DEFAULTS[base][3] or samples or num != default_num
    return base, fn, num, count_name(base, num) if counted else base


def higher_is_better(name: str) -> bool:
    base, _ = parse_metric_name(name)
    return DEFAULTS[base][1]


def describe_metrics() -> list[tuple[str, int, str]]:
    names("metric")                              # make sure everything is registered
    return [(k, v[0], v[2]) for k, v in sorted(DEFAULTS.items())]
