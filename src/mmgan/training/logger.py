"""Run logging: progress bar, JSON lines, TensorBoard, the target codec's preview pictures (sample
grids, scatters, ...), the loss-curve PNG."""
from __future__ import annotations

import math
import time
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from ..utils import append_jsonl, due
from ..pipeline import Pipeline
from ..runs import pipeline_config
from ..plots import loss_curves
from .evaluation import evaluate_during_training
from .progress import BudgetBar

if TYPE_CHECKING:
    from .loop import Trainer


class RunLogger:
    def __init__(self, run_dir: Path, trainer: "Trainer", enabled: bool = True):
        self.run_dir, self.tr, self.enabled = Path(run_dir), trainer, enabled
        self.log_path = self.run_dir / "log.jsonl"
        self.tb = None
        if enabled and trainer.cfg.train.tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.tb = SummaryWriter(str(self.run_dir / "tensorboard"))
            except ImportError:
                trainer.log("tensorboard is not installed; scalars go to log.jsonl only (pip install tensorboard)")
        self._last_t, self._last_step = time.time(), None
        # fixed latents and conditions so sample grids are comparable across steps
        g = torch.Generator().manual_seed(1234)
        self.n_samples = trainer.codec.preview_count
        self.z = torch.randn(self.n_samples, trainer.cfg.model.z_dim, generator=g)
        self.sample_inputs = _grid_conditions(trainer, self.n_samples)

    def progress(self, total: int, initial: int, seconds: float = math.inf):
        """The GAN stage's bar: steps, or with a time budget the budget's seconds (training.progress)."""
        return BudgetBar(total, seconds, initial=initial, desc="train",
                         enabled=self.enabled and self.tr.cfg.train.progress)

    def step(self, step: int, stats: dict[str, torch.Tensor], bar) -> None:
        bar.update(1)
        t = self.tr.cfg.train
        if not self.enabled or not (step == 1 or due(step, t.log_every)):
            return
        vals = {k: float(v) for k, v in stats.items()}
        now = time.time()
        if self._last_step is not None and step > self._last_step:
            vals["speed/img_per_s"] = (step - self._last_step) * t.batch_size / max(now - self._last_t, 1e-9)
        self._last_t, self._last_step = now, step
        append_jsonl(self.log_path, {"step": step, "time": now, **vals})
        if self.tb is not None:
            for k, v in vals.items():
                self.tb.add_scalar(k, v, step)
        short = {k.split("/")[-1]: f"{v:.3g}" for k, v in vals.items() if k.startswith("loss/") and not k.endswith("aux")}
        if "speed/img_per_s" in vals:
            short["img/s"] = f"{vals['speed/img_per_s']:.0f}"
        bar.set_postfix(short, refresh=False)

    def pipeline(self):

        meta = self.tr.meta() | {"step": self.tr.step}
        return Pipeline(self.tr.G_ema, self.tr.conditioner, pipeline_config(meta), self.tr.device,
                        compile=False)        # a short-lived pipeline per grid: a cold compile would cost more

    def samples(self, step: int, final: bool = False) -> Path | None:
        if not self.enabled:
            return None
        was_training = self.tr.conditioner.training
        try:
            pipe = self.pipeline()
            per_item = self.n_samples // max(1, self.tr.conditioner.samples(1, self.sample_inputs))
            out = pipe(z=self.z, num_images=per_item, output_type="pt", **self.sample_inputs)
        finally:
            self.tr.conditioner.train(was_training)
        d = self.run_dir / "samples"
        d.mkdir(parents=True, exist_ok=True)
        name = "final.png" if final else f"step-{step:08d}.png"
        codec = self.tr.codec
        path = codec.preview(out.tensor, d / name, pipe.config["data"], title=f"{self.tr.ds.info.name}: step {step}")
        if self.tb is not None:
            codec.tensorboard(self.tb, out.tensor, step)
        return path

    def evaluate(self, step: int) -> None:
        if not self.enabled:
            return

        evaluate_during_training(self.tr, step)

    def finish(self, step: int) -> None:
        if not self.enabled:
            return
        self.samples(step, final=True)

        loss_curves(self.log_path, self.run_dir / "loss.png", title=self.run_dir.name)
        if self.tb is not None:
            self.tb.flush()
            self.tb.close()


def _grid_conditions(trainer: "Trainer", n: int) -> dict:
    """Conditions for the sample grid: each row a class for label models; dataset captions otherwise."""
    mods = trainer.conditioner.modalities
    if not mods:
        return {}
    if hasattr(trainer.conditioner, "sample_inputs"):
        return trainer.conditioner.sample_inputs(trainer.ds, n)
    k = max(1, trainer.cfg.model.num_classes)
    return {"labels": torch.arange(n) // 8 % k}
