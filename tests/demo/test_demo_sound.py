"""The demo's sound part at a tiny scale (the real one trains for about a minute: `make demo`)."""
from __future__ import annotations

import functools
import json

import pytest
from PIL import Image

from _mm_tiny import TINY_EXTRA
from mmgan.data import speech
from mmgan.metrics.sound_judge import JudgeRecipe

pytestmark = pytest.mark.skipif(not speech.available(), reason="espeak-ng unavailable (pip install espeakng-loader)")

TINY = dict(overrides=[*TINY_EXTRA, "train.steps=3", "model.z_dim=8", "model.g_width=4", "model.d_width=4"],
            judge=JudgeRecipe(steps=3, batch_size=8, width=4, feat_dim=16), per_digit=1, clips=(40, 20))


def test_demo_settings_resolve():
    from mmgan.config import Config
    from mmgan.demo.sound import DEMO_OVERRIDES, PRESET, demo_clips

    cfg = Config.load(str(PRESET)).override(DEMO_OVERRIDES)
    assert cfg.model.family == "specgan" and cfg.model.condition == ["label", "text"] and cfg.train.batch_size == 16
    assert demo_clips(1.25) == (1875, 300) and demo_clips(0.01) == (200, 300) and demo_clips(60) == (6000, 300)


def test_sound_part_writes_wavs_pictures_and_prints_its_figures(tmp_path, monkeypatch, capsys):
    import mmgan.demo as demo
    from mmgan.demo.sound import wav_ok

    monkeypatch.setenv("MMGAN_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(demo.sound_demo, "run", functools.partial(demo.sound_demo.run, **TINY))
    assert demo.main(["--out", str(tmp_path / "demo"), "--only", "sound", "--minutes", "0.2"]) == 0
    printed = capsys.readouterr().out
    root = tmp_path / "demo" / "sound"
    for folder in ("from_labels", "from_text"):
        wavs = sorted((root / folder).glob("*.wav"))
        assert [w.name for w in wavs][:2] == ["0_zero.wav", "1_one.wav"] and len(wavs) == 10
        assert all(wav_ok(w) for w in wavs)
    assert wav_ok(root / "copy_synthesis" / "real.wav") and wav_ok(root / "copy_synthesis" / "griffin_lim.wav")
    for png in (root / "spectrograms.png", root / "copy_synthesis" / "copy_synthesis.png"):
        with Image.open(png) as im:
            im.verify()
            assert im.format == "PNG" and im.size[0] > 200
    figures = json.loads((root / "summary.json").read_text())["figures"]
    for name in ("label accuracy (labels -> sound)", "label accuracy (text -> sound)",
                 "control (judged against shuffled labels)", "judge accuracy on real clips (unheard voices)",
                 "copy synthesis log-mel L1, dB (real vs Griffin-Lim)"):
        assert 0 <= figures[name] < 100
        assert f"sound {name}: {figures[name]:.4g}" in printed          # beside the paths, as the other parts do
    assert f"spectrograms: {root / 'spectrograms.png'}" in printed
