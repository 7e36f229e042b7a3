"""A progress bar for a stage that ends at a step cap or at a deadline, whichever comes first.

Without a deadline it counts steps. With one it counts seconds: its position is the larger of the
time spent and the share of steps done (in seconds), so the ETA tqdm shows is the budget's, or
sooner when the steps will end first; the step count rides along as a postfix:

    train:  41%|████      | 123/300s [02:03<02:57, step=736/100000, d=1.2, g=0.8]
"""
from __future__ import annotations

import math
import time

from tqdm.auto import tqdm

TIMED_FORMAT = "{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f}s [{elapsed}<{remaining}{postfix}]"


class BudgetBar:
    def __init__(self, steps: int, seconds: float = math.inf, initial: int = 0, desc: str = "train",
                 enabled: bool = True, unit: str = "step"):
        self.steps, self.initial, self.step = int(steps), int(initial), int(initial)
        self.timed = math.isfinite(seconds)
        self.seconds = max(float(seconds), 0.1) if self.timed else math.inf     # a spent budget still shows
        self.t0 = time.time()
        self._postfix: dict = {}
        if not enabled:
            self.bar = None
        elif self.timed:
            self.bar = tqdm(total=self.seconds, desc=desc, bar_format=TIMED_FORMAT, dynamic_ncols=True,
                            smoothing=0)
            self.bar.set_postfix(self._post(), refresh=False)
        else:
            self.bar = tqdm(total=self.steps, initial=self.initial, desc=desc, unit=unit, dynamic_ncols=True,
                            smoothing=0.1)

    def _post(self) -> dict:
        return {"step": f"{self.step}/{self.steps}", **self._postfix}

    def position(self) -> float:
        """Seconds of the budget used up: time spent, or the share of steps done if that is further."""
        left = max(1, self.steps - self.initial)
        by_steps = (self.step - self.initial) / left * self.seconds
        return min(self.seconds, max(time.time() - self.t0, by_steps))

    def update(self, n: int = 1) -> None:
        self.step += n
        if self.bar is None:
            return
        if not self.timed:
            self.bar.update(n)
            return
        self.bar.set_postfix(self._post(), refresh=False)
        self.bar.update(self.position() - self.bar.n)

    def set_postfix(self, values: dict | None = None, refresh: bool = False, **kw) -> None:
        self._postfix = {**(values or {}), **kw}
        if self.bar is not None:
            self.bar.set_postfix(self._post() if self.timed else self._postfix, refresh=refresh)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
