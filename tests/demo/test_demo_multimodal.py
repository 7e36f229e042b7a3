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


def test_long_labels_wrap_instead_of_being_cut(paired, tmp_path):
    """A long caption is wrapped onto the lines its row has room for, not cut at label_chars."""
    import numpy as np

    rows = [paired.columns["image"][:2]]
    long = "a mini, tangerine starlet positioned near the right edge"

    def text_lines(label):
        with Image.open(labelled_grid(rows, [label], tmp_path / "p.png", "t", label_chars=24)) as im:
            a = np.asarray(im.convert("L"))
        band = a[24:, : 7 * 24] < 128                          # the label column under the title
        inked = band.any(1)
        return int((inked[1:] & ~inked[:-1]).sum() + inked[0])  # separate runs of inked pixel rows

    assert text_lines("short") == 1
    assert text_lines(long) >= 2                               # wrapped (cut, it was one line)
