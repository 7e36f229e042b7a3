"""Speech to subtitles: the recognizer preset's word error rate on voices never heard in training, beside
pocketsphinx on the same clips, and streaming speed on a ~30-s recording.

    python bench/subtitles.py --minutes 10                       # train the preset (one thread), then measure
    python bench/subtitles.py --run runs/asr-digits               # measure a trained run
    python bench/subtitles.py --run R --clips 1000 --seconds 30 --out bench/out/subtitles

Protocol:
  train      `mmgan train --config recognizer-spoken-digits` (spoken-digits-words: 55 espeak voices,
             text = the word said) for --minutes at --threads threads
  WER        jiwer on the first --clips clips of the test split (17 voices training never uses: every
             variant of an unheard accent, en-029, and one unheard variant of each other accent):
               recognizer greedy (CTC best path), recognizer beam (prefix beam search, 8 beams),
               pocketsphinx restricted to the ten digit words (metrics.sphinx: JSGF grammar, 30-dB
               noise), pocketsphinx with its bundled US English language model (open vocabulary, on
               the first --lm-clips clips: it takes about 1.2 s a clip)
  streaming  test clips trimmed to their words and joined by pauses of 0.4-0.9 s (seeded) into a
             --seconds recording, read in 0.5-s blocks by api.transcribe.stream_file: latency per
             segment (from its last block read to its text), the real-time factor (processing time /
             audio), the recording's WER (words in order) and the SRT's well-formedness
Prints a table (stdout) and writes --out/subtitles.json and --out/subtitles.md.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def train(minutes: float, out: Path, threads: int) -> Path:
    from mmgan.api import train as train_run

    run = out / "run"
    log(f"training recognizer-spoken-digits for {minutes:g} min on {threads} thread(s) -> {run}")
    train_run(config="recognizer-spoken-digits", out=str(run), minutes=minutes,
              overrides=[f"train.threads={threads}", "train.progress=false"])
    return run


def wer(refs: list[str], hyps: list[str]) -> float:
    import jiwer

    return float(jiwer.wer(refs, [h if h.strip() else "<none>" for h in hyps]))


def sphinx_open(waves: list[np.ndarray]) -> list[str]:
    """pocketsphinx with its default US English acoustic and language models (no grammar)."""
    from pocketsphinx import Decoder

    dec = Decoder(samprate=16000, loglevel="FATAL")
    out = []
    for i, w in enumerate(waves):
        x = w.astype(np.float64)
        x = x + np.sqrt(np.mean(x ** 2)) * 10 ** (-30 / 20) * np.random.default_rng(i).standard_normal(len(x))
        dec.start_utt()
        dec.process_raw((np.clip(x, -1, 1) * 32767).astype("<i2").tobytes(), full_utt=True)
        dec.end_utt()
        hyp = dec.hyp()
        out.append(hyp.hypstr.strip() if hyp is not None else "")
    return out


def word_error_rates(pipe, clips: int, lm_clips: int) -> tuple[list, dict]:
    from mmgan.data import load_dataset
    from mmgan.metrics.sphinx import DigitRecognizer
    from mmgan.modalities.sound import read_wave

    ds = load_dataset("spoken-digits-words", split="test")
    paths, refs = list(ds.columns["audio"])[:clips], list(ds.columns["text"])[:clips]
    rows, info = [], {"clips": len(paths), "voices": len(set(ds.info.extra.get("voices", [])))}
    for name, opts in (("recognizer, greedy", {"decode": "greedy"}),
                       ("recognizer, beam 8", {"decode": "beam", "beam_size": 8})):
        t0 = time.perf_counter()
        hyps = [r["text"] for r in pipe.transcribe(paths, options=opts)]
        secs = time.perf_counter() - t0
        rows.append([name, wer(refs, hyps), secs / len(paths) * 1000])
        log(f"{name}: WER {rows[-1][1]:.4f}")
    waves = [read_wave(p, 16000) for p in paths]
    t0 = time.perf_counter()
    hyps = DigitRecognizer().recognise(np.stack(waves))
    rows.append(["pocketsphinx, ten-word grammar", wer(refs, hyps), (time.perf_counter() - t0) / len(paths) * 1000])
    log(f"{rows[-1][0]}: WER {rows[-1][1]:.4f}")
    t0 = time.perf_counter()
    hyps = sphinx_open(waves[:lm_clips])                           # ~1.2 s a clip: the first lm_clips only
    rows.append([f"pocketsphinx, US English LM (first {len(hyps)} clips)", wer(refs[:len(hyps)], hyps),
                 (time.perf_counter() - t0) / len(hyps) * 1000])
    log(f"{rows[-1][0]}: WER {rows[-1][1]:.4f}")
    return rows, info


def recording(seconds: float, path: Path, seed: int = 0) -> list[str]:
    """Unheard voices' digits joined by pauses into one WAV; returns the words in order."""
    from mmgan.data import load_dataset
    from mmgan.data.spoken_digits import trim_silence
    from mmgan.modalities.sound import read_wave, write_wav

    ds = load_dataset("spoken-digits-words", split="test")
    rng = np.random.default_rng(seed)
    parts, words, total = [np.zeros(8000, np.float32)], [], 0.5
    for i in rng.permutation(len(ds)):
        if total >= seconds:
            break
        w = trim_silence(read_wave(ds.columns["audio"][int(i)], 16000))
        gap = np.zeros(int(rng.uniform(0.4, 0.9) * 16000), np.float32)
        parts += [w, gap]
        words.append(ds.columns["text"][int(i)])
        total += (len(w) + len(gap)) / 16000
    write_wav(path, np.concatenate(parts), 16000)
    return words


def streaming(pipe, seconds: float, out: Path) -> dict:
    from mmgan.api.transcribe import stream_file, transcribe_file
    from mmgan.modalities.subtitles import check_cues, parse_srt, to_srt

    path = out / "talk.wav"
    ref = recording(seconds, path)
    t = None
    for ev in stream_file(pipe, path, block_seconds=0.5):
        t = ev.transcript
    srt = to_srt(t.cues)
    (out / "talk.srt").write_text(srt)
    check_cues(parse_srt(srt))
    offline = transcribe_file(pipe, path)
    s = t.stats()
    return {"audio_s": s["audio_s"], "words": len(ref), "segments": s["segments"], "rtf": s["rtf"],
            "latency_mean_ms": s.get("latency_mean_ms"), "latency_max_ms": s.get("latency_max_ms"),
            "wer_stream": wer([" ".join(ref)], [t.text]), "wer_offline": wer([" ".join(ref)], [offline.text]),
            "offline_rtf": round(offline.rtf, 4), "cues": len(t.cues)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", help="a trained recognizer run (default: train the preset first)")
    ap.add_argument("--minutes", type=float, default=10.0, help="training budget when no --run (default 10)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--clips", type=int, default=1000, help="test clips for the WER (default 1000: the split)")
    ap.add_argument("--lm-clips", type=int, default=200, help="clips for pocketsphinx's open-vocabulary run "
                                                                 "(slow: about 1.2 s each; default 200)")
    ap.add_argument("--seconds", type=float, default=30.0, help="length of the streaming recording")
    ap.add_argument("--out", default=str(ROOT / "bench" / "out" / "subtitles"))
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    run = Path(a.run) if a.run else train(a.minutes, out, a.threads)

    from mmgan.pipeline import Pipeline

    pipe = Pipeline.from_pretrained(run, device="cpu")
    meta = json.loads(next(iter(sorted((run / "checkpoints").glob("*/meta.json"))[-1:])).read_text()) \
        if (run / "checkpoints").is_dir() else {}
    rows, info = word_error_rates(pipe, a.clips, a.lm_clips)
    st = streaming(pipe, a.seconds, out)
    res = {"run": str(run), "step": meta.get("step"), "threads": a.threads, **info, "wer": {r[0]: r[1] for r in rows},
           "ms_per_clip": {r[0]: r[2] for r in rows}, "streaming": st}
    (out / "subtitles.json").write_text(json.dumps(res, indent=2))
    lines = [f"Recognizer run {run} (step {meta.get('step')}), {info['clips']} test clips of "
             f"{info['voices']} voices never heard in training, {a.threads} thread(s)", "",
             "| system | WER | ms per 1-s clip |", "|---|---|---|"]
    lines += [f"| {n} | {w:.4f} | {ms:.1f} |" for n, w, ms in rows]
    lines += ["", f"Streaming a {st['audio_s']:.1f}-s recording ({st['words']} words, 0.5-s blocks):", "",
              "| RTF | latency mean ms | latency max ms | segments | WER stream | WER offline |", "|---|---|---|---|---|---|",
              f"| {st['rtf']:.4f} | {st['latency_mean_ms']} | {st['latency_max_ms']} | {st['segments']} | "
              f"{st['wer_stream']:.4f} | {st['wer_offline']:.4f} |"]
    text = "\n".join(lines)
    (out / "subtitles.md").write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
