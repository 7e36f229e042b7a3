"""Image conversions and sample grids."""
import torch
from PIL import Image

from mmgan.data import from_pil, save_grid, to_pil


def test_pil_round_trip_within_rounding():
    x = torch.rand(3, 10, 12) * 2 - 1
    img = to_pil(x)
    assert img.mode == "RGB" and img.size == (12, 10)
    assert (from_pil(img) - x).abs().max() <= 1 / 255 + 1e-6
    assert to_pil(x[:1]).mode == "L"
    rgba = Image.new("RGBA", (20, 10), (255, 0, 0, 0))        # fully transparent: white after flattening
    assert torch.allclose(from_pil(rgba), torch.ones(3, 10, 20))
    assert from_pil(rgba, resolution=8, channels=1).shape == (1, 8, 8)


def test_save_grid(tmp_path):
    p = save_grid(torch.rand(10, 3, 8, 8) * 2 - 1, tmp_path / "g" / "grid.png", nrow=4)
    img = Image.open(p)
    assert img.size == (4 * 10 + 2, 3 * 10 + 2) and img.mode == "RGB"
    assert [f.name for f in p.parent.iterdir()] == ["grid.png"]   # no temporary left behind
