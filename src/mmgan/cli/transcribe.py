"""`mmgan transcribe`: speech to text and subtitles with a recogniser run.

    mmgan transcribe RUN --audio talk.wav [--srt talk.srt] [--vtt talk.vtt] [--beam 8] [--decode lexicon]
    mmgan transcribe RUN --audio talk.wav --stream [--block 0.5] [--realtime]
The transcript goes to stdout (streaming: each segment's subtitle as SRT as soon as it is decoded);
progress, timing and the real-time factor go to stderr. --srt / --vtt write the subtitle files.
"""
from __future__ import annotations

import sys
from pathlib import Path

from .commands import COMMANDS
from ..api.transcribe import stream_file, transcribe_file
from ..modalities.subtitles import srt_block, to_srt, to_vtt
from ..modalities.vad import VadOptions
from ..pipeline import Pipeline
from ..utils import atomic_write_text


def _add(sub) -> None:
    p = sub.add_parser("transcribe", help="speech to text and subtitles (SRT, WebVTT) with a recognizer run",
                       description="Cut a recording at its pauses, recognise each segment with a recognizer run "
                                   "and write the transcript (stdout) and subtitles.")
    p.add_argument("run", help="run folder, checkpoint or exported pipeline of a recognizer")
    p.add_argument("--audio", required=True, help="the recording: WAV, FLAC, OGG (any rate, mono or stereo)")
    p.add_argument("--srt", help="write SubRip subtitles here")
    p.add_argument("--vtt", help="write WebVTT subtitles here")
    p.add_argument("--stream", action="store_true", help="read the file block by block as if live, print each "
                                                         "subtitle as it is decoded, report latency and RTF")
    p.add_argument("--block", type=float, default=0.5, help="streaming block length, seconds (default 0.5)")
    p.add_argument("--realtime", action="store_true", help="streaming: deliver blocks at the pace of the audio")
    p.add_argument("--beam", type=int, default=None, help="CTC prefix beam width (default: the run's; 1 = greedy)")
    p.add_argument("--decode", choices=("greedy", "beam", "lexicon"), default=None,
                   help="greedy, beam or lexicon (beam search writing only the training transcripts' words); "
                        "default: the run's")
    p.add_argument("--max-seconds", type=float, default=VadOptions.max_seconds,
                   help=f"longest segment before a fixed cut (default {VadOptions.max_seconds:g})")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda or auto")


def _run(args) -> int:
    pipe = Pipeline.from_pretrained(args.run, device=args.device)
    vad = VadOptions(max_seconds=args.max_seconds)
    options = None if args.beam is None else \
        ({"decode": "beam", "beam_size": args.beam} if args.beam > 1 else {"decode": "greedy"})
    if args.decode:
        options = {"decode": args.decode, **({"beam_size": args.beam} if args.beam else {})}
    if args.stream:
        index = 0
        t = None
        for ev in stream_file(pipe, args.audio, block_seconds=args.block, vad=vad, options=options,
                              realtime=args.realtime):
            t = ev.transcript
            for cue in ev.cues:
                index += 1
                print(srt_block(index, cue), flush=True)
            if ev.segment:
                print(f"[segment {ev.segment['start']:.2f}-{ev.segment['end']:.2f} s decoded in "
                      f"{1000 * ev.latency:.0f} ms]", file=sys.stderr, flush=True)
    else:
        t = transcribe_file(pipe, args.audio, vad=vad, options=options)
        print(t.text)
    s = t.stats()
    print(f"{s['audio_s']:.1f} s of audio, {s['segments']} segments, {s['words']} words in {s['elapsed_s']:.2f} s: "
          f"real-time factor {s['rtf']:.3f}"
          + (f"; latency per segment mean {s['latency_mean_ms']:.0f} ms, max {s['latency_max_ms']:.0f} ms"
             if "latency_mean_ms" in s else ""), file=sys.stderr)
    for path, text in ((args.srt, to_srt(t.cues)), (args.vtt, to_vtt(t.cues))):
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(path, text)
            print(f"wrote {path} ({len(t.cues)} cues)", file=sys.stderr)
    return 0


COMMANDS["transcribe"] = (_add, _run)
