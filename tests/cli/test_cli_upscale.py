"""`mmgan train --task upscale`, `mmgan upscale` and `mmgan interpolate` end to end on a user's folder of images."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from _tiny import photo, photo_folder
from mmgan.cli import main
from mmgan.pipeline import Pipeline
from mmgan.runs import read_meta
from mmgan.training import latest_checkpoint

TINY = ["--set", "train.progress=false", "--set", "train.tensorboard=false", "--set", "train.batch_size=4",
        "--set", "model.g_width=8", "--set", "model.d_width=8", "--set", "model.extra.blocks=1",
        "--set", "model.extra.growth=4", "--set", "train.threads=1"]


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    return photo_folder(tmp_path_factory.mktemp("photos"), 12, 32)


@pytest.fixture(scope="module")
def psnr_run(photos, tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "psnr"
    assert main(["train", "--data", str(photos), "--task", "upscale", "--scale", "2", "--steps", "3",
                 "--out", str(run)] + TINY) == 0
    return run


def test_train_task_upscale_writes_the_family_and_scale(psnr_run):
    cfg = read_meta(latest_checkpoint(psnr_run))["config"]
    assert cfg["model"]["family"] == "srresnet" and cfg["model"]["condition"] == []
    assert cfg["model"]["extra"]["scale"] == 2


def test_upscale_a_folder_and_one_file(psnr_run, tmp_path, capsys):
    src = tmp_path / "in"
    src.mkdir()
    rng = np.random.default_rng(1)
    photo(rng, 41, 23).save(src / "wide.png")
    photo(rng, 17, 30, "L").save(src / "grey.jpg")
    Image.new("RGBA", (9, 9), (255, 0, 0, 128)).save(src / "alpha.png")
    out = tmp_path / "out"
    assert main(["upscale", str(psnr_run), "--image", str(src), "--out", str(out), "--tile", "8",
                 "--device", "cpu"]) == 0
    sizes = {p.name: Image.open(p).size for p in out.iterdir()}
    assert sizes == {"wide.png": (82, 46), "grey.png": (34, 60), "alpha.png": (18, 18)}
    assert Image.open(out / "grey.png").mode == "RGB"                 # the model's channels
    one = tmp_path / "big.jpg"
    assert main(["upscale", str(psnr_run), "--image", str(src / "wide.png"), "--out", str(one)]) == 0
    assert Image.open(one).format == "JPEG" and Image.open(one).size == (82, 46)
    assert main(["upscale", str(psnr_run), "--image", str(tmp_path / "nope.png"), "--out", str(one)]) != 0
    assert "image not found" in capsys.readouterr().err


def test_pipeline_tiles_equal_whole_image(psnr_run):
    pipe = Pipeline.from_pretrained(psnr_run, device="cpu")
    x = torch.rand(1, 3, 30, 26) * 2 - 1
    whole = pipe.upscale(x, tile=1000, output_type="pt").tensor
    tiles = pipe.upscale(x, tile=8, overlap=2, output_type="pt").tensor
    assert whole.shape == (1, 3, 60, 52)
    assert torch.allclose(whole, tiles, atol=1e-5)
    assert len(pipe(num_images=6).images) == 6                        # no image: the preview [bicubic, model, HR]
    with pytest.raises(ValueError, match="takes no conditions"):
        pipe(labels=[1], image=x)


def test_gan_twin_from_the_psnr_run_and_interpolation(psnr_run, tmp_path, photos, capsys):
    gan = tmp_path / "gan"
    assert main(["train", "--data", str(photos), "--task", "upscale", "--steps", "2", "--out", str(gan),
                 "--set", "model.family=esrgan", "--set", f"model.extra.init_from={psnr_run}",
                 "--set", "model.extra.scale=2", "--set", "model.extra.perceptual_weight=0"] + TINY) == 0
    mixed = tmp_path / "mixed"
    assert main(["interpolate", str(psnr_run), str(gan), "--alpha", "0.5", "--out", str(mixed)]) == 0
    a, b, m = (Pipeline.from_pretrained(p, device="cpu").generator.state_dict() for p in (psnr_run, gan, mixed))
    k = "head.weight"
    assert torch.allclose(m[k], 0.5 * (a[k] + b[k]), atol=1e-6)
    out = tmp_path / "x.png"
    assert main(["upscale", str(mixed), "--image", str(photos / "p00.png"), "--out", str(out)]) == 0
    assert Image.open(out).size == (64, 64)
    bad = tmp_path / "bad"
    assert main(["train", "--data", str(photos), "--task", "upscale", "--steps", "1", "--out", str(bad),
                 "--set", "model.family=esrgan", "--set", f"model.extra.init_from={psnr_run}",
                 "--set", "model.extra.scale=4", "--set", "model.extra.perceptual_weight=0"] + TINY) != 0
    assert "does not fit" in capsys.readouterr().err
