"""Speech to subtitles through the `mmgan` command: a user's manifest of clips and transcripts trains the
recognizer (bad rows refused, or skipped with data.skip_bad), `mmgan transcribe` writes a transcript,
well-formed SRT and WebVTT files, and streams subtitles with latency and real-time factor."""
from __future__ import annotations

import json

import numpy as np
import soundfile as sf

from mmgan.cli import main
from mmgan.config import Config
from mmgan.modalities.subtitles import check_cues, parse_srt, parse_vtt
from mmgan.pipeline import Pipeline

FAST = ["--set", "train.progress=false", "--set", "train.tensorboard=false", "--set", "train.minutes=0",
        "--set", "train.batch_size=4", "--set", "model.extra.hidden=8", "--set", "model.extra.conv_width=4",
        "--set", "model.extra.n_mels=16", "--set", "model.extra.layers=1", "--set", "train.sample_every=0",
        "--set", "train.threads=0"]
WORDS = ["low", "high"]


def chirp(k: int, seconds: float, sr: int = 16000) -> np.ndarray:
    t = np.arange(int(sr * seconds)) / sr
    return (0.3 * np.sin(2 * np.pi * (300 + 400 * k) * t) * np.hanning(len(t))).astype(np.float32)


def speech_manifest(folder, n: int = 8, bad: bool = False):
    (folder / "clips").mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        k = i % 2
        sf.write(folder / "clips" / f"{i}.wav", chirp(k, 0.4 + 0.05 * i), 16000)
        rows.append({"audio": f"clips/{i}.wav", "text": f"a {WORDS[k]} one"})
    if bad:
        (folder / "clips" / "broken.wav").write_bytes(b"not a wave file")
        rows += [{"audio": "clips/0.wav", "text": "   "}, {"audio": "clips/broken.wav", "text": "a low one"},
                 {"audio": "clips/missing.wav", "text": "a high one"}]
    path = folder / "manifest.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def recording(path, sr: int = 22050):
    """A stereo recording at another rate: four chirps with pauses between them."""
    parts = [np.zeros(int(0.5 * sr))]
    for k in (0, 1, 1, 0):
        t = np.arange(int(0.5 * sr)) / sr
        parts += [0.3 * np.sin(2 * np.pi * (300 + 400 * k) * t) * np.hanning(len(t)), np.zeros(int(0.6 * sr))]
    x = np.concatenate(parts)
    sf.write(path, np.stack([x, 0.5 * x], 1).astype(np.float32), sr)
    return path


def test_bad_rows_are_refused_then_skipped(tmp_path, capsys):
    manifest = speech_manifest(tmp_path / "data", bad=True)
    run = tmp_path / "run"
    assert main(["train", "--data", str(manifest), "--set", "model.family=recognizer", *FAST, "--steps", "1",
                 "--out", str(run)]) == 1
    err = capsys.readouterr().err
    assert "empty caption" in err and "unreadable audio" in err and "file not found" in err
    assert main(["train", "--data", str(manifest), "--set", "model.family=recognizer", "--set", "data.skip_bad=true",
                 *FAST, "--steps", "1", "--out", str(run)]) == 0


def test_train_then_transcribe_to_subtitles_and_stream(tmp_path, capsys):
    manifest = speech_manifest(tmp_path / "data")
    run = tmp_path / "run"
    assert main(["train", "--data", str(manifest), "--target", "text", *FAST, "--steps", "3",
                 "--out", str(run)]) == 0
    cfg = Config.load(run / "config.yaml")
    assert (cfg.model.family, cfg.model.condition, cfg.data.target, cfg.model.extra["tokens"]) == \
        ("recognizer", ["audio"], "text", "char")
    assert "G/cer" in (run / "log.jsonl").read_text()                   # the phases ctc trained it
    assert set(cfg.model.extra["vocab"][3:]) == set("a low one high")
    assert cfg.loss.phases == "ctc" and cfg.model.extra["lexicon"] == ["a", "high", "low", "one"]   # what trained
    capsys.readouterr()

    talk = recording(tmp_path / "talk.wav")
    srt, vtt = tmp_path / "out" / "talk.srt", tmp_path / "out" / "talk.vtt"
    assert main(["transcribe", str(run), "--audio", str(talk), "--srt", str(srt), "--vtt", str(vtt),
                 "--beam", "4"]) == 0
    out = capsys.readouterr()
    assert "real-time factor" in out.err and "4 segments" in out.err
    cues_srt, cues_vtt = parse_srt(srt.read_text()), parse_vtt(vtt.read_text())
    assert cues_srt == cues_vtt
    check_cues(cues_srt)
    assert all(0.3 < c.start < 5.0 for c in cues_srt)

    assert main(["transcribe", str(run), "--audio", str(talk), "--stream", "--block", "0.25"]) == 0
    out = capsys.readouterr()
    assert out.err.count("decoded in") == 4 and "latency per segment" in out.err
    if out.out.strip():
        check_cues(parse_srt(out.out))                                 # the streamed cues are SRT too

    assert main(["transcribe", str(run), "--audio", str(talk), "--decode", "lexicon", "--beam", "4"]) == 0
    words = capsys.readouterr().out.split()
    assert set(words) <= {"a", "high", "low", "one"}, words                     # only the training transcripts' words

    pipe = Pipeline.from_pretrained(run, device="cpu")
    res = pipe.transcribe([str(talk)])[0]
    assert isinstance(res["text"], str) and res["frame_seconds"] == 0.04
    assert isinstance(pipe(audio=[str(tmp_path / "data" / "clips" / "0.wav")]).text[0], str)


def test_transcribe_refuses_a_run_that_is_no_recogniser(tmp_path, capsys):
    from _tiny import tone_manifest

    run = tmp_path / "gan"
    assert main(["train", "--data", str(tone_manifest(tmp_path / "tones", n=8)), "--set", "train.progress=false",
                 "--set", "train.tensorboard=false", "--set", "model.z_dim=8", "--set", "model.g_width=4",
                 "--set", "model.d_width=4", "--set", "train.batch_size=4", "--steps", "1", "--out", str(run)]) == 0
    capsys.readouterr()
    assert main(["transcribe", str(run), "--audio", str(recording(tmp_path / "t.wav"))]) == 1
    assert "do not transcribe speech" in capsys.readouterr().err
