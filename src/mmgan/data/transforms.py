"""The image tensor helpers moved to mmgan.modalities.pixels (the image codec's); this module keeps the
old import path working for code written against it."""
from __future__ import annotations

from ..modalities.pixels import (center_square, flatten_alpha, from_pil, make_grid, native_channels,  # noqa: F401
                                 resize_images, resize_pil, save_grid, to_pil, to_uint8)
