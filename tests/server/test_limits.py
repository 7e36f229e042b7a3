from __future__ import annotations

import pytest

from mmgan.server.limits import BadUpload, LimitExceeded, RateLimiter, read_audio, read_image
from mmgan.server.settings import Limits

from .conftest import png_bytes, wav_bytes


def test_rate_limiter_allows_burst_then_names_the_limit():
    rl = RateLimiter(per_minute=60, burst=3)
    for _ in range(3):
        rl.check("k1")
    with pytest.raises(LimitExceeded) as e:
        rl.check("k1")
    assert e.value.status == 429 and e.value.limit == "rate_per_minute" and "60 requests per minute" in e.value.message
    assert int(e.value.headers["Retry-After"]) >= 1
    rl.check("k2")                                   # per key
    RateLimiter(per_minute=0, burst=1).check("k")    # 0 = off


def test_image_pixels_checked_before_decoding():
    img = read_image(png_bytes(20, 10), Limits(max_image_pixels=200))
    assert img.size == (20, 10)
    with pytest.raises(LimitExceeded) as e:
        read_image(png_bytes(20, 11), Limits(max_image_pixels=200))
    assert e.value.limit == "max_image_pixels" and "20x11" in e.value.message


@pytest.mark.parametrize("data", [b"", b"not an image", png_bytes()[:30]])
def test_bad_images_name_the_field(data):
    with pytest.raises(BadUpload) as e:
        read_image(data, Limits(), field="image")
    assert e.value.field == "image"


def test_audio_length_limit_and_resampling():
    x = read_audio(wav_bytes(0.5, sr=8000), Limits(max_audio_seconds=1), sample_rate=16000)
    assert x.dtype.name == "float32" and abs(len(x) - 8000) <= 1
    with pytest.raises(LimitExceeded) as e:
        read_audio(wav_bytes(1.5), Limits(max_audio_seconds=1))
    assert e.value.limit == "max_audio_seconds"
    with pytest.raises(BadUpload):
        read_audio(b"RIFF0000WAVEjunk", Limits())
