"""data.target (`mmgan train --target COLUMN`): which column a model generates, and where it is kept."""
from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from PIL import Image

from mmgan.api.train import train
from mmgan.cli import main
from mmgan.data import DataError, load_dataset
from mmgan.modalities import default_target, get_codec, target_of_config
from mmgan.pipeline import Pipeline
from mmgan.registry import UnknownNameError
from mmgan.runs import pipeline_config

FAST = ["train.progress=false", "train.tensorboard=false", "model.z_dim=8", "train.batch_size=8",
        "model.g_hidden=[16,16]", "model.d_hidden=[16,16]", "model.g_width=8", "model.d_width=8"]


@pytest.fixture
def both(tmp_path):
    """A manifest whose rows have an image and a 2-D vector."""
    rng = np.random.default_rng(0)
    rows = []
    for i in range(16):
        Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8), "L").save(tmp_path / f"{i}.png")
        rows.append({"image": f"{i}.png", "vector": i, "label": i % 2})
    np.save(tmp_path / "vectors.npy", rng.normal(size=(16, 2)).astype(np.float32))
    (tmp_path / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(tmp_path / "manifest.jsonl")


def test_default_is_the_image_else_the_vector(both):
    assert default_target(["label", "vector", "image"]) == "image" and default_target(["vector", "text"]) == "vector"
    assert default_target(["text", "label"]) == "text"          # captions alone: a text model (the text codec)
    with pytest.raises(UnknownNameError, match="no column a model can generate"):
        default_target(["attributes", "label"])
    ds = load_dataset(both)
    assert ds.info.kind == "image" and ds.info.shape == (1, 8, 8)
    ds = load_dataset(both, target="vector")
    assert ds.info.kind == "vector" and ds.info.shape == (2,)


def test_unknown_target_lists_the_columns(both):
    with pytest.raises(DataError, match=r"no 'sound' column; its columns: image, vector, label"):
        load_dataset(both, target="sound")
    with pytest.raises(DataError, match="no codec generates 'label' columns; a model can generate image, vector"):
        load_dataset(both, target="label")
    with pytest.raises(UnknownNameError, match="no codec for 'sound'"):
        get_codec("sound")


def test_target_trains_is_saved_and_reaches_the_pipeline(both, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--data", both, "--target", "vector", "--set", "model.family=mlp",
                 *[a for kv in FAST for a in ("--set", kv)], "--steps", "1", "--out", str(run)]) == 0
    assert yaml.safe_load((run / "config.yaml").read_text())["data"]["target"] == "vector"
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["model"]["condition"] == []        # vectors: the mlp recipe is unconditional
    pipe = Pipeline.from_pretrained(run, device="cpu")
    assert pipe.target == "vector" and pipe.codec is get_codec("vector") and not pipe.is_image
    out = pipe(num_images=3, seed=0)
    assert len(out.vectors) == 3 and out.vectors[0].shape == (2,) and out.objects is out.vectors
    assert out.samples.shape == (3, 2) and out.images == []
    result = train(data=both, overrides=FAST + ["model.family=dcgan", "model.condition=[]"], out=tmp_path / "img",
                   steps=1, log=lambda m: None)
    pipe = Pipeline.from_pretrained(result.run_dir, device="cpu")
    assert pipe.target == "image" and len(pipe(num_images=2, seed=0).images) == 2


def test_configs_saved_before_data_target_still_name_their_target():
    meta = {"config": {"model": {}, "data": {"name": "ring8"}}, "conditioner": {}, "data": {"kind": "vector"}}
    assert pipeline_config(meta)["data"]["target"] == "vector"
    assert target_of_config({"data": {"kind": "vector"}}) == "vector"
    assert target_of_config({"data": {}}) == target_of_config({}) == "image"
