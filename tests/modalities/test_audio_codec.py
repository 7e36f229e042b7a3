"""The audio codec: paths and waveforms <-> log-mel pictures <-> Sounds and WAV files; a user's sound
manifest (any rate, stereo, any length; bad clips are bad rows); the default target."""
from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
import torch

from mmgan.config import Config, ConfigError
from mmgan.data import BadRowsError, load_dataset
from mmgan.modalities import get_codec
from mmgan.modalities.audio import Sound, clip_seconds
from mmgan.modalities.sound import MelSpec
from mmgan.training.recipes import choose
from mmgan.training.setup import resolve

from _tiny import tone_manifest

SR = 16000


def tone(hz: float, seconds: float = 1.0, sr: int = SR, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(sr * seconds)) / sr
    return (amp * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def test_mel_picture_round_trip_keeps_the_sound():
    """encode -> decode (Griffin-Lim) -> encode lands near the first picture, and the pitch survives."""
    spec = MelSpec.for_clip(SR, SR)
    x = torch.from_numpy(np.stack([tone(440), tone(1200)]))
    m = spec.encode(x)
    assert m.shape == (2, 1, 64, 64) and m.min() >= -1 and m.max() <= 1
    y = spec.decode(m)
    assert y.shape == (2, SR) and torch.isfinite(y).all()
    assert (spec.encode(y) - m).abs().mean() < 0.08
    for wave, hz in zip(y.numpy(), (440, 1200)):
        freqs = np.fft.rfftfreq(SR, 1 / SR)
        assert abs(freqs[np.abs(np.fft.rfft(wave)).argmax()] - hz) < 40    # the loudest frequency is the tone's


def test_fitted_spec_tops_at_the_loudest_bins():
    """fitted_spec: the picture's top at the clips' loudest bins (95th percentile, rounded up to 5 dB), any
    clip length and side; a tone at 0 dBFS and one 20 dB quieter."""
    codec = get_codec("audio")
    loud, quiet = torch.from_numpy(tone(440, amp=0.9)), torch.from_numpy(tone(440, amp=0.09))
    spec = codec.fitted_spec(torch.stack([loud] * 19 + [quiet]), 2 * SR, 128)
    assert (spec.samples, spec.n_mels, spec.frames) == (2 * SR, 128, 128)
    top = float(MelSpec.for_clip(SR, 2 * SR, 128).db(loud[None]).max())
    assert spec.top_db % 5 == 0 and top <= spec.top_db < top + 5


def test_sound_objects_and_wav_files(tmp_path):
    codec = get_codec("audio")
    w = torch.from_numpy(tone(440, 0.5))
    snd = codec.to_object(w)
    assert isinstance(snd, Sound) and snd.sample_rate == SR and snd.seconds == 0.5
    p = snd.save(tmp_path / "a.wav")
    info = sf.info(str(p))
    assert (info.samplerate, info.channels, info.frames, info.subtype) == (SR, 1, SR // 2, "PCM_16")
    back = codec.from_object(p)
    assert torch.allclose(back, w, atol=1e-4)                                  # 16-bit quantisation only
    assert torch.allclose(codec.from_object((tone(440, 0.5, 8000), 8000)), w, atol=0.02)   # (wave, rate) resampled
    batch = torch.stack([w, -w])
    written = codec.write(codec.to_objects(batch), batch, tmp_path / "out", {"name": "toy", "shape": [SR // 2]})
    assert [p.name for p in written] == ["00000.wav", "00001.wav", "spectrograms.png"]
    assert written[-1].stat().st_size > 1000
    r = codec.response(snd)
    assert r["wav"][:4] == b"RIFF" and r["sample_rate"] == SR
    assert codec.store_asset == "audio.wav"
    assert np.array_equal(np.asarray(snd), snd.waveform)       # a Sound is its samples (its stored id hashes them)


def test_user_sound_manifest_any_rate_stereo_and_length(tmp_path):
    """Clips at 8 / 22.05 / 44.1 kHz, mono and stereo, 0.4-0.9 s: the clip length is the median rounded up to
    0.25 s, and the generator's units are 64x64 log-mels of 16 kHz mono."""
    (tmp_path / "c").mkdir()
    rows = []
    for i, (sr, secs, stereo) in enumerate([(8000, 0.4, False), (22050, 0.6, True), (44100, 0.9, False),
                                             (16000, 0.7, True)]):
        y = tone(300 + 100 * i, secs, sr)
        sf.write(tmp_path / "c" / f"{i}.wav", np.stack([y, y], 1) if stereo else y, sr)
        rows.append({"audio": f"c/{i}.wav", "label": "ab"[i % 2]})
    (tmp_path / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    ds = load_dataset(str(tmp_path))
    assert ds.info.kind == "audio" and ds.info.shape == (int(0.75 * SR),)     # median 0.65 s -> 0.75 s
    assert clip_seconds(ds.columns["audio"]) == 0.75
    cfg = Config().override(["train.progress=false"])
    cfg.data.name = str(tmp_path)
    choose(cfg, ds.info)                            # what `mmgan train --data FOLDER` does first
    resolve(cfg, ds)
    assert (cfg.model.family, cfg.model.condition, cfg.model.channels, cfg.model.resolution) == \
        ("specgan", ["label"], 1, 64)
    x = get_codec("audio").to_generator(ds.columns["audio"], {"extra": cfg.model.extra})
    assert x.shape == (4, 1, 64, 64) and x.min() >= -1 and x.max() <= 1


def test_bad_clips_are_bad_rows(tmp_path):
    (tmp_path / "c").mkdir()
    sf.write(tmp_path / "c" / "ok.wav", tone(440, 0.5), SR)
    sf.write(tmp_path / "c" / "silent.wav", np.zeros(SR // 2, np.float32), SR)
    sf.write(tmp_path / "c" / "empty.wav", np.zeros(0, np.float32), SR)
    (tmp_path / "c" / "broken.wav").write_bytes(b"RIFF not really a wave file")
    names = ["ok", "silent", "empty", "broken", "missing"]
    (tmp_path / "manifest.jsonl").write_text("".join(json.dumps({"audio": f"c/{n}.wav", "label": 0}) + "\n"
                                                     for n in names))
    with pytest.raises(BadRowsError) as e:
        load_dataset(str(tmp_path))
    msg = str(e.value)
    assert "4 bad rows out of 5" in msg
    for row, problem in [(2, "silent audio"), (3, "empty audio"), (4, "unreadable audio"), (5, "file not found")]:
        assert f"row {row}, audio: {problem}" in msg
    ds = load_dataset(str(tmp_path), skip_bad=True)
    assert len(ds) == 1 and ds.info.skipped == 4


def test_images_stay_the_target_beside_speech(tmp_path):
    from _mm_tiny import tiny_paired
    from mmgan.data import write_manifest

    ds = load_dataset(str(write_manifest(tiny_paired(tmp_path / "clips", n=4), tmp_path / "paired")))
    assert ds.info.kind == "image" and isinstance(ds.columns["audio"][0], str)
    assert load_dataset(str(tone_manifest(tmp_path / "tones", n=4))).info.kind == "audio"


def test_wavegan_units_are_the_waveform(tmp_path):
    """For wavegan the codec hands G's trainer (n, 1, samples) waveforms and takes (b, 1, samples) back;
    DiffAugment (pictures) is refused for it."""
    ds = load_dataset(str(tone_manifest(tmp_path / "tones", n=4)))
    cfg = Config().override(["model.family=wavegan", "model.condition=[label]"])
    cfg.data.name = str(tmp_path / "tones")
    resolve(cfg, ds)
    m = cfg.model
    assert (m.channels, m.resolution, m.data_dim) == (1, 0, 8000)
    codec = get_codec("audio")
    model = {"family": "wavegan", "extra": m.extra}
    x = codec.to_generator(ds.columns["audio"], model)
    assert x.shape == (4, 1, 8000) and x.abs().max() <= 1
    assert torch.equal(codec.from_generator(x, model), x[:, 0])
    bad = Config().override(["model.family=wavegan", "loss.diffaug=translation"])
    with pytest.raises(ConfigError, match="phase shuffle"):
        resolve(bad, ds)


def test_clip_seconds_and_mel_side_set_the_picture(tmp_path):
    """model.extra.clip_seconds replaces the median clip length (0.5 s tones drawn as 2-s clips, the tail
    silence) and mel_side the picture's side; a length outside 0.25 s .. 20 s is refused."""
    ds = load_dataset(str(tone_manifest(tmp_path / "tones", n=4)))
    cfg = Config().override(["model.family=specgan", "model.extra.clip_seconds=2", "model.extra.mel_side=32"])
    cfg.data.name = str(tmp_path / "tones")
    resolve(cfg, ds)
    spec = MelSpec.from_dict(cfg.model.extra["mel"])
    assert (spec.samples, spec.n_mels, spec.frames, cfg.model.resolution) == (32000, 32, 32, 32)
    x = get_codec("audio").to_generator(ds.columns["audio"], {"family": "specgan", "extra": cfg.model.extra})
    assert x.shape == (4, 1, 32, 32)
    assert float(x[..., -8:].max()) == pytest.approx(-1.0)       # the last 0.5 s: silence, padded
    bad = Config().override(["model.family=ttsgan", "model.extra.clip_seconds=30"])
    bad.data.name = str(tmp_path / "tones")
    with pytest.raises(ConfigError, match="clip_seconds=30"):
        resolve(bad, ds)
