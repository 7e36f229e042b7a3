"""The vector codec: numpy vectors <-> tensors <-> vectors.npy / samples.npy, cells, scatters, JSON lists."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from mmgan.config import Config, ConfigError
from mmgan.data import BadRowsError, DataError, load_dataset
from mmgan.modalities import CellError, ReadOptions, get_codec

from _tiny import ring_dataset


def test_object_tensor_file_round_trip(tmp_path):
    codec = get_codec("vector")
    v = np.array([0.25, -1.5], np.float32)
    x = codec.from_object(v)
    assert x.shape == (2,) and np.array_equal(codec.to_object(x), v)
    batch = torch.stack([x, -x])
    written = codec.write(codec.to_objects(batch), batch, tmp_path, {"name": "toy", "extra": {}})
    assert [p.name for p in written] == ["samples.npy", "scatter.png"]
    assert np.array_equal(np.load(tmp_path / "samples.npy"), batch.numpy())
    cells = codec.write_column(batch, tmp_path)
    reader = codec.reader(ReadOptions(tmp_path))
    back = reader.collate({r + 1: reader.read(str(c)) for r, c in enumerate(cells)})
    assert torch.equal(back.values, batch) and back.index == {1: 0, 2: 1}


def test_bad_cell_names_the_row_and_the_problem(tmp_path):
    np.save(tmp_path / "vectors.npy", np.zeros((3, 2), np.float32))
    with pytest.raises(CellError, match="index 3 is outside vectors.npy"):
        get_codec("vector").reader(ReadOptions(tmp_path)).read(3)
    rows = [{"vector": 0}, {"vector": 7}, {"vector": "two"}]
    (tmp_path / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(BadRowsError) as e:
        load_dataset(str(tmp_path / "manifest.jsonl"))
    assert "row 2, vector: index 7 is outside vectors.npy (rows 0..2)" in str(e.value)
    assert "row 3, vector: expected a row index into vectors.npy, got str 'two'" in str(e.value)
    (tmp_path / "vectors.npy").unlink()
    with pytest.raises(DataError, match="has a 'vector' column but .*vectors.npy is missing"):
        load_dataset(str(tmp_path / "manifest.jsonl"))


def test_scale_and_configure():
    codec = get_codec("vector")
    ds = ring_dataset(200)
    cfg = Config().override(["model.family=mlp"])
    codec.configure(cfg, ds)
    m = cfg.model
    assert m.data_dim == 2 and m.channels == m.resolution == 0 and 0 < m.extra["data_scale"] < 1
    x = ds.columns["vector"]
    model = {"extra": m.extra}
    assert torch.allclose(codec.from_generator(codec.to_generator(x, model), model), x)
    with pytest.raises(ConfigError, match="holds vectors; only model.family=mlp fits it"):
        codec.configure(Config().override(["model.family=dcgan"]), ds)


def test_preview_without_modes_and_response(tmp_path):
    codec = get_codec("vector")
    x = torch.randn(50, 2)
    assert codec.preview(x, tmp_path / "s.png", {"extra": {}}).stat().st_size > 0      # no mixture means: still drawn
    assert codec.response(codec.to_object(x[0])) == {"vector": [float(x[0, 0]), float(x[0, 1])]}
