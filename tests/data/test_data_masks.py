"""mmgan.data.masks and the restoration degradations (mmgan.data.degrade.damage): deterministic for a seed,
holes of sensible size, a user's mask file read white = hole with loud errors naming the file."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from mmgan.data.degrade import damage, parse_restore_kinds, seeded
from mmgan.data.masks import HOLE_AREA, load_mask, random_masks


@pytest.mark.parametrize("kinds", [("strokes",), ("boxes",), ("strokes", "boxes")])
def test_random_masks_are_deterministic_and_sized(kinds):
    a = random_masks(6, 40, 32, seeded(3), kinds)
    assert a.shape == (6, 1, 40, 32) and set(a.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(a, random_masks(6, 40, 32, seeded(3), kinds))
    assert not torch.equal(a, random_masks(6, 40, 32, seeded(4), kinds))
    area = a.mean(dim=(1, 2, 3))
    assert bool((area > 0).all()) and bool((area <= HOLE_AREA[1] + 1e-6).all())


def test_unknown_mask_kind_is_loud():
    with pytest.raises(ValueError, match="unknown mask kind 'circles'"):
        random_masks(1, 8, 8, seeded(0), ("circles",))


@pytest.mark.parametrize("spec", ["mask", "noise", "jpeg", "noise,jpeg,mask"])
def test_damage_is_deterministic_for_a_seed(spec):
    clean = torch.rand(8, 3, 24, 24) * 2 - 1
    d1, m1 = damage(clean, spec, seeded(5))
    d2, m2 = damage(clean, spec, seeded(5))
    assert torch.equal(d1, d2) and torch.equal(m1, m2)
    assert d1.shape == clean.shape and m1.shape == (8, 1, 24, 24)
    assert torch.equal(d1 * m1, torch.zeros_like(d1))            # holes are zeroed (mid-grey)
    assert ("mask" in spec) == bool(m1.any())
    assert not torch.equal(d1, damage(clean, spec, seeded(6))[0])


def test_several_kinds_give_each_image_a_subset():
    clean = torch.zeros(64, 1, 16, 16)
    damaged, mask = damage(clean, "noise,mask", seeded(0))
    holes = mask.flatten(1).any(1)
    noisy = (damaged * (1 - mask)).flatten(1).abs().amax(1) > 0
    assert holes.any() and (~holes).any() and noisy.any() and (~noisy).any()
    assert bool((holes | noisy).all())                             # never undamaged


def test_restore_kinds_are_checked():
    assert parse_restore_kinds("mask, noise") == ("noise", "mask")
    with pytest.raises(ValueError, match="valid: noise, jpeg, mask"):
        parse_restore_kinds("noise,blur")


def test_load_mask_white_is_hole_and_errors_name_the_file(tmp_path):
    a = np.zeros((10, 14), np.uint8)
    a[2:5, 3:9] = 255
    Image.fromarray(a).convert("RGB").save(tmp_path / "m.png")
    m = load_mask(tmp_path / "m.png", (10, 14))
    assert m.shape == (1, 1, 10, 14) and int(m.sum()) == 18 and m[0, 0, 3, 4] == 1
    with pytest.raises(ValueError, match=r"m\.png is 14x10 pixels but its image is 20x10"):
        load_mask(tmp_path / "m.png", (10, 20))
    (tmp_path / "junk.png").write_bytes(b"not an image")
    with pytest.raises(ValueError, match=r"junk\.png is not a readable image"):
        load_mask(tmp_path / "junk.png")
    with pytest.raises(FileNotFoundError, match="mask not found"):
        load_mask(tmp_path / "nope.png")
