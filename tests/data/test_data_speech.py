"""Audio loading and spoken captions (speech tests skip where espeak-ng is unavailable)."""
import numpy as np
import pytest
import soundfile as sf

from mmgan.data import AudioError, load_audio, load_dataset, synthesize, with_speech, write_manifest
from mmgan.data import speech


def test_load_audio_stereo_44k_to_mono_16k(tmp_path):
    sr, secs = 44100, 0.5
    t = np.arange(int(sr * secs)) / sr
    left, right = np.sin(2 * np.pi * 440 * t), 0.5 * np.sin(2 * np.pi * 440 * t)
    sf.write(str(tmp_path / "s.wav"), np.stack([left, right], 1).astype(np.float32), sr)
    x = load_audio(tmp_path / "s.wav")
    assert x.dtype == np.float32 and x.ndim == 1 and abs(len(x) - 8000) <= 1
    spectrum = np.abs(np.fft.rfft(x))
    assert abs(np.argmax(spectrum) * 16000 / len(x) - 440) < 5        # the tone survives resampling
    assert abs(np.abs(x[1000:7000]).max() - 0.75) < 0.02                # channels averaged
    assert len(load_audio(tmp_path / "s.wav", max_seconds=0.1)) == 1600
    sf.write(str(tmp_path / "s.flac"), left.astype(np.float32), sr)
    assert abs(len(load_audio(tmp_path / "s.flac", sample_rate=8000)) - 4000) <= 1


def test_load_audio_errors(tmp_path):
    with pytest.raises(AudioError, match="not found"):
        load_audio(tmp_path / "none.wav")
    sf.write(str(tmp_path / "e.wav"), np.zeros(0, np.float32), 16000)
    with pytest.raises(AudioError, match="empty"):
        load_audio(tmp_path / "e.wav")
    (tmp_path / "b.wav").write_bytes(b"nonsense")
    with pytest.raises(AudioError, match="cannot read"):
        load_audio(tmp_path / "b.wav")


needs_espeak = pytest.mark.skipif(not speech.available(), reason="espeak-ng unavailable (pip install espeakng-loader)")


@needs_espeak
def test_synthesize(tmp_path):
    p = synthesize("a small red circle at the top", tmp_path / "a.wav", voice="en-us", variant="f2", speed=160)
    info = sf.info(str(p))
    assert info.samplerate == 16000 and info.channels == 1 and 0.5 < info.duration < 5
    x = load_audio(p)
    assert np.abs(x).max() > 0.05
    with pytest.raises(ValueError, match="unknown espeak-ng voice"):
        synthesize("hello", tmp_path / "b.wav", voice="xx-nonexistent")


@needs_espeak
def test_with_speech_cached_and_round_trip(tmp_path):
    ds = load_dataset("shapes", n=4, seed=0)
    sp = with_speech(ds, tmp_path / "cache", seed=1)
    assert len(sp.columns["audio"]) == 4 and all(sf.info(a).frames > 0 for a in sp.columns["audio"])
    mtimes = [(tmp_path / "cache" / a).stat().st_mtime_ns for a in sp.columns["audio"]]
    again = with_speech(ds, tmp_path / "cache", seed=1)
    assert again.columns["audio"] == sp.columns["audio"]
    assert [(tmp_path / "cache" / a).stat().st_mtime_ns for a in again.columns["audio"]] == mtimes
    params = [speech.voice_params(1, i) for i in range(40)]
    assert len({p["voice"] for p in params}) > 2 and all(140 <= p["speed"] <= 200 for p in params)
    write_manifest(sp, tmp_path / "out")
    back = load_dataset(str(tmp_path / "out"))
    assert all(a.startswith(str((tmp_path / "out" / "audio").resolve())) for a in back.columns["audio"])
    assert back.columns["text"] == ds.columns["text"]


@needs_espeak
def test_add_speech_variants_from_a_folder(tmp_path):
    write_manifest(load_dataset("mnist", n=2), tmp_path / "src")
    manifest = speech.add_speech(str(tmp_path / "src"), tmp_path / "spoken", seed=0, variants_per_caption=2)
    back = load_dataset(str(manifest))
    assert len(back) == 4 and len(set(back.columns["audio"])) == 4
    assert back.columns["text"][0] == back.columns["text"][1]


def test_unavailable_engine_says_how_to_install(monkeypatch, tmp_path):
    def broken():
        raise OSError("no library")

    monkeypatch.setattr(speech, "_ENGINE", None)
    monkeypatch.setattr(speech, "_LibEngine", broken)
    monkeypatch.setattr(speech.shutil, "which", lambda name: None)
    with pytest.raises(speech.SpeechUnavailable, match="pip install espeakng-loader.*apt-get install espeak-ng"):
        synthesize("hello", tmp_path / "x.wav")
    assert not speech.available()


def test_voice_pool():
    # without a pool, every item's voice is drawn as before pools existed (cached WAVs stay valid)
    assert [speech.voice_params(1, i) for i in range(2)] == [
        {"voice": "en", "variant": "f3", "speed": 192, "pitch": 40},
        {"voice": "en-029", "variant": "m6", "speed": 140, "pitch": 39}]
    five = [{"voice": "en-us", "variant": f"m{i}", "speed": 150 + 10 * i, "pitch": 40 + i} for i in range(1, 6)]
    drawn = [speech.voice_params(0, i, voices=five) for i in range(60)]
    assert all(d in five for d in drawn) and len({d["variant"] for d in drawn}) == 5
    open_ = [speech.voice_params(0, i, voices=[{"voice": "en", "variant": "f2"}]) for i in range(20)]
    assert all(d["voice"] == "en" and d["variant"] == "f2" for d in open_)
    assert len({d["speed"] for d in open_}) > 3                      # what a pool entry leaves out is drawn
    for bad, msg in (([], "at least one voice"), ([{"variant": "m1"}], "needs 'voice'"),
                     ([{"voice": "en", "accent": "x"}], "unknown keys"), ([{"voice": "en", "pitch": 120}], "0..100")):
        with pytest.raises(ValueError, match=msg):
            speech.check_voices(bad)


@needs_espeak
def test_with_speech_from_a_voice_pool(tmp_path):
    ds = load_dataset("shapes", n=3, seed=0)
    one = [{"voice": "en-us", "variant": "f2", "speed": 170, "pitch": 60}]
    sp = with_speech(ds, tmp_path / "cache", seed=0, voices=one)
    assert sp.info.extra["speech"]["voices"] == one
    again = speech.cached_wav(ds.columns["text"][1], tmp_path / "cache", one[0])
    assert str(again.resolve()) == sp.columns["audio"][1]
    assert with_speech(ds, tmp_path / "cache", seed=0).columns["audio"] != sp.columns["audio"]
