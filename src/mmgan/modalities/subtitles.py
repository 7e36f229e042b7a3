"""Subtitles: timed words -> cues -> SubRip (.srt) and WebVTT (.vtt) text, and back.

    cues = make_cues([("hello", 0.5, 0.9), ("world", 1.0, 1.4)])   # words with start/end seconds
    Path("talk.srt").write_text(to_srt(cues)); Path("talk.vtt").write_text(to_vtt(cues))
    parse_srt(text) / parse_vtt(text) -> [Cue]                        # ValueError naming a malformed line
    check_cues(cues)                                                   # times ordered, cues never overlap

SRT: blocks "index\\nHH:MM:SS,mmm --> HH:MM:SS,mmm\\ntext\\n" separated by blank lines, indices from 1.
WebVTT: "WEBVTT" then blank-line-separated cues "HH:MM:SS.mmm --> HH:MM:SS.mmm\\ntext".
A cue holds the words of at most max_chars characters (two lines of line_chars) and max_seconds; a new cue
also starts after a pause of split_pause seconds. Each cue shows for at least min_seconds when the next
cue leaves room, and ends before the next begins.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Sequence

Word = tuple[str, float, float]            # text, start seconds, end seconds


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    text: str


def make_cues(words: Sequence[Word], line_chars: int = 42, max_chars: int = 84, max_seconds: float = 6.0,
              split_pause: float = 1.0, min_seconds: float = 0.7) -> list[Cue]:
    """Words (in time order) grouped into cues (see the module docstring)."""
    groups: list[list[Word]] = []
    for w in words:
        if not w[0].strip():
            continue
        g = groups[-1] if groups else None
        if g is not None:
            chars = sum(len(x[0]) + 1 for x in g) + len(w[0])
            if chars <= max_chars and w[2] - g[0][1] <= max_seconds and w[1] - g[-1][2] < split_pause:
                g.append(w)
                continue
        groups.append([w])
    cues = []
    for i, g in enumerate(groups):
        start, end = g[0][1], max(x[2] for x in g)
        nxt = groups[i + 1][0][1] if i + 1 < len(groups) else float("inf")
        end = min(max(end, start + min_seconds), nxt)
        if cues and start < cues[-1].end:
            start = cues[-1].end
        cues.append(Cue(round(start, 3), round(max(end, start + 0.001), 3), wrap([x[0] for x in g], line_chars)))
    return cues


def wrap(words: Sequence[str], line_chars: int) -> str:
    """Words as lines of at most line_chars (a longer word gets a line of its own)."""
    lines, cur = [], ""
    for w in words:
        if cur and len(cur) + 1 + len(w) > line_chars:
            lines.append(cur)
            cur = w
        else:
            cur = f"{cur} {w}" if cur else w
    return "\n".join(lines + ([cur] if cur else []))


def timestamp(seconds: float, sep: str = ",") -> str:
    """HH:MM:SS,mmm (SRT) or HH:MM:SS.mmm (sep=".", WebVTT)."""
    ms = int(round(max(0.0, seconds) * 1000))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def srt_block(index: int, cue: Cue) -> str:
    return f"{index}\n{timestamp(cue.start)} --> {timestamp(cue.end)}\n{cue.text}\n"


def vtt_block(cue: Cue) -> str:
    return f"{timestamp(cue.start, '.')} --> {timestamp(cue.end, '.')}\n{cue.text}\n"


def to_srt(cues: Iterable[Cue]) -> str:
    return "\n".join(srt_block(i, c) for i, c in enumerate(cues, 1))


VTT_HEADER = "WEBVTT\n"


def to_vtt(cues: Iterable[Cue]) -> str:
    return "\n".join([VTT_HEADER] + [vtt_block(c) for c in cues])


_TIME = {",": re.compile(r"^(\d{2,}):([0-5]\d):([0-5]\d),(\d{3})$"), ".": re.compile(r"^(\d{2,}):([0-5]\d):([0-5]\d)\.(\d{3})$")}


def parse_time(text: str, sep: str) -> float:
    m = _TIME[sep].match(text.strip())
    if not m:
        raise ValueError(f"malformed timestamp {text!r} (expected HH:MM:SS{sep}mmm)")
    h, mi, s, ms = map(int, m.groups())
    return h * 3600 + mi * 60 + s + ms / 1000


def _timing(line: str, sep: str, where: str) -> tuple[float, float]:
    parts = line.split(" --> ")
    if len(parts) != 2:
        raise ValueError(f"{where}: expected 'start --> end', got {line!r}")
    try:
        return parse_time(parts[0], sep), parse_time(parts[1].split(" ")[0], sep)   # VTT may add cue settings
    except ValueError as e:
        raise ValueError(f"{where}: {e}") from None


def _blocks(text: str) -> list[list[str]]:
    text = text.replace("\r\n", "\n").lstrip("\ufeff")
    return [b.split("\n") for b in re.split(r"\n\s*\n", text.strip()) if b.strip()]


def parse_srt(text: str) -> list[Cue]:
    """SubRip text -> cues; ValueError on a malformed block (indices must count 1, 2, 3, ...)."""
    cues = []
    for i, block in enumerate(_blocks(text), 1):
        if len(block) < 3:
            raise ValueError(f"SRT block {i}: needs an index, a timing line and text, got {block!r}")
        if block[0].strip() != str(i):
            raise ValueError(f"SRT block {i}: index {block[0]!r}, expected {i}")
        start, end = _timing(block[1], ",", f"SRT block {i}")
        cues.append(Cue(start, end, "\n".join(block[2:])))
    return cues


def parse_vtt(text: str) -> list[Cue]:
    """WebVTT text -> cues; ValueError when the header or a cue is malformed."""
    blocks = _blocks(text)
    if not blocks or not blocks[0][0].startswith("WEBVTT"):
        raise ValueError("WebVTT text must start with 'WEBVTT'")
    cues = []
    for i, block in enumerate(blocks[1:], 1):
        if block[0].startswith("NOTE"):
            continue
        if "-->" not in block[0]:
            block = block[1:]                                           # an optional cue identifier
        if len(block) < 2:
            raise ValueError(f"WebVTT cue {i}: needs a timing line and text, got {block!r}")
        start, end = _timing(block[0], ".", f"WebVTT cue {i}")
        cues.append(Cue(start, end, "\n".join(block[1:])))
    return cues


def check_cues(cues: Sequence[Cue]) -> None:
    """ValueError unless every cue has text, ends after it starts, and starts no earlier than the
    previous cue ends."""
    for i, c in enumerate(cues, 1):
        if not c.text.strip():
            raise ValueError(f"cue {i} has no text")
        if not c.end > c.start:
            raise ValueError(f"cue {i} ends ({c.end}) before it starts ({c.start})")
        if i > 1 and c.start < cues[i - 2].end:
            raise ValueError(f"cue {i} starts at {c.start}, before cue {i - 1} ends ({cues[i - 2].end})")
