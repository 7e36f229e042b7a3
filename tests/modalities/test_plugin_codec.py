"""A new output modality plugs in as one codec and one model family, registered here, in the test:
a 1-D "signal" of 16 samples that an MLP learns from a manifest, trained two steps and sampled through
the `mmgan` command. Nothing in mmgan knows about signals."""
from __future__ import annotations

import json
import math
from pathlib import Path

import torch
import torch.nn as nn
from PIL import Image, ImageDraw

from mmgan.cli import main
from mmgan.modalities import CellError, Codec, register_codec
from mmgan.models.base import ConfigModule
from mmgan.registry import register
from mmgan.runs import latest_checkpoint
from mmgan.utils import atomic_write, atomic_write_text

LENGTH = 16


@register_codec
class SignalCodec(Codec):
    name = "signal"                     # the manifest column and --target
    attribute = "signals"               # out.signals
    media_type = "application/json"
    families = ("tiny-signal",)
    preview_count = 8

    def to_object(self, x: torch.Tensor) -> list[float]:
        return [float(v) for v in x]

    def from_object(self, obj) -> torch.Tensor:
        return torch.tensor(obj, dtype=torch.float32)

    def read_cell(self, value, opts) -> torch.Tensor:
        if not isinstance(value, list) or len(value) != LENGTH or not all(isinstance(v, (int, float)) for v in value):
            raise CellError(f"expected a list of {LENGTH} numbers, got {value!r}")
        return self.from_object(value)

    def write_column(self, column: torch.Tensor, folder: Path) -> list:
        return self.to_objects(column)

    def configure(self, cfg, ds) -> None:
        super().configure(cfg, ds)
        cfg.model.data_dim = int(ds.info.shape[0])

    def write(self, objects: list, x: torch.Tensor, folder: Path, info) -> list[Path]:
        p = Path(folder) / "signals.jsonl"
        atomic_write_text(p, "".join(json.dumps(o) + "\n" for o in objects))
        return [p, self.preview(x, Path(folder) / "signals.png", info)]

    def preview(self, x: torch.Tensor, path: Path, info, title: str = "", real=None) -> Path:
        img = Image.new("L", (4 * LENGTH, 20 * len(x)), 255)
        draw = ImageDraw.Draw(img)
        for i, s in enumerate(x.clamp(-1, 1)):
            draw.line([(4 * j, 20 * i + 10 - 9 * float(v)) for j, v in enumerate(s)], fill=0)
        atomic_write(path, lambda tmp: img.save(tmp, format="PNG"))
        return Path(path)

    def response(self, obj) -> dict:
        return {"vector": obj}


class SignalG(ConfigModule):
    def __init__(self, z_dim: int, length: int, cond_dim: int = 0):
        super().__init__(z_dim=z_dim, length=length, cond_dim=cond_dim)
        self.net = nn.Sequential(nn.Linear(z_dim + cond_dim, 32), nn.ReLU(), nn.Linear(32, length), nn.Tanh())

    def forward(self, z, c=None, **_):
        return self.net(z if c is None else torch.cat([z, c], 1))          # (b, length)


class SignalD(ConfigModule):
    def __init__(self, length: int, cond_dim: int = 0):
        super().__init__(length=length, cond_dim=cond_dim)
        self.net = nn.Sequential(nn.Linear(length + cond_dim, 32), nn.LeakyReLU(0.2), nn.Linear(32, 1))

    def forward(self, x, c=None):
        return self.net(x if c is None else torch.cat([x, c], 1)).squeeze(1), None     # (score, no aux head)


@register("model", "tiny-signal")
def build_tiny_signal(cfg, with_discriminator: bool = True):
    g = SignalG(cfg.z_dim, cfg.data_dim, cfg.cond_dim)
    return g, SignalD(cfg.data_dim, cfg.cond_dim) if with_discriminator else None


def _manifest(folder: Path, n: int = 24) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rows = [{"signal": [round(math.sin(2 * math.pi * (j / LENGTH + i / n)), 4) for j in range(LENGTH)],
             "label": i % 2} for i in range(n)]
    (folder / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder / "manifest.jsonl"


FAST = ["--set", "train.progress=false", "--set", "train.tensorboard=false", "--set", "model.z_dim=8",
        "--set", "train.batch_size=8"]


def test_a_registered_codec_and_family_train_and_generate_through_the_cli(tmp_path):
    data, run, out = _manifest(tmp_path / "data"), tmp_path / "run", tmp_path / "gen"
    assert main(["train", "--data", str(data), "--target", "signal", "--set", "model.family=tiny-signal",
                 "--set", "model.condition=[label]", *FAST, "--steps", "2", "--out", str(run)]) == 0
    assert latest_checkpoint(run).name == "step-00000002"
    assert (run / "samples" / "final.png").exists()                     # the codec's preview
    assert main(["generate", str(run), "-n", "3", "--label", "1", "--out", str(out)]) == 0
    signals = [json.loads(line) for line in (out / "signals.jsonl").read_text().splitlines()]
    assert len(signals) == 3 and all(len(s) == LENGTH and max(map(abs, s)) <= 1 for s in signals)
    assert Image.open(out / "signals.png").size == (4 * LENGTH, 60)


def test_the_codec_reads_and_refuses_cells(tmp_path, capsys):
    data = _manifest(tmp_path / "data", n=4)
    with data.open("a") as f:
        f.write(json.dumps({"signal": [1, 2, 3], "label": 0}) + "\n")
    assert main(["train", "--data", str(data), "--set", "model.family=tiny-signal", *FAST, "--steps", "1",
                 "--out", str(tmp_path / "run")]) == 1
    assert "row 5, signal: expected a list of 16 numbers, got [1, 2, 3]" in capsys.readouterr().err
