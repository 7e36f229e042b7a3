"""The demo's helpers (the demo itself trains for minutes: `make demo`)."""
from __future__ import annotations

import torch
from PIL import Image

from mmgan.demo.multimodal import DEMO_OVERRIDES, _distinct, demo_items
from mmgan.demo.pictures import labelled_grid


def test_demo_settings_resolve():
    from mmgan.config import Config

    cfg = Config().override(DEMO_OVERRIDES)
    assert cfg.model.family == "dfgan" and cfg.loss.phases == "matching" and cfg.model.condition == ["text", "audio"]
    assert demo_items(1) == 1000 and demo_items(8) == 4000 and demo_items(60) == 6000


def test_picture_and_distinct(paired, tmp_path):
    picks = _distinct(paired, 3)
    assert len({tuple(paired.columns["attributes"][i].tolist()) for i in picks}) == 3
    rows = [paired.columns["image"][:4], paired.columns["image"][4:6]]
    path = labelled_grid(rows, ["text: a red block", "speech"], tmp_path / "p.png", "title\nfigures: 97%")
    with Image.open(path) as im:
        assert im.size[1] > 2 * 32 + 2 * 14 and im.mode == "RGB"
    assert torch.is_tensor(rows[0])
