"""Every preset in configs/ trains two steps under torchrun with two gloo processes on CPU (one launch
runs `mmgan train` for each preset in turn: tests/training/_torchrun_jobs.py), and both ranks end with
the same weights: the trainer checks that before each checkpoint
(distributed.check_in_sync, which raises otherwise) and rank 0 logs the digest of G it agreed on,
which must be the digest of the G that rank 0 wrote."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from _mm_tiny import TINY_EXTRA, tiny_paired
from _tiny import tone_manifest, video_manifest
from mmgan.data import write_manifest
from mmgan.runs import latest_checkpoint, weights_digest

CONFIGS = Path(__file__).resolve().parents[2] / "src" / "mmgan" / "configs"
PRESETS = sorted(p.stem for p in CONFIGS.glob("*.yaml"))

COMMON = ["train.progress=false", "train.tensorboard=false", "train.sample_every=1000", "train.log_every=1",
          "train.threads=1"]
SMALL_IMAGES = ["data.n=16", "train.batch_size=8"]
TINY_TEXT = ["model.extra.text_encoder=tiny-text", "model.extra.joint_dim=16", "model.extra.joint_steps=3",
             "model.extra.joint_batch=8", "model.extra.fusion_steps=3", "model.extra.joint_minutes=1"]
TINY_VIDEO = ["train.batch_size=4", "data.resolution=16", "model.g_width=4", "model.d_width=4",
              "model.extra.motion_dim=8", "model.extra.audio_width=8"]
TINY_ASR = ["model.extra.hidden=8", "model.extra.conv_width=4", "model.extra.n_mels=16", "model.extra.layers=1"]
# the smallest data each preset accepts; the families, phases and penalties stay the presets' own
SMALL = {
    "captioner-shapes": [*SMALL_IMAGES, "model.extra.mle_steps=1", "model.extra.d_pretrain=1",
                         "model.extra.hidden=16", "model.extra.embed=8"],
    "cyclegan-mnist-rotated": ["data.n=32", "train.batch_size=8", "model.extra.res_blocks=1"],
    "cyclegan-shapes-palette": [*SMALL_IMAGES, "data.resolution=16", "model.extra.res_blocks=1"],
    "digits-dcgan": ["data.n=32", "train.batch_size=8"],
    "gansformer-shapes": [*SMALL_IMAGES, "data.resolution=16"],
    "grid25-mlp": ["data.n=256", "train.batch_size=16", "train.drs_steps=2"],
    "hifigan-spoken-digits": ["train.batch_size=8", "model.g_width=16", "model.d_width=2",   # on tones
                              "model.extra.segment_frames=8"],
    "mocogan-moving-digits": [*TINY_VIDEO],                                                 # on a tiny video manifest
    "mocogan-talking-shape": [*TINY_VIDEO],
    "mnist-cond": ["data.n=32", "train.batch_size=8", "model.g_width=16", "model.d_width=16"],
    "progressive-shapes64": SMALL_IMAGES,
    "recognizer-spoken-digits": ["train.batch_size=4", *TINY_ASR],          # on tones with transcripts
    "recognizer-spoken-shapes": ["train.batch_size=4", *TINY_ASR],
    "ring8-mlp": ["data.n=256", "train.batch_size=16", "train.drs_steps=2"],
    "shapes-text-speech": ["train.batch_size=8", *TINY_EXTRA],       # on a tiny captioned, spoken manifest
    "specgan-spoken-digits": ["train.batch_size=8", "model.g_width=8", "model.d_width=8"],   # on tones
    "specgan-spoken-shapes": ["train.batch_size=8", "model.g_width=8", "model.d_width=8", *TINY_EXTRA],   # tones, captions
    "specgan-voice-spoken-digits": ["train.batch_size=8", "model.g_width=8", "model.d_width=8",   # on voiced tones
                                    "model.extra.voice_steps=2", "model.extra.voice_dim=8"],
    "stacked-mnist-dcgan": ["data.n=32", "train.batch_size=8", "model.g_width=16", "model.d_width=16"],
    "stacked-mnist-pacdcgan2": ["data.n=32", "train.batch_size=8", "model.g_width=16", "model.d_width=16"],
    "stacked-mnist-pacgan-arch": ["data.n=32", "train.batch_size=8", "model.g_width=16", "model.d_width=16"],
    "stackgan-shapes-text": [*SMALL_IMAGES, "data.resolution=32", "model.extra.ca_dim=4", *TINY_TEXT],
    "stylegan2-shapes": [*SMALL_IMAGES, "data.resolution=16"],
    "ttsgan-spoken-shapes": ["train.batch_size=8", "model.d_width=8", "model.extra.width=8", "model.extra.blocks=2",
                             "model.extra.mel_side=32", *TINY_EXTRA],                            # tones, captions
    "wavegan-spoken-digits": ["train.batch_size=8", "model.g_width=4", "model.d_width=4"],     # on tones
}
SOUND_PRESETS = {"specgan-spoken-digits", "specgan-spoken-shapes", "ttsgan-spoken-shapes",    # trained on labelled tones
                 "wavegan-spoken-digits", "hifigan-spoken-digits",
                 "recognizer-spoken-digits", "recognizer-spoken-shapes"}                       # (a user's manifest; its text
                                                                                               # column is the transcript)
VIDEO_PRESETS = {"mocogan-moving-digits", "mocogan-talking-shape"}                           # on a video manifest


def test_every_preset_has_small_settings():
    assert sorted(SMALL) == PRESETS


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """All presets, two steps each, in one torchrun launch of two gloo processes (_torchrun_jobs.py):
    {preset: (run folder, exit status per rank, log per rank)}."""
    root = tmp_path_factory.mktemp("presets")
    jobs = {}
    for preset in PRESETS:
        data = []
        if preset == "shapes-text-speech":     # captions and speech without espeak-ng: tones stand in for speech
            data = ["--data", str(write_manifest(tiny_paired(root / "clips"), root / "paired").parent)]
        if preset in SOUND_PRESETS:            # a user's sound manifest: labelled tones stand in for spoken digits
            data = ["--data", str(tone_manifest(root / "tones"))]
        if preset in VIDEO_PRESETS:            # a user's video manifest with its sound: squares that light up with tones
            data = ["--data", str(video_manifest(root / "videos"))]
        if preset == "specgan-voice-spoken-digits":    # ... and who speaks each
            data = ["--data", str(tone_manifest(root / "voiced-tones", speakers=3))]
        sets = [a for s in COMMON + SMALL[preset] for a in ("--set", s)]
        jobs[preset] = ["train", *data, "--config", preset, "--steps", "2", *sets, "--out", str(root / preset)]
    (root / "jobs.json").write_text(json.dumps(jobs))
    (root / "out").mkdir()
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or "torchrun"
    cmd = [torchrun, "--standalone", "--nproc-per-node=2", str(Path(__file__).with_name("_torchrun_jobs.py")),
           str(root / "jobs.json"), str(root / "out")]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MMGAN_CACHE": str(root / "cache")}
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, cwd=root, env=env, timeout=900)
        launch = f"torchrun exited {r.returncode}:\n{r.stdout[-2000:]}{r.stderr[-4000:]}"
    except subprocess.TimeoutExpired as e:
        launch = f"torchrun timed out after {e.timeout}s"
    out = {}
    for preset in PRESETS:
        files = {rank: (root / "out" / f"{preset}.rank{rank}.rc", root / "out" / f"{preset}.rank{rank}.log")
                 for rank in (0, 1)}
        rcs = {rank: int(rc.read_text()) if rc.exists() else None for rank, (rc, _) in files.items()}
        logs = {rank: log.read_text() if log.exists() else "" for rank, (_, log) in files.items()}
        out[preset] = (root / preset, rcs, logs, launch)
    return out


@pytest.mark.slow
@pytest.mark.parametrize("preset", PRESETS)
def test_preset_trains_under_torchrun(runs, preset):
    run, rcs, logs, launch = runs[preset]
    log = f"rank 0:\n{logs[0][-4000:]}\nrank 1:\n{logs[1][-3000:]}\n{launch}"
    assert rcs == {0: 0, 1: 0}, log                           # None: the launch stopped before this preset
    synced = re.findall(r"2 processes in sync at step (\d+): G ([0-9a-f]{16})", logs[0])
    assert [s for s, _ in synced] == ["0", "2"], log           # checked at the first and the last checkpoint
    last = latest_checkpoint(run)
    assert last is not None and last.name.endswith("2"), log
    assert synced[-1][1] == weights_digest(last, "G")        # rank 0 wrote the weights every rank holds
