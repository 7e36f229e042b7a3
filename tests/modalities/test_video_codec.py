"""The video codec: (T, C, H, W) clips <-> Videos <-> MP4 (H.264 + AAC) and GIF files; a user's video manifest
(MP4s, GIFs and folders of frames at any rate, length and size, read by one rule; bad cells are bad rows);
the sound track a clip-reading model gives its videos (dress); frame sheets; the target order."""
from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf
import torch
from PIL import Image

from mmgan.config import Config, ConfigError
from mmgan.data import BadRowsError, load_dataset, write_manifest
from mmgan.modalities import codec_names, default_target, get_codec
from mmgan.modalities.audio import Sound
from mmgan.modalities.video import DEFAULT_FPS, Video, frame_sheet
from mmgan.modalities.video_files import gif_bytes, read_clip, write_mp4

av = pytest.importorskip("av")


def waves(t: int, h: int, w: int, colour: bool = True, speed: float = 2.0) -> np.ndarray:
    """A smooth moving pattern, uint8 (t, h, w, 3) (or (t, h, w, 1)): what H.264 keeps well."""
    yy, xx = np.mgrid[0:h, 0:w]
    frames = []
    for i in range(t):
        g = (np.sin((xx + speed * i) / 5) + np.cos(yy / 4)) * 55 + 128
        frames.append(np.stack([g, np.roll(g, 3, 1) * 0.8 + 20, 255 - g], -1) if colour else g[..., None])
    return np.clip(np.stack(frames), 0, 255).round().astype(np.uint8)


def levels(t: int, side: int, step: int = 10) -> np.ndarray:
    """Grayscale frames whose value tells their index (frame i is 20 + step * i everywhere): (t, side, side, 1)."""
    return np.stack([np.full((side, side, 1), 20 + step * i, np.uint8) for i in range(t)])


def tensor(frames: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(frames.transpose(0, 3, 1, 2).copy()).float() / 127.5 - 1


def test_registered_with_its_contract():
    codec = get_codec("video")
    assert (codec.name, codec.attribute, codec.media_type, codec.store_asset) == ("video", "video", "video/mp4", None)
    assert (codec.families, codec.preset, codec.rank, codec.preview_count) == (("mocogan",), "mocogan-moving-digits", 1, 8)
    assert codec.bf16_auto and not codec.channels_last
    assert default_target(["video", "audio", "label"]) == "video"
    assert default_target(["image", "video"]) == "image"
    assert codec_names().index("video") < codec_names().index("audio")


def test_mp4_round_trip_with_a_sound_track(tmp_path):
    """tensor -> Video -> dressed (fps, sound) -> MP4: h264 + aac, the right durations, frames back closely."""
    codec = get_codec("video")
    x = tensor(waves(10, 32, 32))
    v = codec.to_object(x)
    assert isinstance(v, Video) and v.frames.shape == (10, 32, 32, 3) and v.frames.dtype == np.uint8
    assert v.fps == DEFAULT_FPS and v.audio is None and np.array_equal(np.asarray(v), v.frames)
    v = codec.dress([v], {"extra": {"video": {"frames": 10, "fps": 10.0}}}, {"audio": torch.rand(1, 20000) - 0.5})[0]
    assert v.fps == 10.0 and v.seconds == 1.0 and isinstance(v.audio, Sound) and len(v.audio.waveform) == 16000
    p = v.save(tmp_path / "clip.mp4")
    with av.open(str(p)) as c:
        vs, aus = c.streams.video[0], c.streams.audio[0]
        assert (vs.codec_context.name, aus.codec_context.name) == ("h264", "aac")
        assert vs.format.name == "yuv420p" and float(vs.average_rate) == 10.0
        assert abs(float(vs.duration * vs.time_base) - 1.0) < 1e-6
        assert abs(float(aus.duration * aus.time_base) - 1.0) < 0.07
        assert aus.sample_rate == 16000
        assert len(list(c.decode(video=0))) == 10
    with av.open(str(p)) as c:
        assert abs(sum(f.samples for f in c.decode(audio=0)) - 16000) <= 1024   # AAC frames of 1024 samples
    back = codec.from_object(p)
    assert back.shape == x.shape and (back - x).abs().mean() < 0.06
    clip = read_clip(p)
    assert clip.fps == 10.0 and len(clip.frames) == 10 and not clip.gray
    assert codec.from_object(v).shape == x.shape and codec.from_object(v.frames).shape == x.shape
    r = codec.response(v)
    assert r["mp4"][4:8] == b"ftyp" and (r["seconds"], r["fps"], r["frames"]) == (1.0, 10.0, 10)
    with pytest.raises(ValueError, match=r"\.mp4, \.gif"):
        v.save(tmp_path / "clip.avi")
    assert not list(tmp_path.glob(".*tmp"))                    # atomic: no temporary files left


def test_odd_grayscale_clip_plays_as_even_rgb(tmp_path):
    v = Video(waves(4, 15, 17, colour=False), 8.0)
    p = v.save(tmp_path / "odd.mp4")
    with av.open(str(p)) as c:
        s = c.streams.video[0]
        assert (s.width, s.height, s.format.name) == (18, 16, "yuv420p") and not c.streams.audio
        f = next(c.decode(video=0)).to_ndarray(format="rgb24")
    assert np.abs(f[:15, :17].astype(int) - v.frames[0]).mean() < 3          # grey levels kept, padding at the edge
    assert read_clip(p).gray


def test_gif_round_trip_is_exact_for_grayscale(tmp_path):
    """Repeated frames (Pillow merges them into one longer frame) come back as repeated frames, with the fps."""
    frames = waves(9, 20, 24, colour=False)
    frames[3] = frames[4] = frames[2]
    p = Video(frames, 8.0).save(tmp_path / "clip.gif")
    assert p.read_bytes()[:4] == b"GIF8"
    clip = read_clip(p)
    assert clip.fps == 8.0 and clip.gray and np.array_equal(clip.frames, frames)
    assert torch.equal(get_codec("video").from_object(p), tensor(frames))
    # another tool's GIF (no comment): the rate is 1000 / the frame duration
    ims = [Image.fromarray(f[..., 0]) for f in frames[:4]]
    ims[0].save(tmp_path / "other.gif", save_all=True, append_images=ims[1:], duration=100, loop=0)
    other = read_clip(tmp_path / "other.gif")
    assert other.fps == 10.0 and len(other.frames) == 4


def test_frame_folder_cells(tmp_path):
    (tmp_path / "f").mkdir()
    frames = waves(5, 12, 16)
    for i, f in enumerate(frames):                         # names sort in time order; other files are ignored
        Image.fromarray(f).save(tmp_path / "f" / f"frame{i:03d}.png")
    (tmp_path / "f" / "notes.txt").write_text("not a frame")
    clip = read_clip(tmp_path / "f")
    assert clip.fps is None and clip.side == 12 and np.array_equal(clip.frames, frames)
    square = read_clip(tmp_path / "f", square=8)             # centre square, shrunk
    assert square.frames.shape == (5, 8, 8, 3) and square.side == 12


def _write_mp4(path, frames, fps):
    write_mp4(str(path), frames, fps)
    return path.name


def test_manifest_of_mp4_gif_and_folders(tmp_path):
    """Clips at 8 and 16 fps, 6-20 frames, 24-64 px, colour and grey, with a sound column: the median rate (8),
    the median length at that rate (11 frames), the median shorter side (36), RGB (one clip is colour)."""
    rows = [
        {"video": _write_mp4(tmp_path / "a.mp4", waves(16, 40, 48), 8.0)},            # 16 frames at 8 fps
        {"video": "b.gif"},                                                            # 20 frames at 16 fps
        {"video": "c"},                                                                # 6 frames (folder: 8 fps)
        {"video": _write_mp4(tmp_path / "d.mp4", waves(12, 64, 80, colour=False), 8.0)},   # 12 frames
    ]
    (tmp_path / "b.gif").write_bytes(gif_bytes(levels(20, 32), 16.0))
    (tmp_path / "c").mkdir()
    for i, f in enumerate(levels(6, 24, step=30)):
        Image.fromarray(f[..., 0]).save(tmp_path / "c" / f"{i:02d}.png")
    for i, r in enumerate(rows):
        sf.write(tmp_path / f"s{i}.wav", 0.2 * np.sin(np.arange(8000) / (3 + i)), 16000)
        r["audio"] = f"s{i}.wav"
    manifest = tmp_path / "manifest.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))

    ds = load_dataset(str(manifest), target="video")
    x = ds.columns["video"]
    assert x.shape == (4, 11, 3, 36, 36) and ds.info.shape == (11, 3, 36, 36) and ds.info.kind == "video"
    assert ds.info.extra["fps"] == 8.0
    assert ds.columns["audio"] == [str(tmp_path / f"s{i}.wav") for i in range(4)]       # the sound column as read
    assert load_dataset(str(manifest)).info.kind == "video"                              # video before audio
    u8 = ((x + 1) * 127.5).round()
    # the 16 fps GIF resampled to 8 fps: every other frame (frame i holds 20 + 10 i)
    assert [int(u8[1, j].mean()) for j in range(10)] == [20 + 10 * 2 * j for j in range(10)]
    assert (u8[1, 10] == u8[1, 9]).all()                   # 10 frames at 8 fps, padded with the last
    # the folder's 6 frames padded by repeating the last
    assert [int(u8[2, j].mean()) for j in range(11)] == [20 + 30 * min(j, 5) for j in range(11)]
    assert (u8[1, :, 0] == u8[1, :, 1]).all()             # grey clips among colour ones: expanded
    small = load_dataset(str(manifest), target="video", resolution=16)
    assert small.columns["video"].shape == (4, 11, 3, 16, 16)
    grey = tmp_path / "grey.jsonl"                        # all grayscale: one channel
    grey.write_text(json.dumps({"video": "b.gif"}) + "\n" + json.dumps({"video": "c"}) + "\n")
    g = load_dataset(str(grey), target="video")
    assert g.columns["video"].shape == (2, 12, 1, 28, 28) and g.info.extra["fps"] == 12.0   # medians of 2 clips


def test_bad_video_rows(tmp_path):
    _write_mp4(tmp_path / "ok.mp4", waves(4, 16, 16), 8.0)
    (tmp_path / "text.mp4").write_text("this is not a video\n")
    (tmp_path / "empty").mkdir()
    sf.write(tmp_path / "sound.wav", 0.2 * np.sin(np.arange(4000) / 3), 16000)
    rows = ["ok.mp4", "missing.mp4", "text.mp4", "empty", "sound.wav", "ok.mp4"]
    manifest = tmp_path / "manifest.jsonl"
    manifest.write_text("".join(json.dumps({"video": r}) + "\n" for r in rows))
    with pytest.raises(BadRowsError) as e:
        load_dataset(str(manifest), target="video")
    msg = str(e.value)
    for expected in ("row 2, video: file not found", "missing.mp4", "row 3, video: unreadable video", "text.mp4",
                     "row 4, video: no frame images (PNG/JPG/JPEG) in folder", "row 5, video: no video stream",
                     "4 bad rows out of 6"):
        assert expected in msg, (expected, msg)
    ds = load_dataset(str(manifest), target="video", skip_bad=True)
    assert len(ds) == 2 and ds.info.skipped == 4 and ds.columns["video"].shape == (2, 4, 3, 16, 16)
    with pytest.raises(BadRowsError, match="row 1, video: colour video, but channels=1"):
        load_dataset(str(manifest), target="video", skip_bad=True, channels=1)


def test_write_column_round_trip_keeps_frames_and_rate(tmp_path):
    """write_manifest's files (lossless H.264 RGB) read back exactly, at dataset.json's frame rate."""
    src = tmp_path / "src"
    src.mkdir()
    _write_mp4(src / "a.mp4", waves(6, 24, 24), 12.0)
    (src / "b.gif").write_bytes(gif_bytes(levels(6, 24), 12.0))
    (src / "manifest.jsonl").write_text(json.dumps({"video": "a.mp4"}) + "\n" + json.dumps({"video": "b.gif"}) + "\n")
    ds = load_dataset(str(src / "manifest.jsonl"), target="video")
    assert ds.info.extra["fps"] == 12.0 and ds.columns["video"].shape == (2, 6, 3, 24, 24)
    out = write_manifest(ds, tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out" / "video").iterdir()) == ["000000.mp4", "000001.mp4"]
    back = load_dataset(str(out), target="video")
    assert back.info.extra["fps"] == 12.0
    assert torch.equal(back.columns["video"], ds.columns["video"])


def test_dress_attaches_fps_and_cut_or_padded_sound():
    codec = get_codec("video")
    vids = codec.to_objects(torch.zeros(2, 6, 1, 8, 8))
    model = {"extra": {"video": {"frames": 6, "fps": 4.0}}}
    out = codec.dress(vids, model, {"audio": torch.stack([torch.ones(16000), torch.ones(40000)[:16000] * 0.5])})
    assert [v.fps for v in out] == [4.0, 4.0] and [v.seconds for v in out] == [1.5, 1.5]
    a = out[0].audio
    assert a.sample_rate == 16000 and len(a.waveform) == 24000                    # 6 frames at 4 fps = 1.5 s
    assert a.waveform[:16000].min() == 1.0 and a.waveform[16000:].max() == 0.0    # zero-padded at the end
    long = codec.dress(vids[:1], model, {"audio": torch.ones(1, 40000)})[0].audio
    assert len(long.waveform) == 24000                                           # cut at the end
    assert all(v.audio is None for v in codec.dress(vids, model, {}))              # no source: no sound
    assert codec.dress(vids, {}, {})[0].fps == DEFAULT_FPS
    with pytest.raises(ValueError, match="one clip per video"):
        codec.dress(vids, model, {"audio": torch.ones(3, 100)})
    assert get_codec("image").dress(["a"], model, {"audio": 1}) == ["a"]          # the base: unchanged


def test_pipeline_output_dresses_the_objects():
    from mmgan.pipeline import PipelineOutput, _output

    codec = get_codec("video")
    out = _output(PipelineOutput(tensor=torch.zeros(2, 4, 3, 8, 8)), codec, "pil",
                  {"extra": {"video": {"frames": 4, "fps": 2.0}}}, {"audio": torch.ones(2, 100)})
    assert out.target == "video" and len(out.video) == 2 and out.objects is out.video
    assert out.video[0].fps == 2.0 and len(out.video[1].audio.waveform) == 32000
    assert _output(PipelineOutput(tensor=torch.zeros(1, 4, 3, 8, 8)), codec, "pil").video[0].fps == DEFAULT_FPS


def test_preview_sheet_write_and_report(tmp_path):
    codec = get_codec("video")
    x = tensor(waves(20, 16, 16))[None].repeat(10, 1, 1, 1, 1)              # 10 clips of 20 frames
    p = codec.preview(x, tmp_path / "sheet.png", {"name": "toy"}, title="toy: 10 clips")
    with Image.open(p) as im:
        w, h = im.size
    assert w == 16 * (16 + 2) + 2                                            # 16 of the 20 frames per row
    assert h >= 8 * (16 + 2) + 2 + 14 and h < 8 * (16 + 2) + 2 + 60            # 8 rows under a title band
    assert frame_sheet(x).shape == (3, 8 * 18 + 2, 16 * 18 + 2)
    assert frame_sheet(x[:2, :5]).shape == (3, 2 * 18 + 2, 5 * 18 + 2)        # short clips: every frame

    vids = codec.to_objects(x[:2, :6])
    written = codec.write(vids, x[:2, :6], tmp_path / "out", {"name": "toy"})
    assert [q.name for q in written] == ["00000.mp4", "00000.gif", "00001.mp4", "00001.gif", "frames.png"]
    assert all(q.stat().st_size > 100 for q in written)

    figs = codec.report_figures(x[:3], x[3:5], {"name": "toy"}, "toy")
    assert len(figs) == 2 and figs[0].png[:4] == b"\x89PNG"
    assert figs[0].caption.startswith("generated") and figs[1].caption.startswith("real")
    assert all("one clip per row, time left to right" in f.caption for f in figs)

    logged = {}
    codec.tensorboard(SimpleNamespace(add_image=lambda tag, img, step: logged.update({tag: (img.shape, step)})), x, 7)
    assert logged == {"samples": ((3, 8 * 18 + 2, 16 * 18 + 2), 7)}


def test_configure_and_check_model():
    codec = get_codec("video")

    def data(shape, fps=None):
        return SimpleNamespace(info=SimpleNamespace(name="clips", shape=shape, extra={"fps": fps} if fps else {}))

    cfg = Config()
    cfg.model.family = "mocogan"
    codec.configure(cfg, data((16, 1, 32, 32), 12.0))
    assert (cfg.model.channels, cfg.model.resolution, cfg.model.extra["video"]) == (1, 32, {"frames": 16, "fps": 12.0})
    codec.configure(cfg, data((8, 3, 64, 64)))
    assert cfg.model.extra["video"] == {"frames": 8, "fps": DEFAULT_FPS} and cfg.model.channels == 3
    with pytest.raises(ConfigError, match="data.resolution"):
        codec.configure(cfg, data((8, 3, 32, 48)))
    cfg.model.family = "dcgan"
    with pytest.raises(ConfigError, match="mocogan"):
        codec.configure(cfg, data((8, 3, 32, 32)))
    with pytest.raises(ConfigError, match="model.extra.video"):
        codec.check_model({"family": "mocogan", "extra": {}})
    model = {"family": "mocogan", "extra": {"video": {"frames": 8, "fps": 8.0}}}
    assert codec.check_model(model) == model
