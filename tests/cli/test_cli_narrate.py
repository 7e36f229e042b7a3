"""Text -> narrated video through `mmgan narrate` on two tiny runs trained from users' manifests: a text -> speech
run (the ttsgan preset on captioned tones) and a sound -> video run (the mocogan preset on MP4s with their sound).
The MP4 holds H.264 frames and the speech as AAC, as long as the speech; speech longer than the video run's
clips is drawn window by window; runs of the wrong kind are refused by name."""
from __future__ import annotations

import math

import numpy as np
import pytest
import soundfile as sf

from _mm_tiny import TINY_EXTRA
from _tiny import tone_manifest, video_manifest
from mmgan.api.narrate import narrate, trim_tail
from mmgan.cli import main
from mmgan.pipeline import Pipeline

av = pytest.importorskip("av")

COMMON = ["train.progress=false", "train.tensorboard=false", "train.threads=1", "train.sample_every=0"]
TTS = ["train.batch_size=8", "model.d_width=8", "model.extra.width=8", "model.extra.blocks=2", "model.extra.mel_side=32",
       *TINY_EXTRA]
VIDEO = ["train.batch_size=4", "data.resolution=16", "model.g_width=4", "model.d_width=4", "model.extra.motion_dim=8",
         "model.extra.audio_width=8"]


def sets(values):
    return [a for s in COMMON + values for a in ("--set", s)]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("narrate")
    speech, video = root / "speech", root / "video"
    assert main(["train", "--data", str(tone_manifest(root / "tones")), "--config", "ttsgan-spoken-shapes",
                 "--steps", "2", *sets(TTS), "--out", str(speech)]) == 0
    assert main(["train", "--data", str(video_manifest(root / "videos")), "--config", "mocogan-talking-shape",
                 "--steps", "2", *sets(VIDEO), "--out", str(video)]) == 0
    return speech, video


def test_narrate_writes_an_mp4_with_the_speech(runs, tmp_path, capsys):
    speech, video = runs
    out = tmp_path / "story.mp4"
    assert main(["narrate", "a high tone", "--out", str(out), "--speech-run", str(speech),
                 "--video-run", str(video)]) == 0
    assert "wrote" in capsys.readouterr().err
    wave, sr = sf.read(out.with_suffix(".wav"))
    with av.open(str(out)) as c:
        streams = {s.type: s for s in c.streams}
        assert streams["video"].codec_context.name == "h264" and streams["audio"].codec_context.name == "aac"
        frames = sum(1 for _ in c.decode(video=0))
        fps = float(streams["video"].average_rate)
    assert fps == 8.0 and frames == max(1, round(len(wave) / sr * fps))         # the frames last as long as the speech
    assert out.with_suffix(".gif").stat().st_size > 0 and out.with_suffix(".png").stat().st_size > 0


def test_long_speech_is_drawn_window_by_window(runs):
    speech, video = (Pipeline.from_pretrained(r) for r in runs)
    story = narrate("a low tone", speech, video, seed=3)
    window = video.conditioner.source["samples"]
    assert story.windows == math.ceil(len(story.speech.waveform) / window)
    assert len(story.video.frames) == max(1, round(story.seconds * story.video.fps))
    again = narrate("a low tone", speech, video, seed=3)
    assert np.array_equal(story.video.frames, again.video.frames)                # a seed repeats
    with pytest.raises(ValueError, match="empty"):
        narrate("  ", speech, video)
    with pytest.raises(ValueError, match="the speech run must make audio from text"):
        narrate("a low tone", video, video)
    with pytest.raises(ValueError, match="the video run must draw video from sound"):
        narrate("a low tone", speech, speech)


def test_trim_tail_keeps_a_quarter_second_after_the_last_sound():
    x = np.zeros(16000 * 2, np.float32)
    x[1000:5000] = 0.5
    assert len(trim_tail(x)) == 5000 + 4000
    with pytest.raises(ValueError, match="silent"):
        trim_tail(np.zeros(100, np.float32))


def test_without_runs_the_built_in_defaults_are_trained_once(runs, tmp_path, monkeypatch):
    import shutil

    from mmgan.cli import narrate as narrate_cli

    monkeypatch.setenv("MMGAN_CACHE", str(tmp_path / "cache"))
    calls = []

    def train(config, out, minutes):                  # stands in for the 10-minute trainings: the tiny runs
        calls.append((config, minutes))
        shutil.copytree(runs[0] if config == "ttsgan-spoken-shapes" else runs[1], out)

    monkeypatch.setattr(narrate_cli, "train", train)
    for _ in range(2):
        assert main(["narrate", "a low tone", "--out", str(tmp_path / "s.mp4"), "--train-minutes", "3"]) == 0
    assert calls == [("ttsgan-spoken-shapes", 3.0), ("mocogan-talking-shape", 3.0)]       # trained once, then reused
    assert (tmp_path / "cache" / "narrate" / "video").is_dir() and (tmp_path / "s.mp4").stat().st_size > 0
