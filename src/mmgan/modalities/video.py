"""The video codec: short clips as an output modality.

Data units are clips: (T, C, H, W) float32 in [-1, 1], T frames of C = 1 (grayscale) or 3 (RGB)
channels; a dataset's `video` column is one (N, T, C, H, W) tensor, and a dataset with video sets
info.extra["fps"] (frames per second). Generators make the data units themselves (mocogan);
model.extra.video = {"frames": T, "fps": fps} records the clips' length and rate.

A manifest's `video` cells name an MP4 (or anything PyAV opens: MOV, WebM, AVI, ...), a GIF, or a
folder of frame images (PNG/JPG, in name order), relative to the manifest's folder. They are read by
one rule (mmgan.modalities.video_files reads them):
  frame rate  the median of the clips' own rates is the column's (info.extra["fps"]); a clip at
              another rate is resampled to it by taking, for each output frame, the source frame
              nearest in time. Folders of frames (and write_column's files) have no rate of their own:
              they take dataset.json's extra.fps next to the manifest when it gives one, else DEFAULT_FPS
  length      the median clip length in frames (at the common rate), at most MAX_FRAMES; longer
              clips are cut at the end, shorter ones padded by repeating their last frame
  size        every frame is centre-cropped to a square and resized to data.resolution, or else to
              the median of the clips' shorter sides, at most MAX_SIDE
  channels    data.channels, or else 1 when every clip is grayscale (its channels agree within
              GRAY_TOLERANCE), else 3 (grayscale clips expanded); with data.channels=1 colour clips are bad rows
A cell naming a missing file, one that is not a video, one with no video stream or no frames, or
an empty folder is a bad row like any other.

Generated objects are `Video`s: (frames uint8 (T, H, W, C), fps, audio: a Sound or None) with
.save("x.mp4" | "x.gif"), .mp4_bytes(), .gif_bytes(). A model reading a clip raw gives each video
that clip as its sound track (Codec.dress). generate writes NNNNN.mp4 (H.264 yuv420p, with the AAC
sound track when there is one) and NNNNN.gif per sample and a frame sheet (frames.png: one clip per
row, time left to right); the server returns MP4 bytes.
"""
from __future__ import annotations

import json
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch

from ..config import ConfigError, read_config
from ..utils import atomic_write
from .audio import SAMPLE_RATE, Sound
from .base import CellError, Codec, Column, ColumnError, ColumnReader, Figure, ReadOptions, cell_path, register_codec
from .pixels import make_grid, to_pil
from .sound import fit_length
from .video_files import NO_RATE, RawClip, VideoError, gif_bytes, mp4_bytes, read_clip, write_mp4

DEFAULT_FPS = 8.0             # the frame rate of clips that do not say theirs (and of undressed generated ones)
MAX_FRAMES = 32               # the longest clip length (frames) chosen from the data
MAX_SIDE = 64                 # the largest frame side chosen from the data (data.resolution sets any)
SHEET_ROWS = 8                # clips in a frame sheet at most
SHEET_FRAMES = 16             # frames per clip in a frame sheet at most (evenly picked)
SUFFIXES = (".mp4", ".gif")   # what Video.save writes


class Video(NamedTuple):
    """One generated clip: uint8 frames (T, H, W, C) with C = 1 or 3, its frame rate, and its sound track
    (a Sound, or None)."""
    frames: np.ndarray
    fps: float = DEFAULT_FPS
    audio: Sound | None = None

    def save(self, path: str | Path) -> Path:
        """Write .mp4 (H.264 yuv420p; the sound track as AAC) or .gif, by the suffix (atomic); returns the path."""
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix == ".mp4":
            atomic_write(path, lambda tmp: write_mp4(tmp, self.frames, self.fps, self.audio))
        elif suffix == ".gif":
            data = self.gif_bytes()
            atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))
        else:
            raise ValueError(f"cannot save a video as {path.name!r}: valid suffixes are {', '.join(SUFFIXES)}")
        return path

    def mp4_bytes(self) -> bytes:
        """The clip as an MP4 file's bytes (H.264 yuv420p, +faststart; AAC sound track when audio is set)."""
        return mp4_bytes(self.frames, self.fps, self.audio)

    def gif_bytes(self) -> bytes:
        """The clip as a looping GIF's bytes (no sound)."""
        return gif_bytes(self.frames, self.fps)

    @property
    def seconds(self) -> float:
        return len(self.frames) / float(self.fps)

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        """np.asarray(video) is its frames (T, H, W, C)."""
        x = np.asarray(self.frames, dtype=dtype)
        return x.copy() if copy else x


def to_frames(x: torch.Tensor) -> np.ndarray:
    """(T, C, H, W) in [-1, 1] -> uint8 (T, H, W, C)."""
    u8 = ((x.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return u8.permute(0, 2, 3, 1).contiguous().numpy()


def from_frames(frames: np.ndarray) -> torch.Tensor:
    """uint8 (T, H, W, C) or (T, H, W) -> (T, C, H, W) float32 in [-1, 1]."""
    f = np.asarray(frames)
    f = f[..., None] if f.ndim == 3 else f
    if f.ndim != 4 or f.shape[-1] not in (1, 3):
        raise ValueError(f"video frames are uint8 (T, H, W, C) with C = 1 or 3, got shape {f.shape}")
    return torch.from_numpy(np.ascontiguousarray(f.transpose(0, 3, 1, 2))).float() / 127.5 - 1


@register_codec
class VideoCodec(Codec):
    name = "video"
    attribute = "video"
    media_type = "video/mp4"
    store_asset = None                # the store keeps no clips (no embedder reads video)
    families = ("mocogan",)
    preset = "mocogan-moving-digits"  # what `mmgan train` on clips with no family trains (training.recipes)
    rank = 1                          # after images, before audio: clips with a sound track generate the clips
    preview_count = 8
    bf16_auto = True
    channels_last = False             # (b, t, c, h, w): five dimensions, no channels-last layout

    # ---- tensors <-> objects ----------------------------------------------------------------------
    def to_object(self, x: torch.Tensor) -> Video:
        if x.dim() != 4:
            raise ValueError(f"a video sample is (T, C, H, W), got shape {tuple(x.shape)}")
        return Video(to_frames(x), DEFAULT_FPS, None)

    def from_object(self, obj: Any) -> torch.Tensor:
        """A Video, uint8 frames (T, H, W, C), a (T, C, H, W) tensor in [-1, 1], or a path (a video file, a GIF
        or a folder of frames, at its own size, rate and channels) -> (T, C, H, W) in [-1, 1]."""
        if isinstance(obj, Video):
            return from_frames(obj.frames)
        if isinstance(obj, (str, Path)):
            return from_frames(read_clip(obj).frames)
        if torch.is_tensor(obj):
            if obj.dim() != 4:
                raise ValueError(f"a video tensor is (T, C, H, W) in [-1, 1], got shape {tuple(obj.shape)}")
            return obj.float()
        a = np.asarray(obj)
        if a.dtype == np.uint8:
            return from_frames(a)
        if a.ndim == 4 and a.shape[1] in (1, 3):
            return torch.from_numpy(a.astype(np.float32))
        raise ValueError(f"expected a Video, uint8 frames (T, H, W, C), a (T, C, H, W) tensor or a path; "
                         f"got {type(obj).__name__} of shape {getattr(a, 'shape', '?')}")

    def collate(self, items: list) -> torch.Tensor:
        shapes = {tuple(t.shape) for t in items}
        if len(shapes) > 1:
            raise ColumnError(f"video clips differ in shape (T, C, H, W): {', '.join(map(str, sorted(shapes)[:5]))}; "
                              f"clips of one batch need the same frame count, channels and size (the video codec "
                              f"does not pad: a manifest's reader settles them)")
        return torch.stack([torch.as_tensor(t, dtype=torch.float32) for t in items])

    def dress(self, objects: list, model: Mapping, sources: Mapping) -> list:
        """Videos at the model's frame rate (model.extra.video.fps); when the samples were made from clips
        (sources["audio"]: (b, samples) at 16 kHz, one row per sample), each gets its row as its sound track,
        cut or zero-padded to the video's length."""
        video = ((model or {}).get("extra") or {}).get("video") or {}
        fps = float(video.get("fps") or 0)
        audio = (sources or {}).get("audio")
        rate = int((((model or {}).get("extra") or {}).get("source") or {}).get("sample_rate") or SAMPLE_RATE)
        if audio is not None:
            audio = torch.as_tensor(audio).detach().float().cpu()
            audio = audio.reshape(len(audio), -1) if audio.dim() != 1 else audio[None]
            if len(audio) != len(objects):
                raise ValueError(f"{len(audio)} source clips for {len(objects)} videos: give one clip per video")
        out = []
        for i, v in enumerate(objects):
            v = v._replace(fps=fps) if fps > 0 else v
            if audio is not None:
                samples = int(round(len(v.frames) / float(v.fps) * rate))
                v = v._replace(audio=Sound(fit_length(audio[i].numpy(), samples), rate))
            out.append(v)
        return out

    # ---- config ---------------------------------------------------------------------------------------
    def default_condition(self, info: Any) -> tuple[list, str] | None:
        """The frames are drawn from the clip's sound: a video model reads its audio column raw."""
        if "audio" not in info.modalities:
            raise ConfigError(f"a video model draws frames from their sound (mocogan reads the audio raw); dataset "
                              f"{info.name!r} has no audio column (columns: {', '.join(info.modalities)})")
        return ["audio"], "the frames are drawn from their sound"

    def recipe(self, condition: list) -> tuple[str | None, dict, str] | None:
        """The preset's settings, whatever the data (a user's manifest, talking-shape, moving-digits-av)."""
        settings = read_config(self.preset)
        settings.pop("data", None)
        return self.preset, settings, f"the sound -> video recipe of preset {self.preset} (mocogan)"

    def configure(self, cfg: Any, ds: Any) -> None:
        super().configure(cfg, ds)
        t, c, h, w = (int(v) for v in ds.info.shape)
        if h != w:
            raise ConfigError(f"video frames are {h}x{w}; mmgan trains on square frames: set data.resolution "
                              f"(clips are centre-cropped to squares)")
        m = cfg.model
        m.channels, m.resolution = c, h
        m.extra["video"] = {"frames": t, "fps": float(ds.info.extra.get("fps", DEFAULT_FPS))}

    def check_model(self, model: Mapping) -> dict:
        video = (model.get("extra") or {}).get("video")
        if not video or "frames" not in video:
            raise ConfigError("this video model's config has no model.extra.video (frames, fps); "
                              "it was not configured for video data")
        return dict(model)

    # ---- manifests ------------------------------------------------------------------------------------
    def reader(self, opts: ReadOptions) -> ColumnReader:
        return _VideoReader(self, opts)

    def write_column(self, column: Any, folder: Path) -> list:
        """Clips as lossless MP4s under folder/video/: H.264 RGB at QP 0 (libx264rgb) gives every frame back
        exactly, grayscale and colour alike, one file per clip. (yuv420p would blur colour and shift grey
        levels; a GIF keeps grayscale exactly but puts colour on a 256-colour palette.) The files say their
        frame rate is not recorded: a column does not know it; the reader takes dataset.json's extra.fps,
        which write_manifest writes next to them."""
        (Path(folder) / "video").mkdir(parents=True, exist_ok=True)
        cells = []
        for i, x in enumerate(column):
            name = f"video/{i:06d}.mp4"
            Path(folder, name).write_bytes(mp4_bytes(to_frames(torch.as_tensor(x)), DEFAULT_FPS, lossless=True,
                                                     comment=NO_RATE))   # not fsynced one by one: the manifest is last
            cells.append(name)
        return cells

    # ---- outputs --------------------------------------------------------------------------------------
    def write(self, objects: list, x: Any, folder: Path, info: Mapping) -> list[Path]:
        written = []
        for i, v in enumerate(objects):
            written += [v.save(Path(folder) / f"{i:05d}.mp4"), v.save(Path(folder) / f"{i:05d}.gif")]
        batch = x if torch.is_tensor(x) else torch.stack([from_frames(v.frames) for v in objects])
        written.append(self.preview(batch, Path(folder) / "frames.png", info,
                                    title=f"{info.get('name', '')}: {len(objects)} generated clips"))
        return written

    def preview(self, x: torch.Tensor, path: Path, info: Mapping, title: str = "", real: Any = None) -> Path:
        """A frame sheet: one clip per row (at most SHEET_ROWS), its frames left to right (at most SHEET_FRAMES,
        evenly picked), under a title."""
        img = _titled(frame_sheet(x), title)
        atomic_write(path, lambda tmp: img.save(tmp, format="PNG"))
        return Path(path)

    def report_figures(self, fake: torch.Tensor, real: torch.Tensor, info: Mapping, name: str) -> list[Figure]:
        return [Figure(self._preview_png(fake, info, title="generated (EMA generator)"),
                       "generated clips (EMA generator): one clip per row, time left to right"),
                Figure(self._preview_png(real, info, title=f"real ({name})"),
                       f"real clips ({name} training split): one clip per row, time left to right")]

    def tensorboard(self, writer: Any, x: torch.Tensor, step: int) -> None:
        writer.add_image("samples", (frame_sheet(x) + 1) / 2, step)

    def response(self, obj: Video) -> dict:
        return {"mp4": obj.mp4_bytes(), "seconds": round(obj.seconds, 3), "fps": float(obj.fps),
                "frames": int(len(obj.frames))}


def frame_sheet(x: torch.Tensor, rows: int = SHEET_ROWS, frames: int = SHEET_FRAMES) -> torch.Tensor:
    """Clips (n, T, C, H, W) in [-1, 1] -> one (C, H', W') picture: a row per clip (the first `rows`), `frames`
    of its frames evenly picked, left to right, 2-pixel gaps."""
    x = torch.as_tensor(x).detach().float().cpu()
    if x.dim() == 4:
        x = x[None]
    if x.dim() != 5:
        raise ValueError(f"clips are (n, T, C, H, W), got shape {tuple(x.shape)}")
    x = x[:rows]
    t = x.shape[1]
    k = min(frames, t)
    idx = torch.from_numpy(np.linspace(0, t - 1, k).round().astype(np.int64))
    return make_grid(x[:, idx].reshape(-1, *x.shape[2:]), nrow=k, padding=2)


def _titled(sheet: torch.Tensor, title: str):
    """The sheet as a PIL image with the title (and the reading direction) on a band above it."""
    from PIL import Image, ImageDraw, ImageFont

    img = to_pil(sheet).convert("RGB")
    words = (f"{title}: " if title else "") + "one clip per row, time left to right"
    lines = textwrap.wrap(words, max(12, img.width // 6)) or [""]
    band = 14 * len(lines) + 4
    out = Image.new("RGB", (img.width, img.height + band), "white")
    out.paste(img, (0, band))
    draw, font = ImageDraw.Draw(out), ImageFont.load_default()
    for i, line in enumerate(lines):
        draw.text((2, 2 + 14 * i), line, fill="black", font=font)
    return out


class _VideoReader(ColumnReader):
    """Decodes each clip as it is read (centre-cropped square, shrunk to at most the side it can end at);
    the frame rate, length, size and channels are settled over the column (the module docstring's rule)."""

    def read(self, value: Any) -> RawClip:
        p = cell_path(value, self.opts.folder)
        try:
            return read_clip(p, square=self.opts.resolution or MAX_SIDE)
        except VideoError as e:
            raise CellError(str(e)) from None

    def stated_fps(self) -> float:
        """The frame rate of clips that have none of their own: dataset.json's extra.fps, else DEFAULT_FPS."""
        try:
            meta = json.loads((Path(self.opts.folder) / "dataset.json").read_text(encoding="utf-8"))
            fps = float((meta.get("extra") or {}).get("fps") or 0)
        except (OSError, ValueError, TypeError, AttributeError):
            fps = 0.0
        return fps if fps > 0 else DEFAULT_FPS

    def collate(self, cells: Mapping[int, RawClip]) -> Column:
        rows = sorted(cells)
        if not rows:
            return Column(torch.zeros(0, 1, 1, 1, 1), {})
        stated = self.stated_fps() if any(cells[r].fps is None for r in rows) else DEFAULT_FPS
        rates = {r: cells[r].fps or stated for r in rows}
        fps = float(np.median(list(rates.values())))
        side = self.opts.resolution or int(min(MAX_SIDE, np.median([cells[r].side for r in rows])))
        side = max(1, side)
        channels = self.opts.channels or (1 if all(cells[r].gray for r in rows) else 3)
        bad = [(r, "colour video, but channels=1 was asked for (data.channels); convert it to grayscale or "
                   "leave channels unset") for r in rows if channels == 1 and not cells[r].gray]
        good = [r for r in rows if channels == 3 or cells[r].gray]
        picked = {r: resample(cells[r].frames, rates[r], fps) for r in good}
        t = int(min(MAX_FRAMES, max(1, np.floor(np.median([len(f) for f in picked.values()]))))) if picked else 1
        out = []
        for r in good:
            f = fit_frames(picked[r], t)
            f = _resize(f, side)
            f = np.repeat(f, 3, axis=-1) if channels == 3 and f.shape[-1] == 1 else f
            out.append(from_frames(f))
        x = torch.stack(out) if out else torch.zeros(0, t, channels, side, side)
        return Column(x, {r: i for i, r in enumerate(good)}, bad, extra={"fps": fps})


def resample(frames: np.ndarray, fps: float, to_fps: float) -> np.ndarray:
    """Frames at fps -> frames at to_fps spanning the same time: output frame j (at time j / to_fps) is the
    source frame nearest in time (ties: the earlier one)."""
    n = len(frames)
    if abs(fps - to_fps) < 1e-6 * to_fps:
        return frames
    m = max(1, int(round(n * to_fps / fps)))
    idx = np.minimum(n - 1, np.floor(np.arange(m) * fps / to_fps + 0.5 - 1e-6).astype(np.int64))
    return frames[np.maximum(idx, 0)]


def fit_frames(frames: np.ndarray, t: int) -> np.ndarray:
    """Cut at the end, or padded at the end by repeating the last frame, to exactly t frames."""
    if len(frames) >= t:
        return frames[:t]
    return np.concatenate([frames, np.repeat(frames[-1:], t - len(frames), axis=0)])


def _resize(frames: np.ndarray, side: int) -> np.ndarray:
    """Square frames (t, s, s, c) -> (t, side, side, c) (PIL bilinear, antialiased when shrinking)."""
    from PIL import Image

    if frames.shape[1] == side and frames.shape[2] == side:
        return frames
    gray = frames.shape[-1] == 1
    out = [np.asarray(Image.fromarray(f[..., 0] if gray else f).resize((side, side), Image.BILINEAR)) for f in frames]
    x = np.stack(out)
    return x[..., None] if gray else x


__all__ = ["Video", "VideoCodec", "DEFAULT_FPS", "MAX_FRAMES", "MAX_SIDE", "to_frames", "from_frames", "frame_sheet",
           "resample", "fit_frames"]
