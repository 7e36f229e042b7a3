"""transcribe_file() and stream_file(): what `mmgan transcribe` (and the server) call.

    t = transcribe_file(pipe, "talk.wav")                 # a whole recording, any rate, mono or stereo
    t = transcribe_wave(pipe, samples)                    # or its samples at the model's rate (the server)
    t.text, t.words, t.cues; Path("talk.srt").write_text(to_srt(t.cues))
    for ev in stream_file(pipe, "talk.wav"):               # block by block in time order, as if live
        print(ev.cues)                                     # the cues of each segment as it is decoded
    the last event's .transcript has the stats (rtf, latencies)

A recording is cut at its pauses (mmgan.modalities.vad: energy with hangover, fixed chunks past
vad.max_seconds); each segment goes through the one inference path (Pipeline.transcribe), and its
words' times are the segment's offset plus the CTC alignment. Cues: mmgan.modalities.subtitles.

Streaming reads `block_seconds` of audio at a time (resampled block by block to the model's rate: a
recording at another rate gets small filter edges at block boundaries) and decodes each segment as
soon as its pause is heard. A segment's latency is the time from the moment its last block was read
to its text; the real-time factor is processing time over audio duration (realtime=True also waits
for each block's audio to have "happened", as a microphone would deliver it).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterator

import numpy as np

from ..modalities.sound import WaveError, read_wave, resample
from ..modalities.subtitles import Cue, Word, make_cues
from ..modalities.vad import Segment, Segmenter, VadOptions, split_speech
from ..pipeline import Pipeline


@dataclass
class Transcript:
    text: str = ""
    words: list[Word] = field(default_factory=list)
    cues: list[Cue] = field(default_factory=list)
    segments: list[dict] = field(default_factory=list)      # {"start", "end", "text"} seconds
    seconds: float = 0.0                                    # audio duration
    elapsed: float = 0.0                                    # processing time
    latencies: list[float] = field(default_factory=list)    # streaming: seconds from a segment's last block to its text
    segment_words: list[list[Word]] = field(default_factory=list)   # the words of each segment

    @property
    def rtf(self) -> float:
        """Real-time factor: processing seconds per second of audio."""
        return self.elapsed / max(self.seconds, 1e-9)

    def stats(self) -> dict:
        lat = self.latencies
        return {"audio_s": round(self.seconds, 3), "elapsed_s": round(self.elapsed, 3), "rtf": round(self.rtf, 4),
                "segments": len(self.segments), "words": len(self.words), "cues": len(self.cues),
                **({"latency_mean_ms": round(1000 * float(np.mean(lat)), 1),
                    "latency_max_ms": round(1000 * float(np.max(lat)), 1)} if lat else {})}


@dataclass
class StreamEvent:
    segment: dict                  # {"start", "end", "text"}
    words: list[Word]
    cues: list[Cue]                # this segment's cues
    latency: float                 # seconds
    transcript: Transcript         # everything so far (complete after the last event)


def recognise(pipe: Pipeline, segments: list[Segment], options: dict | None = None) -> list[tuple[dict, list[Word]]]:
    """Segments -> ({"start", "end", "text"}, words with times in the recording) each."""
    if not segments:
        return []
    results = pipe.transcribe([s.samples for s in segments], options)
    out = []
    for seg, res in zip(segments, results):
        start, end = seg.seconds
        words = [(w, a + start, min(b + start, end)) for w, a, b in res["words"]]
        out.append(({"start": round(start, 3), "end": round(end, 3), "text": res["text"].strip()}, words))
    return out


def _check(pipe: Pipeline) -> int:
    if not getattr(pipe.generator, "transcribes", False):
        raise ValueError(f"{pipe.model_config.get('family')!r} runs do not transcribe speech; "
                         f"train a recogniser (model.family=recognizer)")
    return int(pipe.generator.sample_rate)


def _finish(t: Transcript) -> Transcript:
    """The text, and the cues segment by segment: a subtitle never runs across a pause the recording was cut
    at (one sentence, or part of one, a cue; the same cues streaming shows)."""
    t.text = " ".join(s["text"] for s in t.segments if s["text"])
    cues = [c for words in t.segment_words for c in make_cues(words)]
    for i in range(len(cues) - 1):                    # a cue lengthened to its minimum ends where the next begins
        if cues[i].end > cues[i + 1].start:
            cues[i] = replace(cues[i], end=max(cues[i + 1].start, cues[i].start + 0.001))
    t.cues = cues
    return t


def transcribe_file(pipe: Pipeline, path: str | Path, vad: VadOptions | None = None, options: dict | None = None) \
        -> Transcript:
    """A whole recording at once: read, cut at pauses, recognise every segment, time every word."""
    rate = _check(pipe)
    t0 = time.perf_counter()
    return transcribe_wave(pipe, read_wave(path, rate), vad, options, started=t0)


def transcribe_wave(pipe: Pipeline, x: np.ndarray, vad: VadOptions | None = None, options: dict | None = None,
                    started: float | None = None) -> Transcript:
    """A whole recording given as mono float samples at the model's rate (pipe.generator.sample_rate)."""
    rate = _check(pipe)
    t0 = time.perf_counter() if started is None else started
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 1:
        raise ValueError(f"a recording is mono samples (1-D), got shape {x.shape}")
    t = Transcript(seconds=len(x) / rate)
    for seg, words in recognise(pipe, split_speech(x, rate, vad), options):
        t.segments.append(seg)
        t.segment_words.append(words)
        t.words += words
    t.elapsed = time.perf_counter() - t0
    return _finish(t)


def _blocks(path: Path, seconds: float) -> Iterator[tuple[np.ndarray, int]]:
    import soundfile as sf

    if not path.is_file():
        raise WaveError(f"audio file not found: {path}")
    try:
        rate = sf.info(str(path)).samplerate
        for b in sf.blocks(str(path), blocksize=max(1, int(seconds * rate)), dtype="float32", always_2d=True):
            yield b.mean(axis=1), rate
    except (RuntimeError, sf.LibsndfileError) as e:
        raise WaveError(f"cannot read audio file {path} ({type(e).__name__}: {e})") from None


def stream_file(pipe: Pipeline, path: str | Path, block_seconds: float = 0.5, vad: VadOptions | None = None,
                options: dict | None = None, realtime: bool = False) -> Iterator[StreamEvent]:
    """The recording block by block in time order; one event per decoded segment (see the module docstring)."""
    if block_seconds <= 0:
        raise ValueError(f"block_seconds must be > 0, got {block_seconds}")
    rate = _check(pipe)
    seg = Segmenter(rate, vad)
    t = Transcript()
    t0 = time.perf_counter()
    busy = 0.0

    def decode(done: list[Segment], arrived: float) -> Iterator[StreamEvent]:
        for s, words in recognise(pipe, done, options):
            t.segments.append(s)
            t.segment_words.append(words)
            t.words += words
            latency = time.perf_counter() - arrived
            t.latencies.append(latency)
            yield StreamEvent(s, words, make_cues(words), latency, t)

    for block, sr in _blocks(Path(path), block_seconds):
        if realtime:                                  # wait until this block's audio has been "spoken"
            time.sleep(max(0.0, t0 + t.seconds + len(block) / sr - time.perf_counter()))
        arrived = time.perf_counter()
        x = resample(block, sr, rate)
        t.seconds += len(block) / sr
        done = seg.push(x)
        yield from decode(done, arrived)
        busy += time.perf_counter() - arrived
    arrived = time.perf_counter()
    yield from decode(seg.flush(), arrived)
    busy += time.perf_counter() - arrived
    t.elapsed = busy                                  # processing time only (waits for real time excluded)
    _finish(t)
    if t.segments:
        return
    yield StreamEvent({}, [], [], 0.0, t)             # nothing heard: one event carrying the stats
