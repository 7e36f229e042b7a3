"""Training and generation speed on this machine (issue: speed and scale).

Times, in one run side by side:
  * the plain-PyTorch DCGAN-28 step of ../shared/BENCHMARKS.md (G: z100 -> ConvT128@7 -> ConvT64@14 ->
    ConvT1@28 with BN; D its mirror; batch 64; Adam; BCE), eager fp32, as a tutorial writes it;
  * mmgan's `dcgan` with the same architecture and batch through the real Trainer.train_step
    (D phase, G phase, EMA), fp32 channels_last and bf16 autocast;
reporting images/s, FLOPs per step (torch.utils.flop_counter), achieved GFLOP/s and the fraction of
the measured bf16 GEMM ceiling (950 GFLOP/s on the 2-core development machine). Also generation
images/s at batch 1 and 64, and training images/s of each registered family at its preset size.

    python bench/speed.py [--seconds 20] [--threads 2] [--ablation] [--skip-families] [--out bench/out/speed.md]
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import torch
import torch.nn as nn
from torch.utils.flop_counter import FlopCounterMode

BF16_CEILING = 950.0   # GFLOP/s, bf16 torch.mm 2048^3 on the development machine (BENCHMARKS.md)
FP32_CEILING = 425.0   # GFLOP/s, fp32 1x1 conv channels_last


# ---- the plain reference step ------------------------------------------------------------------------
class PlainG(nn.Module):
    def __init__(self, nz=100):
        super().__init__()
        self.net = nn.Sequential(
            nn.ConvTranspose2d(nz, 128, 7, 1, 0, bias=False), nn.BatchNorm2d(128), nn.ReLU(True),
            nn.ConvTranspose2d(128, 64, 4, 2, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU(True),
            nn.ConvTranspose2d(64, 1, 4, 2, 1), nn.Tanh())

    def forward(self, z):
        return self.net(z[:, :, None, None])


class PlainD(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 64, 4, 2, 1), nn.LeakyReLU(0.2, True),
            nn.Conv2d(64, 128, 4, 2, 1, bias=False), nn.BatchNorm2d(128), nn.LeakyReLU(0.2, True),
            nn.Conv2d(128, 1, 7, 1, 0))

    def forward(self, x):
        return self.net(x).view(-1)


def plain_step_fn(batch=64):
    G, D = PlainG(), PlainD()
    oG = torch.optim.Adam(G.parameters(), 2e-4, betas=(0.5, 0.999))
    oD = torch.optim.Adam(D.parameters(), 2e-4, betas=(0.5, 0.999))
    bce = nn.BCEWithLogitsLoss()
    real = torch.rand(batch, 1, 28, 28) * 2 - 1
    ones, zeros = torch.ones(batch), torch.zeros(batch)

    def step():
        z = torch.randn(batch, 100)
        fake = G(z)
        oD.zero_grad()
        lossD = bce(D(real), ones) + bce(D(fake.detach()), zeros)
        lossD.backward()
        oD.step()
        oG.zero_grad()
        lossG = bce(D(fake), ones)
        lossG.backward()
        oG.step()

    return step


def mmgan_step_fn(batch=64, bf16=False, channels_last=True, compile=False):
    from mmgan.config import Config
    from mmgan.data import load_dataset
    from mmgan.training import Trainer
    from mmgan.training.setup import resolve

    ds = load_dataset("mnist")
    cfg = Config().override([
        "family=dcgan", "z_dim=100", "g_width=64", "d_width=64", "loss.name=ns", f"batch_size={batch}",
        f"bf16={str(bf16).lower()}", f"channels_last={str(channels_last).lower()}", "progress=false",
        "tensorboard=false", "device=cpu", f"train.compile={str(compile).lower()}"])
    resolve(cfg, ds)
    tr = Trainer(cfg, "/tmp/mmgan-speed-run", ds, log=lambda m: None)
    return tr.train_step, tr


def mm_ceiling(dtype: torch.dtype, seconds: float = 3.0, n: int = 2048) -> float:
    """GFLOP/s of an n^3 torch.mm in `dtype` on this machine now (BENCHMARKS.md's ceiling measurement)."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    return 2 * n**3 * timed(lambda: torch.mm(a, b), seconds, 1) / 1e9


def conv_ceiling(seconds: float = 3.0) -> float:
    """GFLOP/s of the step's largest layer alone: D's Conv2d(64->128, 4, 2, 1) on 64x64x14x14, forward and
    backward, bf16 autocast, channels_last. An upper bound for the whole step's efficiency."""
    conv = nn.Conv2d(64, 128, 4, 2, 1, bias=False).to(memory_format=torch.channels_last)
    x = torch.randn(64, 64, 14, 14).contiguous(memory_format=torch.channels_last).requires_grad_(True)

    def step():
        with torch.autocast("cpu", dtype=torch.bfloat16):
            y = conv(x)
        y.float().sum().backward()

    f = flops(step)
    return f * timed(step, seconds, 1) / 1e9


def ablation(seconds: float) -> list[str]:
    """The G-phase savings one at a time, interleaved in 2-s slices so that load drifts hit all alike:
    mmgan's bf16 channels_last step with/without reusing the D phase's fakes and freezing D's weights."""
    import contextlib

    from mmgan.losses import phases

    real_frozen = phases.frozen

    @contextlib.contextmanager
    def trainable(module):                       # the G phase without the freeze: D weights get gradients
        yield module

    def variant(reuse: bool, freeze: bool):
        step, tr = mmgan_step_fn(bf16=True, channels_last=True)
        tr.cfg.loss.reuse_fakes = reuse

        def run():
            phases.frozen = real_frozen if freeze else trainable
            try:
                step()
            finally:
                phases.frozen = real_frozen
        return run

    rows = {"neither (fresh G forward for the G phase, D weights trainable)": variant(False, False),
            "reuse the D phase's fakes (`loss.reuse_fakes`)": variant(True, False),
            "freeze D's weights in the G phase": variant(False, True),
            "both (the default)": variant(True, True)}
    done = {k: [0, 0.0] for k in rows}
    for fn in rows.values():
        for _ in range(3):
            fn()
    for _ in range(max(1, int(seconds / 2))):
        for k, fn in rows.items():
            n, t0 = 0, time.perf_counter()
            while time.perf_counter() - t0 < 2.0:
                fn()
                n += 1
            done[k][0] += n
            done[k][1] += time.perf_counter() - t0
    base = done[next(iter(rows))][0] * 64 / done[next(iter(rows))][1]
    out = ["| G phase (bf16 channels_last step) | img/s | vs neither |", "|---|---|---|"]
    for k, (n, secs) in done.items():
        ips = n * 64 / secs
        out.append(f"| {k} | {ips:,.0f} | {ips / base:.2f}x |")
    return out


def flops(step) -> float:
    with FlopCounterMode(display=False) as fc:
        step()
    return fc.get_total_flops()


def timed(step, seconds: float, batch: int) -> float:
    for _ in range(5):
        step()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        step()
        n += 1
    return n * batch / (time.perf_counter() - t0)


def generation(seconds: float, compile: bool = False) -> list[tuple[str, float]]:
    from mmgan.config import ModelConfig
    from mmgan.conditioning import Conditioner
    from mmgan.models import build_gan
    from mmgan.pipeline import Pipeline

    G, _ = build_gan(ModelConfig(family="dcgan", channels=1, resolution=28, z_dim=100, g_width=64))
    cfg = {"model": {"z_dim": 100, "family": "dcgan"}, "data": {"kind": "image"}}
    rows = []
    settings = [("auto", False), (False, False), (True, False)] + ([(True, True)] if compile else [])
    for bf16, comp in settings:
        pipe = Pipeline(G, Conditioner(), cfg, "cpu", bf16=bf16, compile=comp)
        for b in (1, 64):
            def gen():
                pipe(num_images=b, output_type="pt")
            what = f"bf16 {bf16} -> {'bf16' if pipe.bf16 else 'fp32'}" if bf16 == "auto" else ("bf16" if bf16 else "fp32")
            rows.append((f"generation, batch {b}, {what}{', torch.compile' if comp else ''}", timed(gen, seconds, b)))
    return rows


def families(seconds: float) -> list[tuple[str, float, str]]:
    from mmgan import registry
    from mmgan.config import Config, presets
    from mmgan.data import load_dataset
    from mmgan.training import Trainer
    from mmgan.training.setup import resolve

    rows = []
    have = set(presets())
    for fam in registry.names("model"):
        preset = next((p for p in sorted(have) if p.startswith(fam)), None)
        try:
            cfg = Config.load(preset) if preset else Config()
            cfg.override([f"family={fam}", "progress=false", "tensorboard=false", "device=cpu"])
            if not preset:
                cfg.data.name = "ring8" if fam == "mlp" else "shapes"
            ds = load_dataset(cfg.data.name, split=cfg.data.split, resolution=cfg.data.resolution,
                              n=min(cfg.data.n or 2000, 2000), seed=0)
            resolve(cfg, ds)
            tr = Trainer(cfg, f"/tmp/mmgan-speed-{fam}", ds, log=lambda m: None)
            ips = timed(tr.train_step, seconds / 2, cfg.train.batch_size)
            rows.append((fam, ips, f"{preset or 'defaults'}: {cfg.data.name} {cfg.model.resolution or cfg.model.data_dim}"
                                   f"{'px' if cfg.model.resolution else '-D'}, batch {cfg.train.batch_size}"))
        except Exception as e:  # a family that needs inputs this bench cannot give is reported, not hidden
            rows.append((fam, float("nan"), f"not timed: {type(e).__name__}: {str(e)[:80]}"))
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="bench/out/speed.md")
    ap.add_argument("--skip-families", action="store_true")
    ap.add_argument("--ablation", action="store_true", help="also time the G-phase savings one at a time")
    ap.add_argument("--compile", action="store_true", help="also time the bf16 step and generation under "
                    "torch.compile (train.compile=true; the cold compile is excluded from the timing)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    load = os.getloadavg()[0]
    bf16_now, fp32_now, conv_now = mm_ceiling(torch.bfloat16), mm_ceiling(torch.float32), conv_ceiling()
    lines = [f"torch {torch.__version__}, {args.threads} threads, {args.seconds:.0f} s per row, "
             f"1-min load average at start {load:.2f}; 2048³ torch.mm measured now: {fp32_now:.0f} GFLOP/s fp32, "
             f"{bf16_now:.0f} GFLOP/s bf16 (BENCHMARKS.md: 222 / {BF16_CEILING:.0f}); the step's largest conv alone "
             f"(64->128 on 14x14, batch 64, bf16 channels_last, forward + backward): {conv_now:.0f} GFLOP/s "
             f"= {100 * conv_now / bf16_now:.0f}% of the bf16 mm measured now", "",
             "| step (batch 64, DCGAN-28) | img/s | GFLOP/step | achieved GFLOP/s | vs plain | % of bf16 ceiling (950) "
             "| % of bf16 mm measured now |",
             "|---|---|---|---|---|---|---|"]
    plain = plain_step_fn()
    pf = flops(plain) / 1e9
    p_ips = timed(plain, args.seconds, 64)
    rows = [("plain PyTorch, eager fp32", p_ips, pf)]
    for name, kw in [("mmgan dcgan, fp32 channels_last", dict(bf16=False, channels_last=True)),
                     ("mmgan dcgan, fp32 channels_first", dict(bf16=False, channels_last=False)),
                     ("mmgan dcgan, bf16 autocast + channels_last", dict(bf16=True, channels_last=True))]:
        step, _ = mmgan_step_fn(**kw)
        f = flops(step) / 1e9
        rows.append((name, timed(step, args.seconds, 64), f))
    if args.compile:            # the same arithmetic as the eager bf16 step (flop counting sees no compiled kernels)
        step, _ = mmgan_step_fn(bf16=True, channels_last=True, compile=True)
        rows.append(("mmgan dcgan, bf16 autocast + channels_last + torch.compile", timed(step, args.seconds, 64), f))
    for name, ips, f in rows:
        gfs = f * ips / 64
        lines.append(f"| {name} | {ips:,.0f} | {f:.2f} | {gfs:,.0f} | {ips / p_ips:.2f}x | {100 * gfs / BF16_CEILING:.0f}% "
                     f"| {100 * gfs / bf16_now:.0f}% |")
    lines += ["", "| generation (mmgan dcgan 28px, Pipeline) | img/s |", "|---|---|"]
    for name, ips in generation(args.seconds / 2, args.compile):
        lines.append(f"| {name} | {ips:,.0f} |")
    if args.ablation:
        lines += [""] + ablation(args.seconds)
    if not args.skip_families:
        lines += ["", "| family training step | img/s | setting |", "|---|---|---|"]
        for fam, ips, note in families(args.seconds):
            lines.append(f"| {fam} | {ips:,.0f} | {note} |")
    text = "\n".join(lines) + "\n"
    print(text)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)


if __name__ == "__main__":
    main()
