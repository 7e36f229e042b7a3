"""`mmgan train --task restore` and `mmgan restore` end to end on a user's folder of images: with and
without --mask, a mask folder, and bad masks (wrong size, unreadable) failing with the file's name."""
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
        "--set", "model.g_width=4", "--set", "model.d_width=4", "--set", "model.extra.dilations=[2]",
        "--set", "train.threads=1"]


def _mask(w: int, h: int) -> Image.Image:
    a = np.zeros((h, w), np.uint8)
    a[h // 4:h // 2, w // 4:3 * w // 4] = 255
    return Image.fromarray(a)


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    return photo_folder(tmp_path_factory.mktemp("photos"), 8, 24)


@pytest.fixture(scope="module")
def run(photos, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "restore"
    assert main(["train", "--data", str(photos), "--task", "restore", "--degrade", "noise,jpeg,mask", "--steps", "3",
                 "--out", str(out)] + TINY) == 0
    return out


@pytest.fixture()
def damaged(tmp_path):
    src, masks = tmp_path / "in", tmp_path / "masks"
    src.mkdir(), masks.mkdir()
    rng = np.random.default_rng(1)
    for name, (w, h), mode in (("wide", (41, 23), "RGB"), ("grey", (17, 30), "L")):
        photo(rng, w, h, mode).save(src / f"{name}.png")
        _mask(w, h).save(masks / f"{name}.png")
    return src, masks


def test_train_task_restore_writes_the_family_and_degradations(run):
    cfg = read_meta(latest_checkpoint(run))["config"]
    assert cfg["model"]["family"] == "restorer" and cfg["model"]["condition"] == []
    assert cfg["model"]["extra"]["degrade"] == "noise,jpeg,mask"


def test_restore_a_folder_with_and_without_masks(run, damaged, tmp_path, capsys):
    src, masks = damaged
    out = tmp_path / "out"
    assert main(["restore", str(run), "--image", str(src), "--out", str(out), "--device", "cpu"]) == 0
    assert "restoring noise and JPEG artefacts only" in capsys.readouterr().err
    assert {p.name: Image.open(p).size for p in out.iterdir()} == {"wide.png": (41, 23), "grey.png": (17, 30)}
    assert Image.open(out / "grey.png").mode == "RGB"                 # the model's channels
    out2 = tmp_path / "out2"
    assert main(["restore", str(run), "--image", str(src), "--mask", str(masks), "--out", str(out2), "--tile", "8"]) == 0
    assert sorted(p.name for p in out2.iterdir()) == ["grey.png", "wide.png"]
    one = tmp_path / "fixed.jpg"
    assert main(["restore", str(run), "--image", str(src / "wide.png"), "--mask", str(masks / "wide.png"),
                 "--out", str(one)]) == 0
    assert Image.open(one).format == "JPEG" and Image.open(one).size == (41, 23)


def test_bad_masks_name_the_file(run, damaged, tmp_path, capsys):
    src, masks = damaged
    one = tmp_path / "x.png"
    assert main(["restore", str(run), "--image", str(src / "wide.png"), "--mask", str(masks / "grey.png"),
                 "--out", str(one)]) != 0
    assert "grey.png is 17x30 pixels but its image is 41x23" in capsys.readouterr().err
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"\x89PNG but not really")
    assert main(["restore", str(run), "--image", str(src / "wide.png"), "--mask", str(junk), "--out", str(one)]) != 0
    assert "junk.png is not a readable image" in capsys.readouterr().err
    (masks / "grey.png").unlink()
    assert main(["restore", str(run), "--image", str(src), "--mask", str(masks), "--out", str(tmp_path / "o")]) != 0
    assert "has no mask for grey.png" in capsys.readouterr().err


def test_pipeline_call_tiles_and_refusals(run, photos, tmp_path):
    pipe = Pipeline.from_pretrained(run, device="cpu")
    x = torch.rand(1, 3, 30, 26) * 2 - 1
    m = torch.zeros(30, 26)
    m[5:12, 4:20] = 1
    whole = pipe(image=x, mask=m, output_type="pt").tensor
    tiles = pipe.restore(x, mask=m, tile=8, output_type="pt").tensor
    assert whole.shape == (1, 3, 30, 26) and torch.allclose(whole, tiles, atol=1e-4)
    assert pipe(image=x).conditions["mask"] == "none"
    assert len(pipe(num_images=6).images) == 6                        # no image: the preview [damaged, restored, clean]
    with pytest.raises(ValueError, match="takes no conditions"):
        pipe(labels=[1], image=x)
    holes_only = tmp_path / "holes"
    assert main(["train", "--data", str(photos), "--task", "restore", "--degrade", "mask", "--steps", "1",
                 "--out", str(holes_only)] + TINY) == 0
    with pytest.raises(ValueError, match="trained to fill holes only"):
        Pipeline.from_pretrained(holes_only, device="cpu")(image=x)
