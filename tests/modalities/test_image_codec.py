"""The image codec: PIL images <-> tensors <-> PNG files, manifest cells, previews, served PNGs."""
from __future__ import annotations

import io
import json

import numpy as np
import pytest
import torch
from PIL import Image

from mmgan.data import BadRowsError, load_dataset
from mmgan.modalities import CellError, ReadOptions, get_codec


def _picture(size=(12, 10)) -> Image.Image:
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8), "RGB")


def test_object_tensor_file_round_trip(tmp_path):
    codec = get_codec("image")
    img = _picture()
    x = codec.from_object(img)
    assert x.shape == (3, 10, 12) and -1 <= x.min() and x.max() <= 1
    assert np.array_equal(np.asarray(codec.to_object(x)), np.asarray(img))       # 8-bit pixels survive exactly
    written = codec.write([img], x[None], tmp_path, {})
    assert [p.name for p in written] == ["00000.png", "grid.png"]
    reader = codec.reader(ReadOptions(tmp_path))
    column = reader.collate({1: reader.read("00000.png")})
    assert column.index == {1: 0} and torch.equal(column.values[0], x)


def test_column_written_and_read_back(tmp_path):
    codec = get_codec("image")
    col = torch.rand(3, 1, 8, 8) * 2 - 1
    cells = codec.write_column(col, tmp_path)
    assert cells == ["images/000000.png", "images/000001.png", "images/000002.png"]
    reader = codec.reader(ReadOptions(tmp_path))
    back = reader.collate({i + 1: reader.read(c) for i, c in enumerate(cells)}).values
    assert back.shape == col.shape and (back - col).abs().max() <= 1 / 255 + 1e-6


def test_bad_cell_names_the_row_and_the_problem(tmp_path):
    codec = get_codec("image")
    with pytest.raises(CellError, match="file not found"):
        codec.reader(ReadOptions(tmp_path)).read("missing.png")
    _picture((8, 8)).save(tmp_path / "a.png")
    rows = [{"image": "a.png"}, {"image": "missing.png"}, {"image": 7}]
    (tmp_path / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(BadRowsError) as e:
        load_dataset(str(tmp_path / "manifest.jsonl"))
    msg = str(e.value)
    assert "row 2, image: file not found" in msg and "row 3, image: expected a file path string" in msg


def test_generator_units_preview_and_response(tmp_path):
    codec = get_codec("image")
    x = torch.rand(5, 3, 16, 16) * 2 - 1
    assert codec.to_generator(x, {"resolution": 16}) is x
    assert codec.to_generator(x, {"resolution": 8}).shape == (5, 3, 8, 8)
    assert Image.open(codec.preview(x, tmp_path / "p.png", {})).size == (2 + 5 * 18, 2 + 18)
    png = codec.response(codec.to_object(x[0]))["png"]
    assert Image.open(io.BytesIO(png)).size == (16, 16)
    figs = codec.report_figures(x, x, {}, "toy")
    assert len(figs) == 2 and figs[1].caption == "real (toy training split)"
