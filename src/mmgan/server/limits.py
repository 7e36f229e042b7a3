"""Limits: body size, audio length, image pixels, n and k, and a rate per API key.

Every violation is a LimitExceeded: an HTTP 4xx whose JSON names the limit, e.g.
    413 {"detail": "request body is 20000000 bytes; the limit max_body_bytes is 16777216", "limit": "max_body_bytes", ...}
"""
from __future__ import annotations

import io
import math
import threading
import time
from typing import Any

import numpy as np

from .settings import Limits
from ..data.audio import resample


class LimitExceeded(Exception):
    def __init__(self, limit: str, message: str, status: int = 413, value: Any = None, maximum: Any = None,
                 headers: dict | None = None):
        super().__init__(message)
        self.limit, self.message, self.status = limit, message, status
        self.value, self.maximum, self.headers = value, maximum, headers or {}

    def body(self) -> dict:
        return {"detail": self.message, "limit": self.limit, "value": self.value, "max": self.maximum}


class BadUpload(Exception):
    """An upload that is not what its field says (not an image, not audio). Answered 400 naming the field."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field, self.message = field, message


def check_max(limit: str, value: float, maximum: float, what: str, status: int = 422) -> None:
    if value > maximum:
        raise LimitExceeded(limit, f"{what} is {value}; the limit {limit} is {maximum}", status, value, maximum)


# ---- request body ----------------------------------------------------------------------------------
class BodySizeLimit:
    """ASGI middleware: refuse bodies over max_body_bytes, by Content-Length up front or by counting chunks."""

    def __init__(self, app, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = None
        for k, v in scope.get("headers", ()):
            if k == b"content-length":
                try:
                    length = int(v)
                except ValueError:
                    length = None
        if length is not None and length > self.max_bytes:
            return await _send_json(send, 413, LimitExceeded(
                "max_body_bytes", f"request body is {length} bytes; the limit max_body_bytes is {self.max_bytes}",
                value=length, maximum=self.max_bytes).body())
        seen = 0
        max_bytes = self.max_bytes

        async def counted():
            nonlocal seen
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > max_bytes:
                    raise LimitExceeded("max_body_bytes", f"request body exceeds the limit max_body_bytes of "
                                        f"{max_bytes} bytes", value=seen, maximum=max_bytes)
            return msg

        return await self.app(scope, counted if length is None else receive, send)


async def _send_json(send, status: int, body: dict) -> None:
    import json

    data = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": data})


# ---- rate per key ----------------------------------------------------------------------------------
class RateLimiter:
    """Token bucket per key: `burst` requests at once, refilled at `per_minute`. O(keys) memory."""

    def __init__(self, per_minute: float, burst: int):
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def check(self, key_id: str, per_minute_text: str = "") -> None:
        if self.rate <= 0:
            return
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key_id, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens < 1.0:
                wait = (1.0 - tokens) / self.rate
                self._buckets[key_id] = (tokens, now)
                per_min = self.rate * 60
                raise LimitExceeded("rate_per_minute", f"rate limit exceeded: {per_min:g} requests per minute per key "
                                    f"(burst {int(self.burst)}); retry in {wait:.1f}s", 429, value=None,
                                    maximum=per_min, headers={"Retry-After": str(max(1, math.ceil(wait)))})
            self._buckets[key_id] = (tokens - 1.0, now)


# ---- uploads -----------------------------------------------------------------------------------------
def read_image(data: bytes, limits: Limits, field: str = "image"):
    """Decode an uploaded image after checking its pixel count from the header (no decompression bombs)."""
    from PIL import Image, UnidentifiedImageError

    if not data:
        raise BadUpload(field, f"{field}: the upload is empty")
    try:
        img = Image.open(io.BytesIO(data))
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise BadUpload(field, f"{field}: not an image PIL can read ({type(e).__name__})") from None
    w, h = img.size
    check_max("max_image_pixels", w * h, limits.max_image_pixels, f"{field} size {w}x{h} in pixels", 413)
    try:
        img.load()
    except Exception as e:  # truncated, corrupt, bomb
        raise BadUpload(field, f"{field}: cannot decode the image ({type(e).__name__}: {e})") from None
    return img


def read_audio(data: bytes, limits: Limits, sample_rate: int = 16000, field: str = "audio",
               limit: str = "max_audio_seconds") -> np.ndarray:
    """Decode an uploaded clip (WAV, FLAC, OGG) to float32 mono at sample_rate, after checking its length
    against `limit` (a Limits field: max_audio_seconds for conditions, max_transcribe_seconds for recordings)."""
    import soundfile as sf


    if not data:
        raise BadUpload(field, f"{field}: the upload is empty")
    try:
        info = sf.info(io.BytesIO(data))
    except Exception as e:
        raise BadUpload(field, f"{field}: not audio libsndfile can read (WAV, FLAC, OGG) ({type(e).__name__})") from None
    seconds = info.frames / max(1, info.samplerate)
    check_max(limit, round(seconds, 3), getattr(limits, limit), f"{field} length in seconds", 413)
    try:
        x, sr = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except Exception as e:
        raise BadUpload(field, f"{field}: cannot decode the audio ({type(e).__name__})") from None
    if x.shape[0] == 0:
        raise BadUpload(field, f"{field}: the clip has no samples")
    return resample(x.mean(axis=1), sr, sample_rate)
