"""Video files: reading clips (anything PyAV opens, GIFs, folders of frame images) and writing MP4 and GIF.

    clip = read_clip("walk.mp4", square=64)      # RawClip: uint8 frames (n, s, s, 1|3), fps, source side, gray
    write_mp4("out.mp4", frames, 8.0, audio=sound)   # H.264 yuv420p (+ AAC), plays in browsers and players
    data = gif_bytes(frames, 8.0)                # a looping GIF (exact for grayscale frames)

PyAV (`pip install "mmgan[video]"`) is imported only where MP4 (or another container) is read or written;
GIFs and frame folders are read and written with Pillow. Frames are uint8 (t, h, w, c), c = 1 or 3.
"""
from __future__ import annotations

import io
import re
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from .pixels import flatten_alpha

FRAME_SUFFIXES = (".png", ".jpg", ".jpeg")       # what a folder-of-frames cell holds (sorted by name)
MAX_READ_FRAMES = 512         # frames decoded per clip at most (the codec keeps 32; the rest is slack for resampling)
GRAY_TOLERANCE = 2            # a clip whose channels differ by at most this (of 255) everywhere is grayscale
NO_RATE = "mmgan: frame rate not recorded"        # MP4 comment of write_column's files (the rate is dataset.json's)
_GIF_RATE = re.compile(rb"mmgan fps=([0-9.]+)")   # the frame rate mmgan writes into its GIFs' comment


class VideoError(ValueError):
    """A clip that cannot be read (missing, unreadable, no video stream, no frames): the message names it."""


def require_av() -> Any:
    """PyAV, or an ImportError saying how to install it."""
    try:
        import av
    except ImportError:
        raise ImportError('reading and writing MP4 video needs PyAV: pip install "mmgan[video]" '
                          '(or pip install av)') from None
    return av


@dataclass
class RawClip:
    """One decoded clip: frames (n, h, w, 1|3) uint8, its own frame rate (None: the file does not say, as
    for a folder of frames), the shorter side of the source frames, and whether it is grayscale."""
    frames: np.ndarray
    fps: float | None
    side: int
    gray: bool


# ---- frames ------------------------------------------------------------------------------------------

def to_rgb(frames: np.ndarray) -> np.ndarray:
    """(t, h, w), (t, h, w, 1) or (t, h, w, 3) uint8 -> (t, h, w, 3)."""
    f = np.asarray(frames)
    if f.ndim == 3:
        f = f[..., None]
    if f.ndim != 4 or f.shape[-1] not in (1, 3):
        raise ValueError(f"video frames are (t, h, w, c) with c = 1 or 3, got shape {f.shape}")
    if f.dtype != np.uint8:
        raise ValueError(f"video frames are uint8, got {f.dtype}")
    return np.repeat(f, 3, axis=-1) if f.shape[-1] == 1 else f


def pad_even(frames: np.ndarray) -> np.ndarray:
    """Odd heights and widths padded by one row/column repeating the edge (yuv420p needs even sizes)."""
    h, w = frames.shape[1:3]
    if h % 2 == 0 and w % 2 == 0:
        return frames
    return np.pad(frames, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)), mode="edge")


def _square(frame: np.ndarray, cap: int) -> np.ndarray:
    """The centred square of one (h, w, 3) frame, shrunk to at most cap (0 = keep the size)."""
    from PIL import Image

    h, w = frame.shape[:2]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    sq = frame[top:top + s, left:left + s]
    if cap and s > cap:
        sq = np.asarray(Image.fromarray(sq).resize((cap, cap), Image.BILINEAR))
    return sq


def _finish(frames: list[np.ndarray], fps: float | None, side: int) -> RawClip:
    x = np.stack(frames)
    spread = max(int(np.abs(x[..., 0].astype(np.int16) - x[..., 1]).max()),
                 int(np.abs(x[..., 2].astype(np.int16) - x[..., 1]).max()))
    gray = spread <= GRAY_TOLERANCE
    if gray:                                       # exact when the channels agree (R = G = B)
        x = np.round(x.astype(np.float32).mean(axis=-1, keepdims=True)).astype(np.uint8)
    return RawClip(x, fps, side, gray)


# ---- reading -------------------------------------------------------------------------------------------

def read_clip(path: str | Path, square: int = 0, max_frames: int = MAX_READ_FRAMES) -> RawClip:
    """A video file (what PyAV opens: MP4, MOV, WebM, AVI, ...), a GIF, or a folder of PNG/JPG frames
    (sorted by name) -> RawClip. square > 0: each frame is centre-cropped to a square and shrunk to at most
    `square` pixels as it is read (RawClip.side still tells the source's shorter side); square = 0 keeps
    the frames as they are. At most max_frames frames are read. VideoError names the problem and the path."""
    p = Path(path)
    if p.is_dir():
        return _read_folder(p, square, max_frames)
    if not p.is_file():
        raise VideoError(f"file not found: {p}")
    with open(p, "rb") as f:
        magic = f.read(6)
    if magic[:4] == b"GIF8":
        return _read_gif(p, square, max_frames)
    return _read_av(p, square, max_frames)


def _read_folder(p: Path, square: int, max_frames: int) -> RawClip:
    from PIL import Image

    files = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in FRAME_SUFFIXES)
    if not files:
        raise VideoError(f"no frame images ({'/'.join(s[1:].upper() for s in FRAME_SUFFIXES)}) in folder {p}")
    frames, size = [], None
    for f in files[:max_frames]:
        try:
            with Image.open(f) as im:
                a = np.asarray(flatten_alpha(im).convert("RGB"))
        except Exception as e:          # PIL raises UnidentifiedImageError, OSError, ... for broken files
            raise VideoError(f"unreadable frame image {f} ({type(e).__name__}: {e})") from None
        if size is None:
            size = a.shape[:2]
        elif a.shape[:2] != size:
            raise VideoError(f"frame images differ in size in folder {p}: {f.name} is {a.shape[1]}x{a.shape[0]}, "
                             f"the first is {size[1]}x{size[0]}")
        frames.append(_square(a, square) if square else a)
    return _finish(frames, None, int(min(size)))


def _read_gif(p: Path, square: int, max_frames: int) -> RawClip:
    """A GIF's frames at its frame rate: mmgan's own GIFs record it in their comment; for others it is
    1000 / the median frame duration (ms; durations of 10 ms or less play as 100 ms, as browsers do). A
    frame shown k times as long (Pillow merges identical frames) counts k times."""
    from PIL import Image

    try:
        with Image.open(p) as im:
            m = _GIF_RATE.search(im.info.get("comment", b"") or b"")
            frames, durations = [], []
            for i in range(getattr(im, "n_frames", 1)):
                im.seek(i)
                frames.append(np.asarray(im.convert("RGB")))
                durations.append(int(im.info.get("duration") or 0))
                if len(frames) >= max_frames:
                    break
    except Exception as e:              # PIL raises UnidentifiedImageError, OSError, EOFError for broken files
        raise VideoError(f"unreadable GIF {p} ({type(e).__name__}: {e})") from None
    if not frames:
        raise VideoError(f"no frames in {p}")
    if not m:
        durations = [d if d > 10 else 100 for d in durations]
    fps = float(m.group(1)) if m else 1000.0 / float(np.median(durations))
    base = 1000.0 / fps
    side = int(min(frames[0].shape[:2]))
    out = []
    for a, d in zip(frames, durations):
        a = _square(a, square) if square else a
        out += [a] * max(1, int(round(d / base)))
    return _finish(out[:max_frames], fps, side)


def _read_av(p: Path, square: int, max_frames: int) -> RawClip:
    av = require_av()
    try:
        container = av.open(str(p))
    except Exception as e:              # av.FFmpegError (InvalidDataError, ...), OSError
        raise VideoError(f"unreadable video {p} ({type(e).__name__}: {e})") from None
    try:
        if not container.streams.video:
            raise VideoError(f"no video stream in {p}")
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        fps = float(rate) if rate and float(rate) > 0 else None
        if (container.metadata or {}).get("comment") == NO_RATE:
            fps = None
        frames, size = [], None
        try:
            for frame in container.decode(stream):
                if size is None:
                    size = (frame.height, frame.width)
                a = frame.to_ndarray(format="rgb24", width=size[1], height=size[0])
                frames.append(_square(a, square) if square else a)
                if len(frames) >= max_frames:
                    break
        except Exception as e:          # a broken stream part way
            if not frames:
                raise VideoError(f"unreadable video {p} ({type(e).__name__}: {e})") from None
    finally:
        container.close()
    if not frames:
        raise VideoError(f"no frames in {p} (its video stream is empty)")
    return _finish(frames, fps, int(min(size)))


# ---- writing ------------------------------------------------------------------------------------------

def _rate(fps: float) -> Fraction:
    if not fps or fps <= 0:
        raise ValueError(f"fps must be > 0, got {fps}")
    return Fraction(float(fps)).limit_denominator(1001)


def write_mp4(target: Any, frames: np.ndarray, fps: float, audio: Any = None, lossless: bool = False,
              comment: str = "") -> None:
    """frames (t, h, w, 1|3) uint8 at fps as an MP4 file at target (a path).

    Default: H.264 High, yuv420p, CRF 18, +faststart: what browsers and players play (grayscale is expanded
    to RGB, odd sizes padded to even). audio (a Sound: mono waveform + rate) is muxed as AAC.
    lossless=True: H.264 RGB at QP 0 (libx264rgb): the frames come back exactly, but few players beyond
    FFmpeg-based ones show it (for dataset files, not for people)."""
    av = require_av()
    rgb = to_rgb(frames)
    if not lossless:
        rgb = pad_even(rgb)
    t, h, w = rgb.shape[:3]
    if t == 0:
        raise ValueError("a video needs at least one frame")
    container = av.open(target, mode="w", format="mp4",
                        options={} if lossless else {"movflags": "+faststart"})
    try:
        if comment:
            container.metadata["comment"] = comment
        vs = container.add_stream("libx264rgb" if lossless else "libx264", rate=_rate(fps))
        vs.width, vs.height = w, h
        vs.pix_fmt = "rgb24" if lossless else "yuv420p"
        vs.options = {"qp": "0", "preset": "medium"} if lossless else {"crf": "18", "preset": "medium"}
        aus = None
        if audio is not None:
            aus = container.add_stream("aac", rate=int(audio.sample_rate))
            aus.layout = "mono"
            aus.bit_rate = 96000
        for i, f in enumerate(rgb):
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")
            vf.pts = i
            container.mux(vs.encode(vf))
        container.mux(vs.encode(None))
        if aus is not None:
            wave = np.clip(np.asarray(audio.waveform, dtype=np.float32).reshape(1, -1), -1, 1)
            if wave.shape[1]:
                af = av.AudioFrame.from_ndarray(np.ascontiguousarray(wave), format="fltp", layout="mono")
                af.sample_rate = int(audio.sample_rate)
                af.pts = 0
                container.mux(aus.encode(af))
            container.mux(aus.encode(None))
    finally:
        container.close()


def mp4_bytes(frames: np.ndarray, fps: float, audio: Any = None, lossless: bool = False, comment: str = "") -> bytes:
    """write_mp4's file as bytes (through a temporary file: +faststart moves the index to the front, which
    needs a file it can read back)."""
    with tempfile.TemporaryDirectory(prefix="mmgan-mp4-") as d:
        p = Path(d) / "clip.mp4"
        write_mp4(str(p), frames, fps, audio, lossless, comment)
        return p.read_bytes()


def gif_bytes(frames: np.ndarray, fps: float) -> bytes:
    """A looping GIF: grayscale frames (c = 1) exactly, colour ones on a 256-colour palette per frame.
    GIF delays are whole centiseconds: each frame's delay is chosen so that the clip keeps fps on
    average (8 fps: 13, 12, 13, 12 cs ...), and the comment records fps (what read_clip reads back)."""
    from PIL import Image

    f = np.asarray(frames)
    f = f[..., None] if f.ndim == 3 else f
    rate = float(_rate(fps))
    gray = f.shape[-1] == 1
    images = [Image.fromarray(np.ascontiguousarray(a[..., 0] if gray else a), "L" if gray else "RGB") for a in f]
    if not images:
        raise ValueError("a GIF needs at least one frame")
    ends = [int(round(100 * (i + 1) / rate)) for i in range(len(images))]
    delays = [10 * max(1, e - s) for s, e in zip([0] + ends[:-1], ends)]
    buf = io.BytesIO()
    images[0].save(buf, format="GIF", save_all=True, append_images=images[1:], duration=delays, loop=0,
                   comment=f"mmgan fps={rate:g}".encode())
    return buf.getvalue()
