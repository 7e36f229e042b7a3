"""The training loop: a readable orchestration of capable parts.

    for each step:  D phase (x n_critic) -> D regularization (lazy) -> G phase -> EMA
                    log / sample grid / checkpoint on their intervals
A non-finite loss rolls back to the last good checkpoint with half the learning rate; a second
one stops the run with a clear message. Nothing already saved is lost.
"""
from __future__ import annotations

import contextlib
import dataclasses
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
from tqdm.auto import tqdm

from ..config import Config, ConfigError
from ..data.base import MemoryDataset
from ..models import build_gan
from ..models.base import num_params
from ..modalities import codec_names, codec_of, target_of
from ..registry import get
from ..utils import auto_device, compile_mode, due, seed_all, use_bf16
from .. import distributed as dist
from ..runs import latest_checkpoint, weights_digest
from ..sampling import save_critic
from .budget import Budget
from .checkpoint import CheckpointManager
from .conditioner import make_conditioner
from .critic import fit_critic
from .ema import make_ema, update_ema
from .logger import RunLogger
from .optim import adam
from .pretrained import perceptual_features, warm_start


# The GANLoss phases, whose D is D(x, c) -> score: a rejection-sampling critic is built from that D, and
# compiled training runs in them (their double-backward penalties call D eagerly).
SCORING_PHASES = ("standard", "stylegan2")
SCORING_FAMILIES = "families mlp, dcgan, stylegan2, gansformer"


class TrainingDiverged(RuntimeError):
    pass


@dataclass
class TrainResult:
    run_dir: Path
    step: int
    seconds: float
    images_per_second: float
    checkpoint: Path | None
    rollbacks: int = 0
    stopped_by: str = "steps"
    last: dict = field(default_factory=dict)


class Trainer:
    def __init__(self, cfg: Config, run_dir: str | Path, ds: MemoryDataset, log: Callable[[str], None] = print,
                 budget: Budget | None = None):
        self.cfg, self.ds, self.log = cfg, ds, log
        self.run_dir = Path(run_dir)
        # train.minutes bounds everything from here (or from the command's start, when the caller planned it)
        self.budget = budget or Budget.plan(cfg, self.run_dir)
        self.rank, self.world = dist.rank(), dist.world_size()
        self.device = dist.device_for_rank(auto_device(cfg.train.device))
        if cfg.train.threads > 0:
            torch.set_num_threads(cfg.train.threads)
        seed_all(cfg.train.seed)
        t = cfg.train
        if t.batch_size % (self.world * max(1, cfg.model.pack)):
            raise ConfigError(f"train.batch_size={t.batch_size} must be divisible by the number of processes "
                             f"({self.world}) times model.pack ({cfg.model.pack}): each process takes an equal share")
        with dist.rank_zero_first():                 # rank 0 fits (joint space, fusion) and saves; the others load
            self.conditioner = make_conditioner(cfg, ds, self.run_dir, fit=self.rank == 0, log=log,
                                                budget=self.budget).to(self.device)
        cfg.model.cond_dim = self.conditioner.cond_dim
        self.G, self.D = build_gan(cfg.model)
        if getattr(self.G, "init_from", ""):          # a warm start (esrgan: from its PSNR run); resume overrides it
            warm_start(self.G, self.G.init_from, log)
        if cfg.loss.phases == "standard":            # a family with its own step logic names it (cyclegan: "cycle")
            cfg.loss.phases = getattr(self.G, "phases", "standard")
        if t.drs_steps and cfg.loss.phases not in SCORING_PHASES:
            raise ValueError(f"train.drs_steps: rejection sampling needs a discriminator that scores one sample "
                             f"against its condition ({SCORING_FAMILIES}); "
                             f"{cfg.model.family} trains with phases {cfg.loss.phases!r}")
        self.G.to(self.device)
        self.D.to(self.device)
        for m in (self.G, self.D, self.conditioner):   # under torchrun: rank 0's weights and random state
            dist.broadcast_state(m)
        dist.broadcast_rng()
        self.codec = codec_of(ds)                    # the target's: what G makes and D judges
        self.target = target_of(ds)
        self.bf16 = use_bf16(t.bf16, self.device, cfg.model.family,
                             self.codec.bf16_auto and getattr(self.G, "bf16_auto", True))   # a generator may opt out
        if t.channels_last and self.codec.channels_last and cfg.model.family not in ("mlp",):
            self.G.to(memory_format=torch.channels_last)
            self.D.to(memory_format=torch.channels_last)
        self.G_ema = make_ema(self.G)
        self.compile = self._compile_mode()
        g_params = list(self.G.parameters()) + [p for p in self.conditioner.parameters() if p.requires_grad]
        self.opt_G = adam(g_params, t.lr_g, (t.beta1, t.beta2))
        self.opt_D = adam(self.D.parameters(), t.lr_d, (t.beta1, t.beta2))
        parts = {"features": perceptual_features(ds, log)} if getattr(self.G, "wants_features", False) else {}
        self.loss = get("phases", cfg.loss.phases)(self.G, self.D, cfg.loss, cfg.model.z_dim, cfg.model.pack,
                                                   autocast=self._autocast_factory(), conditioner=self.conditioner,
                                                   compile_mode=self.compile, **parts)
        self.data_gen = torch.Generator().manual_seed(cfg.train.seed * 1000003 + 17)
        self.ckpt = CheckpointManager(self.run_dir, t.keep_checkpoints, writer=self.rank == 0)
        self.step, self.lr_scale, self.rollbacks, self.saved_step = 0, 1.0, 0, -1
        self.best: dict = {}
        self._data_on_device = self._stage_data()

    # ---- set-up helpers --------------------------------------------------------------------
    def _compile_mode(self) -> str | None:
        """torch.compile for G and D (train.compile; utils.compile_mode): auto compiles on CUDA only,
        and only phases whose double-backward penalties can call D eagerly."""
        t, phases = self.cfg.train, self.cfg.loss.phases
        mode = compile_mode(t.compile, self.device)
        if mode and phases not in SCORING_PHASES:
            if t.compile == "auto":
                return None
            raise ValueError(f"train.compile: compiled training supports the phases {', '.join(SCORING_PHASES)} "
                             f"({SCORING_FAMILIES}); {self.cfg.model.family} trains "
                             f"with phases {phases!r}. Set train.compile=false")
        return mode

    def _autocast_factory(self):
        if not self.bf16:
            return contextlib.nullcontext
        dev = self.device.type
        return lambda: torch.autocast(device_type=dev, dtype=torch.bfloat16)

    def _stage_data(self) -> dict:
        """Put the target (in the generator's units, by its codec), the labels and the other codecs'
        tensor columns on the device once (small datasets)."""
        model = dataclasses.asdict(self.cfg.model)
        cols = {self.target: self.codec.to_generator(self.ds.columns[self.target], model).to(self.device)}
        for k, v in self.ds.columns.items():
            if k not in cols and torch.is_tensor(v) and (k == "label" or k in codec_names()):
                cols[k] = v.to(self.device)
        return cols

    def modules(self) -> dict[str, torch.nn.Module]:
        return {"G": self.G, "G_ema": self.G_ema, "D": self.D, "conditioner": self.conditioner}

    def meta(self) -> dict:
        return {"config": self.cfg.to_dict(), "data": self.ds.info.to_dict() | {"extra": _slim(self.ds.info.extra)},
                "generator": {"family": self.cfg.model.family, **self.G.config},
                "discriminator": self.D.config, "conditioner": self.conditioner.config,
                "lr_scale": self.lr_scale, "rollbacks": self.rollbacks, "best": self.best}

    def save(self) -> Path | None:
        """Rank 0 writes; every rank waits, so a roll-back on any rank finds the checkpoint complete.
        Under torchrun the ranks first check that they hold the same weights (distributed.check_in_sync)."""
        self.check_in_sync()
        path = None
        if self.rank == 0:
            path = self.ckpt.save(self.step, self.modules(), {"G": self.opt_G, "D": self.opt_D}, self.data_gen,
                                  self.meta())
        dist.barrier()
        self.saved_step = self.step
        return path

    def check_in_sync(self) -> None:
        """Raise distributed.RanksDiverged unless every rank holds the same G, G_ema, conditioner and D
        weights (D's buffers are left out: CycleGAN's image pools hold each rank's own past fakes)."""
        if self.world == 1:
            return
        tensors = {f"{name}.{k}": v for name in ("G", "G_ema", "conditioner")
                   for k, v in self.modules()[name].state_dict().items()}
        tensors |= {f"D.{k}": v for k, v in self.D.named_parameters()}
        dist.check_in_sync(tensors, f"step {self.step}")
        self.log(f"{self.world} processes in sync at step {self.step}: G {weights_digest(self.G)}")

    def restore(self, path: Path) -> None:
        meta = self.ckpt.load(path, self.modules(), {"G": self.opt_G, "D": self.opt_D}, self.data_gen)
        self.step = self.saved_step = int(meta["step"])
        self.lr_scale = float(meta.get("lr_scale", 1.0))
        self.rollbacks = int(meta.get("rollbacks", 0))
        self.best = meta.get("best", {}) or {}
        self._apply_lr()

    def lr_factor(self) -> float:
        """Roll-back scale times the decay schedule (a function of the step, so resume is exact)."""
        t = self.cfg.train
        frac = min(1.0, self.step / max(1, t.steps))
        sched = {"none": 1.0, "linear": 1.0 - frac, "cosine": 0.5 * (1 + math.cos(math.pi * frac))}
        if t.lr_decay not in sched:
            raise ValueError(f"unknown train.lr_decay {t.lr_decay!r}; valid: {', '.join(sched)}")
        return self.lr_scale * max(sched[t.lr_decay], 0.01)

    def _apply_lr(self) -> None:
        f = self.lr_factor()
        for opt, lr in ((self.opt_G, self.cfg.train.lr_g), (self.opt_D, self.cfg.train.lr_d)):
            for g in opt.param_groups:
                g["lr"] = lr * f

    # ---- one step ----------------------------------------------------------------------------
    def sample_batch(self, shard: bool = True) -> dict:
        """The next global batch; with shard (under torchrun) this rank's equal share of it."""
        b = self.cfg.train.batch_size // self.world
        n = len(self.ds)
        idx = torch.randint(0, n, (self.cfg.train.batch_size,), generator=self.data_gen)
        if shard:
            idx = idx[self.rank * b : (self.rank + 1) * b]   # every rank draws the same global batch, keeps its shard
        batch = {k: v[idx.to(v.device)] for k, v in self._data_on_device.items()}
        for k, col in self.ds.columns.items():                # text, audio, attributes, ...: gathered here
            if k not in batch:
                batch[k] = col[idx] if torch.is_tensor(col) else [col[int(i)] for i in idx]
        batch["index"] = idx
        return batch

    def train_step(self) -> dict[str, torch.Tensor]:
        stats: dict[str, torch.Tensor] = {}
        cf = self.cfg
        n_critic = max(1, cf.loss.n_critic)
        for i in range(n_critic):
            batch = self.sample_batch()
            real = batch[self.target]
            if cf.train.channels_last and real.dim() == 4:
                real = real.contiguous(memory_format=torch.channels_last)
            cond = self.conditioner.from_batch(batch, self.device)
            self.opt_D.zero_grad(set_to_none=True)
            self.loss.keep_fake = i == n_critic - 1          # the G phase may reuse this batch of fakes
            stats.update(self.loss.accumulate("D", real, cond.vec, cond.labels, self.step, **cond.kwargs()))
            if self.loss.wants_reg(self.step):
                stats.update(self.loss.accumulate("Dreg", real, cond.vec, cond.labels, self.step, **cond.kwargs()))
            dist.sync_grads(self.D)                          # under torchrun: the mean over the ranks
            self.opt_D.step()
        self.opt_G.zero_grad(set_to_none=True)
        cond = self.conditioner.from_batch(batch, self.device)
        stats.update(self.loss.accumulate("G", real, cond.vec, cond.labels, self.step, **cond.kwargs()))
        dist.sync_grads(self.G, self.conditioner)
        self.opt_G.step()
        decay = cf.train.ema if self.step >= cf.train.ema_start else 0.0
        update_ema(self.G_ema, self.G, decay)
        return stats

    # ---- the loop ------------------------------------------------------------------------------
    def fit(self, resume: bool = False) -> TrainResult:
        t = self.cfg.train
        logger = RunLogger(self.run_dir, self, enabled=self.rank == 0)
        if resume:
            last = latest_checkpoint(self.run_dir)
            if last is None:
                self.log(f"no checkpoint in {self.run_dir}; starting from scratch")
            else:
                self.restore(last)
                self.log(f"resumed from {last} (step {self.step})")
        if self.step == 0:
            self.save()                              # a good state to roll back to from the first step
        self.log(f"G {num_params(self.G) / 1e6:.2f}M params, D {num_params(self.D) / 1e6:.2f}M params, "
                 f"device {self.device}, batch {t.batch_size}, {'bf16 autocast' if self.bf16 else 'fp32'}"
                 f"{' (auto)' if t.bf16 == 'auto' else ''}"
                 f"{f', torch.compile ({self.compile})' if self.compile else ''}")
        start, start_step = time.time(), self.step
        self.budget.begin("gan")
        deadline = self.budget.deadline("gan")
        if self.budget.timed and self.budget.end <= start:
            self.log(f"warning: the time budget ({t.minutes:g} min) was spent before the GAN stage began "
                     f"({start - self.budget.start:.0f}s on data, joint space and features); the GAN trains for "
                     f"its minimum, {deadline - start:.0f}s")
        stopped_by, last_ckpt, stats = "steps", None, {}
        bar = logger.progress(total=t.steps, initial=self.step, seconds=deadline - start)
        try:
            while self.step < t.steps:
                if math.isfinite(deadline) and dist.any_rank(time.time() >= deadline):   # every rank stops together
                    stopped_by = "minutes"
                    break
                if self.cfg.train.lr_decay != "none":
                    self._apply_lr()
                stats = self.train_step()
                if not dist.all_finite(list(stats.values())):
                    self._roll_back(stats)
                    continue
                self.step += 1
                logger.step(self.step, stats, bar)
                if due(self.step, t.sample_every):
                    logger.samples(self.step)
                if due(self.step, t.eval_every):
                    logger.evaluate(self.step)
                if due(self.step, t.ckpt_every):
                    last_ckpt = self.save()
        finally:
            bar.close()
        self.budget.begin("finish")
        if self.saved_step != self.step:
            last_ckpt = self.save()
        elif last_ckpt is None and self.rank == 0:
            last_ckpt = latest_checkpoint(self.run_dir)
        if t.drs_steps > 0 and self.rank == 0 and last_ckpt is not None:
            self.fit_critic(last_ckpt, t.drs_steps, deadline=self.budget.deadline("finish"))
        logger.finish(self.step)
        if self.budget.timed:
            self.log(self.budget.summary())
        secs = time.time() - start
        done = self.step - start_step
        return TrainResult(self.run_dir, self.step, secs, done * t.batch_size / max(secs, 1e-9), last_ckpt,
                           self.rollbacks, stopped_by, {k: float(v) for k, v in stats.items()})

    def fit_critic(self, folder: Path, steps: int, deadline: float = math.inf) -> Path:
        """Discriminator rejection sampling: fit a critic to the EMA generator and save it beside the
        checkpoint in `folder`, where Pipeline picks it up (mmgan.sampling.drs). Under torchrun rank 0
        fits it alone, on whole global batches. It stops early at `deadline` (the run's time budget)."""
        zdim = self.cfg.model.z_dim

        def draw():
            batch = self.sample_batch(shard=False)
            real = batch[self.target]
            cond = self.conditioner.from_batch(batch, self.device)
            return real, cond.vec, cond.kwargs(), torch.randn(len(real), zdim, device=self.device)

        bar = tqdm(total=steps, desc="DRS critic", unit="step", disable=not self.cfg.train.progress, leave=False)

        done = [0]

        def tick(step, loss):
            done[0] = step + 1
            bar.update(1)
            if step % 50 == 0:
                bar.set_postfix(loss=f"{loss:.3f}")

        try:
            with dist.local():
                critic = fit_critic(self.G_ema, draw, dataclasses.asdict(self.cfg.model), steps,
                                    lr=self.cfg.train.lr_d, betas=(self.cfg.train.beta1, self.cfg.train.beta2),
                                    warm_start=self.D, autocast=self._autocast_factory(), device=self.device,
                                    progress=tick, quantile=self.cfg.train.drs_quantile, deadline=deadline)
        finally:
            bar.close()
        path = save_critic(critic, folder)
        i = critic.info
        self.log(f"DRS critic ({done[0]} of {steps} steps{'' if done[0] == steps else ', stopped by the time budget'}) in {folder}: accepts {100 * i['accept_rate']:.1f}% of proposals; "
                 f"accuracy on fresh draws: real {i['real_acc']:.2f} / fake {i['fake_acc']:.2f}")
        return path

    def _roll_back(self, stats: dict) -> None:
        bad = {k: float(v) for k, v in stats.items() if not math.isfinite(float(v))}
        last = latest_checkpoint(self.run_dir)
        if self.rollbacks >= 1:
            raise TrainingDiverged(
                f"non-finite loss again at step {self.step} ({bad}) after one roll-back; the run stopped. "
                f"The last good checkpoint is {last}. Try a lower learning rate (train.lr_g / train.lr_d), "
                f"loss.r1_gamma > 0, model.spectral_norm=true or loss.name=hinge.")
        self.log(f"non-finite loss at step {self.step} ({bad}): rolling back to {last} with half the learning rate")
        rollbacks = self.rollbacks + 1
        self.restore(last)
        self.rollbacks = rollbacks
        self.lr_scale *= 0.5
        self._apply_lr()


def _slim(extra: dict) -> dict:
    """Keep small JSON-able dataset extras in checkpoints (mixture means, sigma), not bulky reports."""
    return {k: v for k, v in extra.items() if k != "bad_rows"}
