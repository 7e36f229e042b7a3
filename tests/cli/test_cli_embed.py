"""`mmgan embed` and the Python API: embed any modality, arithmetic, files out."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from mmgan.cli import main
from mmgan.conditioning import JointSpace
from mmgan.api.embed import arithmetic, embed, nearest, parse_expression

from _mm_tiny import TINY_JOINT


@pytest.fixture
def space_dir(tmp_path):
    space = JointSpace(TINY_JOINT, dim=16)
    return space.save_pretrained(tmp_path / "joint")


def test_embed_command(space_dir, paired, tmp_path, capsys):
    Image.new("RGB", (20, 20), (255, 0, 0)).save(tmp_path / "red.png")
    out = tmp_path / "v.npy"
    rc = main(["embed", str(space_dir), "--text", "a red block", "--image", str(tmp_path / "red.png"),
               "--audio", paired.columns["audio"][0], "--label", "1", "--expr",
               f"image:{tmp_path / 'red.png'} - text:red + text:blue", "--out", str(out)])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "cosine similarity" in printed and "[4]" in printed
    v = np.load(out)
    assert v.shape == (5, 16)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1, atol=1e-5)
    rc = main(["embed", str(space_dir), "--text", "x", "--out", str(tmp_path / "v.jsonl")])
    assert rc == 0 and json.loads((tmp_path / "v.jsonl").read_text())["modality"] == "text"
    assert main(["embed", str(space_dir)]) == 1                       # nothing to embed: a clear error
    assert main(["embed", str(space_dir), "--audio", str(tmp_path / "missing.wav")]) == 1
    assert "not found" in capsys.readouterr().err


def test_python_api(space_dir, paired):
    v = embed(space_dir, text=["a red block"], labels=[0, 1])
    assert v["text"].shape == (1, 16) and v["label"].shape == (2, 16)
    q = arithmetic(space_dir, [(1, "image", paired.columns["image"][:1]), (-1, "text", "red"), (1, "text", "blue")])
    assert q.shape == (16,) and abs(np.linalg.norm(q) - 1) < 1e-5
    idx, scores = nearest(q, embed(space_dir, image=paired.columns["image"])["image"], k=3, exclude=[0])
    assert len(idx) == 3 and 0 not in idx and scores[0] >= scores[-1]
    assert parse_expression("image:a.png - text:red + text:light blue") == [
        (1, "image", "a.png"), (-1, "text", "red"), (1, "text", "light blue")]
    with pytest.raises(ValueError, match="cannot read the term"):
        parse_expression("video:x.mp4")
