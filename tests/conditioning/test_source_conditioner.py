"""conditioning.source: a family that reads its source raw gets it prepared by the source's codec, n
samples per item at generation, and the trainer's batches as they are."""
from __future__ import annotations

import pytest
import torch
from PIL import Image

from mmgan.conditioning import build_conditioner
from mmgan.conditioning.source import SourceConditioner, reads, source_of

SPEC = {"modality": "image", "resolution": 8, "channels": 3}


def test_declared_by_the_family():
    assert reads("captioner") == ("image",) and reads("dcgan") == ()
    assert source_of("captioner", ["image", "label"]) == "image"
    with pytest.raises(ValueError, match="model.condition=\\[image\\]"):
        source_of("captioner", ["text"])


def test_expand_makes_n_per_item_and_names_them(tmp_path):
    Image.new("RGB", (20, 20), "red").save(tmp_path / "a.png")
    cond = SourceConditioner(["image", "label"], 3, SPEC, ["neutral", "positive", "negative"])
    inputs = cond.expand(2, image=[str(tmp_path / "a.png"), torch.zeros(3, 16, 16)], labels=torch.tensor([1, 2]))
    assert cond.samples(2, inputs) == 4 and inputs["image"].shape == (4, 3, 8, 8)
    assert inputs["source_names"] == [str(tmp_path / "a.png")] * 2 + ["image 1"] * 2
    assert inputs["labels"].tolist() == [1, 1, 2, 2]
    c = cond(image=inputs["image"], labels=inputs["labels"])
    assert c.vec.shape == (4, 3) and torch.equal(c.kwargs()["source"], inputs["image"])
    assert cond(image=inputs["image"]).labels.tolist() == [0, 0, 0, 0]          # no style: the first (neutral)


def test_rebuilt_from_its_config_and_clear_errors(tmp_path):
    cond = build_conditioner(SourceConditioner(["image"], 0, SPEC).config)
    assert isinstance(cond, SourceConditioner) and cond.cond_dim == 0 and not list(cond.state_dict())
    with pytest.raises(ValueError, match="reads image"):
        cond()
    with pytest.raises(FileNotFoundError, match="image not found"):
        cond(image=str(tmp_path / "missing.png"))
    (tmp_path / "bad.png").write_text("not a picture")
    with pytest.raises(ValueError, match="unreadable image .*bad.png"):
        cond(image=[str(tmp_path / "bad.png")])


def test_from_batch_reads_the_staged_column():
    cond = SourceConditioner(["image"], 0, SPEC)
    c = cond.from_batch({"image": torch.rand(5, 3, 8, 8) * 2 - 1, "index": torch.arange(5)}, torch.device("cpu"))
    assert c.vec is None and c.source.shape == (5, 3, 8, 8)
