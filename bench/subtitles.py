"""Speech to subtitles: a recognizer preset's word error rate on voices never heard in training, beside
pocketsphinx on the same clips, and streaming speed on a recording with pauses.

    python bench/subtitles.py --preset shapes --minutes 15       # train the sentence preset (one thread), then measure
    python bench/subtitles.py --preset shapes --run runs/asr-shapes   # measure a trained run
    python bench/subtitles.py --preset digits --minutes 10       # the single-word preset

Presets (--preset):
  shapes   `mmgan train --config recognizer-spoken-shapes`: spoken-shapes, the shapes captions spoken as
           whole sentences (1.5-4 s) by 55 espeak voices, text = the words said
  digits   `mmgan train --config recognizer-spoken-digits`: spoken-digits-words, one word a clip
Protocol:
  train      the preset for --minutes at --threads threads (unless --run)
  WER        jiwer on the first --clips clips of the test split (17 voices training never uses: every
             variant of an unheard accent, en-029, and one unheard variant of each other accent):
               recognizer greedy (CTC best path), beam (prefix beam search, 8 beams), lexicon (the beam
               search writing only the words of the training transcripts, model.extra.lexicon);
               pocketsphinx (its bundled US English acoustic model, 30-dB noise added as metrics.sphinx does)
               restricted to the task: digits a JSGF grammar of the ten words (metrics.sphinx); shapes a
               bigram language model of the training transcripts (absolute discounting, written as ARPA;
               its 78 words) on the first --lm-clips clips; and pocketsphinx with its US English language
               model (open vocabulary) on the first --open-clips clips (both slow: seconds a clip)
  streaming  test clips trimmed to their speech and joined by pauses (digits 0.4-0.9 s, shapes 0.5-1.0 s,
             seeded) into a --seconds recording, read in 0.5-s blocks by api.transcribe.stream_file with the
             run's decoding: latency per segment (from its last block read to its text), the real-time
             factor (processing time / audio), the recording's WER (words in order) and the SRT's
             well-formedness (parsed back, cues in order and not overlapping)
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


PRESETS = {   # preset -> (config, data, pauses between utterances in the streaming recording, seconds)
    "shapes": ("recognizer-spoken-shapes", "spoken-shapes", (0.5, 1.0)),
    "digits": ("recognizer-spoken-digits", "spoken-digits-words", (0.4, 0.9)),
}


def train(config: str, minutes: float, out: Path, threads: int) -> Path:
    from mmgan.api import train as train_run

    run = out / "run"
    log(f"training {config} for {minutes:g} min on {threads} thread(s) -> {run}")
    train_run(config=config, out=str(run), minutes=minutes,
              overrides=[f"train.threads={threads}", "train.progress=false"])
    return run


def wer(refs: list[str], hyps: list[str]) -> float:
    import jiwer

    return float(jiwer.wer(refs, [h if h.strip() else "<none>" for h in hyps]))


def bigram_arpa(sentences: list[str], discount: float = 0.5) -> str:
    """A bigram language model of the sentences in ARPA text: absolute discounting, backing off to the
    unigrams (what pocketsphinx reads with lm=)."""
    from collections import Counter, defaultdict

    uni, bi = Counter(), Counter()
    for s in sentences:
        w = ["<s>"] + s.split() + ["</s>"]
        uni.update(w[1:])
        bi.update(zip(w, w[1:]))
    total = sum(uni.values())
    p_uni = {w: c / total for w, c in uni.items()}
    hist, follow = Counter(), defaultdict(list)
    for (a, b), c in bi.items():
        hist[a] += c
        follow[a].append(b)
    backoff = {a: discount * len(follow[a]) / hist[a] / max(1e-12, 1 - sum(p_uni[b] for b in follow[a]))
               for a in hist}
    lines_uni = [f"-99.0000 <s> {np.log10(backoff['<s>']):.4f}"]
    lines_uni += [f"{np.log10(p_uni[w]):.4f} {w}" + (f" {np.log10(backoff[w]):.4f}" if w in backoff else "")
                  for w in sorted(uni)]
    lines_bi = [f"{np.log10((c - discount) / hist[a]):.4f} {a} {b}" for (a, b), c in sorted(bi.items())]
    return "\n".join(["\\data\\", f"ngram 1={len(lines_uni)}", f"ngram 2={len(lines_bi)}", "", "\\1-grams:",
                      *lines_uni, "", "\\2-grams:", *lines_bi, "", "\\end\\", ""])


def sphinx_open(waves: list[np.ndarray], lm: str | None = None) -> list[str]:
    """pocketsphinx with its default US English acoustic model and language model (or the ARPA file lm)."""
    from pocketsphinx import Decoder

    dec = Decoder(samprate=16000, loglevel="FATAL", **({"lm": lm} if lm else {}))
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


def word_error_rates(pipe, preset: str, clips: int, lm_clips: int, open_clips: int, out: Path) -> tuple[list, dict]:
    from mmgan.data import load_dataset
    from mmgan.metrics.sphinx import DigitRecognizer
    from mmgan.modalities.sound import read_wave

    data = PRESETS[preset][1]
    ds = load_dataset(data, split="test")
    paths, refs = list(ds.columns["audio"])[:clips], list(ds.columns["text"])[:clips]
    rows, info = [], {"clips": len(paths), "voices": len(set(ds.info.extra.get("voices", []))), "data": data,
                      "seconds": round(sum(len(read_wave(p, 16000)) for p in paths) / 16000, 1)}
    systems = [("recognizer, greedy", {"decode": "greedy"}), ("recognizer, beam 8", {"decode": "beam", "beam_size": 8})]
    if pipe.generator.lexicon is not None:
        systems.append(("recognizer, lexicon beam 8", {"decode": "lexicon", "beam_size": 8}))
    for name, opts in systems:
        t0 = time.perf_counter()
        hyps = [r["text"] for r in pipe.transcribe(paths, options=opts)]
        secs = time.perf_counter() - t0
        rows.append([name, wer(refs, hyps), secs / len(paths) * 1000])
        log(f"{name}: WER {rows[-1][1]:.4f}")
    waves = [read_wave(p, 16000) for p in paths]
    t0 = time.perf_counter()
    if preset == "digits":
        hyps = DigitRecognizer().recognise(np.stack(waves))
        name = "pocketsphinx, ten-word grammar"
    else:
        arpa = out / "transcripts.arpa"
        arpa.write_text(bigram_arpa(list(load_dataset(data, split="train").columns["text"])))
        hyps = sphinx_open(waves[:lm_clips], lm=str(arpa))         # seconds a clip: the first lm_clips only
        name = f"pocketsphinx, bigram LM of the training transcripts (first {len(hyps)} clips)"
    n = len(hyps)
    rows.append([name, wer(refs[:n], hyps), (time.perf_counter() - t0) / n * 1000])
    log(f"{rows[-1][0]}: WER {rows[-1][1]:.4f}")
    if n < len(paths):                                             # the recogniser on the same clips, for the table
        for (label, opts), r in zip(systems, rows[:len(systems)]):
            hyps_n = [x["text"] for x in pipe.transcribe(paths[:n], options=opts)]
            rows.append([f"{label} (the same first {n} clips)", wer(refs[:n], hyps_n), r[2]])
    t0 = time.perf_counter()
    hyps = sphinx_open(waves[:open_clips])                         # slower still: the first open_clips only
    rows.append([f"pocketsphinx, US English LM, open vocabulary (first {len(hyps)} clips)", wer(refs[:len(hyps)], hyps),
                 (time.perf_counter() - t0) / len(hyps) * 1000])
    log(f"{rows[-1][0]}: WER {rows[-1][1]:.4f}")
    return rows, info


def recording(preset: str, seconds: float, path: Path, seed: int = 0) -> list[str]:
    """Unheard voices' test clips (trimmed to their speech) joined by pauses into one WAV; returns the
    transcripts in order."""
    from mmgan.data import load_dataset
    from mmgan.data.spoken_digits import trim_silence
    from mmgan.modalities.sound import read_wave, write_wav

    _, data, pauses = PRESETS[preset]
    ds = load_dataset(data, split="test")
    rng = np.random.default_rng(seed)
    parts, words, total = [np.zeros(8000, np.float32)], [], 0.5
    for i in rng.permutation(len(ds)):
        if total >= seconds:
            break
        w = trim_silence(read_wave(ds.columns["audio"][int(i)], 16000))
        gap = np.zeros(int(rng.uniform(*pauses) * 16000), np.float32)
        parts += [w, gap]
        words.append(ds.columns["text"][int(i)])
        total += (len(w) + len(gap)) / 16000
    write_wav(path, np.concatenate(parts), 16000)
    return words


def streaming(pipe, preset: str, seconds: float, out: Path) -> dict:
    from mmgan.api.transcribe import stream_file, transcribe_file
    from mmgan.modalities.subtitles import check_cues, parse_srt, to_srt

    path = out / "talk.wav"
    ref = recording(preset, seconds, path)
    t = None
    for ev in stream_file(pipe, path, block_seconds=0.5):
        t = ev.transcript
    srt = to_srt(t.cues)
    (out / "talk.srt").write_text(srt)
    cues = parse_srt(srt)
    check_cues(cues)                                               # raises unless well formed
    offline = transcribe_file(pipe, path)
    s = t.stats()
    ref_words = " ".join(ref).split()
    return {"audio_s": s["audio_s"], "utterances": len(ref), "words": len(ref_words), "segments": s["segments"],
            "rtf": s["rtf"], "srt_well_formed": len(cues) == len(t.cues),
            "latency_mean_ms": s.get("latency_mean_ms"), "latency_max_ms": s.get("latency_max_ms"),
            "wer_stream": wer([" ".join(ref)], [t.text]), "wer_offline": wer([" ".join(ref)], [offline.text]),
            "offline_rtf": round(offline.rtf, 4), "cues": len(t.cues)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--preset", choices=sorted(PRESETS), default="shapes", help="shapes (sentences, default) or digits")
    ap.add_argument("--run", help="a trained recognizer run (default: train the preset first)")
    ap.add_argument("--minutes", type=float, default=15.0, help="training budget when no --run (default 15)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--clips", type=int, default=1000, help="test clips for the WER (default 1000: the whole split)")
    ap.add_argument("--lm-clips", type=int, default=None, help="clips for pocketsphinx with the task's grammar or "
                                                                  "LM (default: digits all, shapes 100)")
    ap.add_argument("--open-clips", type=int, default=None, help="clips for pocketsphinx's open-vocabulary run "
                                                                    "(slow; default: digits 200, shapes 20)")
    ap.add_argument("--seconds", type=float, default=None, help="length of the streaming recording "
                                                                  "(default: digits 30, shapes 45)")
    ap.add_argument("--out", default=None, help="default bench/out/subtitles-PRESET")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    shapes = a.preset == "shapes"
    lm_clips = a.lm_clips or (100 if shapes else a.clips)
    open_clips = a.open_clips or (20 if shapes else 200)
    seconds = a.seconds or (45.0 if shapes else 30.0)
    out = Path(a.out or ROOT / "bench" / "out" / f"subtitles-{a.preset}")
    out.mkdir(parents=True, exist_ok=True)
    run = Path(a.run) if a.run else train(PRESETS[a.preset][0], a.minutes, out, a.threads)

    from mmgan.pipeline import Pipeline

    pipe = Pipeline.from_pretrained(run, device="cpu")
    meta = json.loads(next(iter(sorted((run / "checkpoints").glob("*/meta.json"))[-1:])).read_text()) \
        if (run / "checkpoints").is_dir() else {}
    rows, info = word_error_rates(pipe, a.preset, a.clips, lm_clips, open_clips, out)
    st = streaming(pipe, a.preset, seconds, out)
    res = {"run": str(run), "preset": a.preset, "step": meta.get("step"), "threads": a.threads,
           "decode": pipe.generator.config["decode"], **info, "wer": {r[0]: r[1] for r in rows},
           "ms_per_clip": {r[0]: r[2] for r in rows}, "streaming": st}
    (out / "subtitles.json").write_text(json.dumps(res, indent=2))
    lines = [f"Recognizer run {run} (step {meta.get('step')}), {info['clips']} test clips of {info['data']} "
             f"({info['seconds']} s) spoken by {info['voices']} voices never heard in training, {a.threads} thread(s)",
             "", "| system | WER | ms per clip |", "|---|---|---|"]
    lines += [f"| {n} | {w:.4f} | {ms:.1f} |" for n, w, ms in rows]
    lines += ["", f"Streaming a {st['audio_s']:.1f}-s recording ({st['utterances']} utterances, {st['words']} words, "
              f"0.5-s blocks, decode {res['decode']}):", "",
              "| RTF | latency mean ms | latency max ms | segments | cues | SRT well formed | WER stream | WER offline |",
              "|---|---|---|---|---|---|---|---|",
              f"| {st['rtf']:.4f} | {st['latency_mean_ms']} | {st['latency_max_ms']} | {st['segments']} | {st['cues']} | "
              f"{st['srt_well_formed']} | {st['wer_stream']:.4f} | {st['wer_offline']:.4f} |"]
    text = "\n".join(lines)
    (out / "subtitles.md").write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
