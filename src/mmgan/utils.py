"""Tiny helpers shared everywhere (lucidrains style) plus atomic file writes and device choice."""
from __future__ import annotations

import contextlib
import functools
import math
import json
import os
import random
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
import torch

COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")   # torch.compile


def exists(x: Any) -> bool:
    return x is not None


def default(x: Any, d: Any) -> Any:
    if exists(x):
        return x
    return d() if callable(d) else d


def due(step: int, every: int) -> bool:
    """Whether a step-interval task (logs, sample grids, checkpoints, metrics) runs at this step:
    every `every` steps; an interval of 0 turns it off."""
    return every > 0 and step % every == 0


@contextlib.contextmanager
def torch_threads(n: int):
    """Run a block with torch's CPU thread count set to n, then restore it. Training the same small
    net on 1 and on 2 threads sums gradients in different orders and ends in different weights."""
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def seed_all(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def auto_device(name: str = "auto") -> torch.device:
    """'auto' picks cuda, then mps, then cpu; anything else is passed to torch.device."""
    if name != "auto":
        dev = torch.device(name)
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError(f"device '{name}' requested but CUDA is not available; use --set train.device=cpu")
        return dev
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def native_bf16(device: str | torch.device) -> bool:
    """Whether bf16 matmuls and convolutions run natively here (and so faster than fp32): CUDA GPUs
    that support bf16; CPUs with AVX512-BF16 or AMX-BF16 (read from /proc/cpuinfo on Linux). Other
    CPUs emulate bf16 (slower than fp32), so auto-precision keeps fp32 there."""
    dev = torch.device(device)
    if dev.type == "cuda":
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    if dev.type == "cpu":
        return bool({"avx512_bf16", "amx_bf16"} & _cpu_flags())
    return False


@functools.lru_cache(maxsize=1)
def _cpu_flags() -> frozenset[str]:
    """The CPU's feature flags (read once per process: every Pipeline and Trainer asks)."""
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def use_bf16(setting: bool | str, device: str | torch.device, family: str = "", bf16_auto: bool = True) -> bool:
    """train.bf16 / Pipeline precision: true, false, or "auto" = on where bf16 is native (native_bf16)
    for convolutional models of a target whose codec allows it (bf16_auto: images); the small MLP on
    vector data stays fp32 (casts cost more than its GEMMs gain at its usual batch sizes; its presets
    say bf16 explicitly where it pays). family and bf16_auto describe a GAN; left out, the network is
    convolutional and any target's (the joint space's encoders)."""
    if isinstance(setting, bool):
        return setting
    if setting != "auto":
        raise ValueError(f"bf16 must be true, false or auto, got {setting!r}")
    return bf16_auto and family != "mlp" and native_bf16(device)


def compile_mode(setting: bool | str, device: str | torch.device) -> str | None:
    """train.compile / Pipeline compile -> the torch.compile mode to use, or None for eager.

    false: eager. true: mode "default". A mode name: that mode ("reduce-overhead" and "max-autotune"
    capture CUDA graphs, so they need a CUDA device). "auto": "default" on CUDA GPUs, eager elsewhere —
    on CPU, compiling the step measured no faster than eager with channels_last + bf16 (BENCHMARKS.md,
    and docs/benchmarks.md for mmgan's own step) and costs a cold compile at the start."""
    dev = torch.device(device)
    if setting is False:
        return None
    if setting is True:
        mode = "default"
    elif setting == "auto":
        if dev.type != "cuda":
            return None
        mode = "default"
    elif setting in COMPILE_MODES:
        mode = str(setting)
    else:
        raise ValueError(f"compile must be true, false, auto or a torch.compile mode "
                         f"({', '.join(COMPILE_MODES)}), got {setting!r}")
    if mode in ("reduce-overhead", "max-autotune") and dev.type != "cuda":
        raise ValueError(f"compile mode {mode!r} captures CUDA graphs and needs a CUDA device; the device is "
                         f"{dev.type}. Use compile: true (mode default) or false")
    if dev.type == "cpu" and not any(shutil.which(c) for c in ("g++", "c++", "clang++")):
        raise RuntimeError("torch.compile on a CPU builds C++ kernels and needs a C++ compiler (g++ or clang++) "
                           "on PATH; install one (apt-get install g++) or set compile: false")
    return mode


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(str(path), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: str | os.PathLike, writer: Callable[[str], None], durable: bool = True) -> None:
    """Call writer(tmp_path) then rename tmp over path: readers see the old file or the new one, never half.
    durable=False skips the fsyncs: for caches, which re-make a file lost in a crash, where an fsync per
    file would cost more than making it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=str(path.parent))
    os.close(fd)
    try:
        writer(tmp)
        if durable:
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
        os.replace(tmp, path)
        if durable:
            _fsync_dir(path.parent)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    def w(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)

    atomic_write(path, w)


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def append_jsonl(path: str | os.PathLike, obj: Any) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(obj, sort_keys=True, default=str) + "\n")
        f.flush()
        os.fsync(f.fileno())


def read_jsonl(path: str | os.PathLike) -> list[dict]:
    out = []
    p = Path(path)
    if not p.exists():
        return out
    for line in p.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line:
            out.append(json.loads(line))
    return out


def chunks(seq: list, n: int) -> Iterable[list]:
    for i in range(0, len(seq), n):
        yield seq[i : i + n]


def cosine_lr(step: int, total: int, base: float, warmup: int = 50) -> float:
    """Linear warm-up over `warmup` steps, then cosine decay from base to 0 at `total`."""
    if step < warmup:
        return base * (step + 1) / warmup
    return base * 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, total - warmup))))


def load_json(path: str | Path) -> dict:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"not found: {path}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON ({e})") from e
