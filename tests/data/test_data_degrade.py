"""mmgan.data.degrade: shapes, determinism for a seed, loud errors."""
from __future__ import annotations

import pytest
import torch

from mmgan.data.degrade import KINDS, bicubic_down, bicubic_up, degrade, gaussian_blur, jpeg, parse_kinds, seeded


def _hr(c: int = 3, side: int = 32) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(3, c, side, side, generator=g) * 2 - 1
    return gaussian_blur(x, 1.0)                     # image-like: neighbouring pixels agree


@pytest.mark.parametrize("spec", ["bicubic", "blur", "noise", "jpeg", "blur,noise,jpeg", "second-order"])
@pytest.mark.parametrize("scale", [2, 4])
def test_deterministic_for_a_seed(spec, scale):
    hr = _hr()
    a, b = degrade(hr, scale, spec, seeded(7)), degrade(hr, scale, spec, seeded(7))
    assert a.shape == (3, 3, 32 // scale, 32 // scale)
    assert torch.equal(a, b)
    assert a.min() >= -1 and a.max() <= 1
    if spec != "bicubic":                            # random kinds change with the seed
        assert not torch.equal(a, degrade(hr, scale, spec, seeded(8)))


def test_grey_images_and_restoration_scale_1():
    hr = _hr(c=1)
    assert degrade(hr, 1, "noise,jpeg", seeded(0)).shape == hr.shape
    assert degrade(hr, 4, "second-order", seeded(0)).shape == (3, 1, 8, 8)


def test_bicubic_round_trip_is_close_on_smooth_images():
    hr = gaussian_blur(_hr(), 2.0)
    err = (bicubic_up(bicubic_down(hr, 2), 2) - hr).abs().mean()
    assert err < 0.05


def test_jpeg_keeps_shape_and_quality_matters():
    hr = _hr()
    lo, hi = (jpeg(hr, q) for q in (10, 95))
    assert lo.shape == hr.shape
    assert (lo - hr).abs().mean() > (hi - hr).abs().mean()


def test_errors_are_loud():
    with pytest.raises(ValueError, match="unknown degradation 'sharpen'"):
        parse_kinds("blur,sharpen")
    with pytest.raises(ValueError, match="does not divide"):
        bicubic_down(torch.zeros(1, 1, 30, 30), 4)
    with pytest.raises(ValueError, match="give it alone"):
        degrade(_hr(), 2, "second-order,noise")
    assert set(parse_kinds(",".join(KINDS[:4]))) == set(KINDS[:4])
