"""Text out end to end: `mmgan train --data shapes(-styled) --target text` (a few steps), then
`mmgan generate --image ... --out` (captions.jsonl + captions.png, printed) and `mmgan caption`, the
Python API (out.text), and the errors a user meets."""
from __future__ import annotations

import json

import pytest
import torch

from _tiny import captioner_args
from mmgan.cli import main
from mmgan.modalities.pixels import to_pil
from mmgan.pipeline import Pipeline

TINY = captioner_args(steps=4, n=64)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("caption")
    from mmgan.data import load_dataset

    ds = load_dataset("shapes", split="heldout", n=3)
    (root / "pics").mkdir()
    for i in range(3):
        to_pil(ds.columns["image"][i]).save(root / "pics" / f"{i}.png")
    out = {"root": root}
    for name in ("shapes", "shapes-styled"):
        run = root / name
        assert main(["train", "--data", name, "--target", "text", "--out", str(run), *TINY]) == 0
        out[name] = run
    return out


def test_train_writes_a_captioner_config(runs):
    cfg = (runs["shapes"] / "config.yaml").read_text()
    assert "family: captioner" in cfg and "target: text" in cfg and "- <eos>" in cfg
    assert "modality: image" in cfg                         # model.extra.source
    styled = (runs["shapes-styled"] / "config.yaml").read_text()
    assert "condition:\n  - image\n  - label" in styled       # the style conditions it
    assert (runs["shapes"] / "samples" / "final.png").exists()


def test_generate_writes_and_prints_captions(runs, capsys):
    out = runs["root"] / "gen"
    pics = runs["root"] / "pics"
    assert main(["generate", str(runs["shapes"]), "--image", str(pics), "-n", "3", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    lines = [json.loads(s) for s in (out / "captions.jsonl").read_text().splitlines()]
    assert [g["name"] for g in lines] == [str(pics / f"{i}.png") for i in range(3)]
    assert all(len(g["captions"]) == 3 and all(isinstance(c, str) for c in g["captions"]) for g in lines)
    assert (out / "captions.png").exists() and lines[0]["captions"][0] in printed


def test_caption_prints_one_line_per_image_with_style(runs, capsys):
    pics = runs["root"] / "pics"
    assert main(["caption", str(runs["shapes-styled"]), "--image", str(pics / "0.png"), "--image",
                 str(pics / "1.png"), "--style", "positive", "-n", "2", "--decode", "beam"]) == 0
    lines = [json.loads(s) for s in capsys.readouterr().out.splitlines()]
    assert len(lines) == 2 and all(g["style"] == "positive" and len(g["captions"]) == 2 for g in lines)


def test_python_api_returns_text(runs):
    pipe = Pipeline.from_pretrained(runs["shapes"])
    out = pipe(image=torch.zeros(2, 3, 32, 32), num_images=2, seed=0, options={"decode": "greedy"})
    assert len(out.text) == 4 and out.objects == out.text and out.conditions["source_names"][:2] == ["image 0"] * 2
    with pytest.raises(ValueError, match="reads image"):
        pipe(num_images=2)
    with pytest.raises(ValueError, match="no generation option"):
        pipe(image=torch.zeros(3, 32, 32), options={"beams": 3})


def test_errors_name_the_problem(runs, tmp_path, capsys):
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    assert main(["caption", str(runs["shapes"]), "--image", str(bad)]) == 1
    assert "unreadable image" in capsys.readouterr().err
    assert main(["caption", str(runs["shapes"]), "--image", str(tmp_path / "nope.png")]) == 1
    assert "image not found" in capsys.readouterr().err
    img_run = tmp_path / "img"
    assert main(["train", "--data", "shapes", "--out", str(img_run), "--set", "model.family=dcgan",
                 "--set", "model.condition=[]", *TINY[:14]]) == 0
    with pytest.raises(SystemExit, match="not captions"):
        main(["caption", str(img_run), "--image", str(runs["root"] / "pics" / "0.png")])
