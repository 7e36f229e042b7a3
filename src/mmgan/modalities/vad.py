"""Voice activity: a recording cut into speech segments at its pauses, offline or as it arrives.

    for seg in split_speech(x, 16000):                   # a whole recording (float32 mono samples)
        seg.start, seg.end, seg.samples                   # sample offsets and the segment's audio
    seg = Segmenter(16000)                               # live: blocks in time order
    done = seg.push(block) + ... + seg.flush()

One rule for both (split_speech feeds the whole recording to a Segmenter): frames of frame_ms are
voiced when their energy is within threshold_db of the loudest frame heard so far (and above
floor_db, absolute). A pause ends a segment only once it has lasted min_pause_ms (the hangover: a
short gap between words does not cut); runs of voice shorter than min_speech_ms are dropped (clicks);
each segment gets pad_ms of context either side (never overlapping its neighbour). A segment that
reaches max_seconds without a pause is cut there and continues as a new one (fixed-length chunks).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class VadOptions:
    frame_ms: float = 20.0          # analysis frame
    threshold_db: float = -35.0     # voiced: within this of the loudest frame so far
    floor_db: float = -60.0         # ... and louder than this (dBFS RMS): digital silence is never speech
    min_pause_ms: float = 300.0     # a quieter stretch cuts only after this long (hangover)
    min_speech_ms: float = 80.0     # shorter voiced runs are dropped
    pad_ms: float = 150.0           # context kept either side of a segment (at most min_pause_ms)
    max_seconds: float = 8.0        # longest segment; longer speech is cut into chunks of this length

    def __post_init__(self) -> None:
        if self.frame_ms <= 0 or self.max_seconds * 1000 < 2 * self.frame_ms:
            raise ValueError(f"VAD: frame_ms must be > 0 and max_seconds at least two frames "
                             f"(got frame_ms={self.frame_ms}, max_seconds={self.max_seconds})")
        if not 0 <= self.pad_ms <= self.min_pause_ms:
            raise ValueError(f"VAD: pad_ms must be between 0 and min_pause_ms ({self.min_pause_ms}), got {self.pad_ms}")


@dataclass
class Segment:
    start: int                      # first sample, in the whole recording
    end: int                        # one past the last sample
    samples: np.ndarray             # the audio in [start, end)
    sample_rate: int

    @property
    def seconds(self) -> tuple[float, float]:
        return self.start / self.sample_rate, self.end / self.sample_rate


class Segmenter:
    """Streaming voice activity: push() blocks of float32 mono samples in time order, get back the
    segments that are complete; flush() at the end returns the last one."""

    def __init__(self, sample_rate: int, opts: VadOptions | None = None):
        o = self.opts = opts or VadOptions()
        self.sample_rate = sample_rate
        self.frame = max(1, int(round(sample_rate * o.frame_ms / 1000)))
        self.pause_frames = max(1, math.ceil(o.min_pause_ms / o.frame_ms))
        self.min_frames = max(1, math.ceil(o.min_speech_ms / o.frame_ms))
        self.max_frames = max(2, int(o.max_seconds * 1000 / o.frame_ms))
        self.pad = int(round(sample_rate * o.pad_ms / 1000))
        self.buf = np.zeros(0, np.float32)     # samples from self.base on
        self.base = 0                          # the buffer's first sample in the recording
        self.seen = 0                          # samples pushed so far
        self.frames = 0                        # whole frames analysed
        self.loudest = -math.inf               # dB of the loudest frame so far
        self.start: int | None = None          # open segment: first voiced frame
        self.last_voiced = -1
        self.emitted_end = 0                   # end sample of the last segment given out (no overlap)

    def push(self, block: np.ndarray) -> list[Segment]:
        block = np.asarray(block, np.float32).reshape(-1)
        self.buf = np.concatenate([self.buf, block])
        self.seen += len(block)
        out = []
        while (self.frames + 1) * self.frame <= self.seen:
            f = self.frames
            a = f * self.frame - self.base
            x = self.buf[a:a + self.frame].astype(np.float64)
            db = 10 * math.log10(float(np.mean(x * x)) + 1e-12)
            self.loudest = max(self.loudest, db)
            voiced = db > self.opts.floor_db and db >= self.loudest + self.opts.threshold_db
            self.frames += 1
            if voiced:
                if self.start is None:
                    self.start = f
                self.last_voiced = f
            if self.start is not None and f - self.last_voiced >= self.pause_frames:
                out += self._close(self.last_voiced + 1)
            elif self.start is not None and f + 1 - self.start >= self.max_frames:
                out += self._close(f + 1, cut=True)
        self._trim()
        return out

    def flush(self) -> list[Segment]:
        """The open segment (if any) at the end of the recording."""
        out = self._close(self.last_voiced + 1, final=True) if self.start is not None else []
        self._trim()
        return out

    def _close(self, end_frame: int, cut: bool = False, final: bool = False) -> list[Segment]:
        start_frame, self.start = self.start, (end_frame if cut else None)
        if not cut and end_frame - start_frame < self.min_frames:
            return []
        lo = max(self.emitted_end, start_frame * self.frame - (0 if self._continues(start_frame) else self.pad))
        hi = min(self.seen, end_frame * self.frame + (0 if cut else self.pad))
        if final:
            hi = min(self.seen, max(hi, end_frame * self.frame))
        self.emitted_end = hi
        seg = Segment(lo, hi, self.buf[lo - self.base:hi - self.base].copy(), self.sample_rate)
        return [seg] if hi > lo else []

    def _continues(self, start_frame: int) -> bool:
        """Whether a segment begins where a cut one ended (no padding back into it)."""
        return self.emitted_end == start_frame * self.frame and start_frame > 0

    def _trim(self) -> None:
        """Drop samples no segment can need any more: a segment starts no earlier than the open one's
        first frame (or the next frame) less the padding, and never before the last segment's end."""
        first = self.start if self.start is not None else self.frames
        keep = min(self.seen, max(self.emitted_end, first * self.frame - self.pad))
        if keep > self.base:
            self.buf = self.buf[keep - self.base:]
            self.base = keep


def split_speech(x: np.ndarray, sample_rate: int, opts: VadOptions | None = None) -> list[Segment]:
    """A whole recording's speech segments (the streaming rule, fed all at once)."""
    seg = Segmenter(sample_rate, opts)
    return seg.push(x) + seg.flush()
