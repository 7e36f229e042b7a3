"""Subtitles (mmgan.modalities.subtitles): cues from timed words, SRT and WebVTT written and parsed back."""
import re

import pytest

from mmgan.modalities.subtitles import (Cue, check_cues, make_cues, parse_srt, parse_vtt, timestamp, to_srt,
                                        to_vtt)

WORDS = [("one", 0.5, 0.8), ("two", 0.9, 1.2), ("three", 3.0, 3.4), ("four", 3.5, 3.6), ("five", 3650.25, 3650.5)]


def test_timestamps():
    assert timestamp(3661.5) == "01:01:01,500" and timestamp(0.0004, ".") == "00:00:00.000"
    assert timestamp(59.9996) == "00:01:00,000"


def test_cues_split_at_pauses_and_never_overlap():
    cues = make_cues(WORDS)
    assert [c.text for c in cues] == ["one two", "three four", "five"]
    assert cues[1].end >= cues[1].start + 0.7 - 1e-9                     # shown long enough to read
    check_cues(cues)
    close = make_cues([("a", 0.0, 0.1), ("b", 1.15, 1.2)], split_pause=1.0)
    assert len(close) == 2 and close[0].end <= close[1].start             # held only until the next cue


def test_long_cues_wrap_and_split():
    words = [(f"word{i:02d}", i * 0.3, i * 0.3 + 0.2) for i in range(40)]
    cues = make_cues(words)
    check_cues(cues)
    assert all(len(c.text.replace("\n", " ")) <= 84 and all(len(l) <= 42 for l in c.text.split("\n")) for c in cues)
    assert " ".join(c.text.replace("\n", " ") for c in cues).split() == [w for w, _, _ in words]


def test_srt_round_trip_is_well_formed():
    cues = make_cues(WORDS)
    text = to_srt(cues)
    blocks = text.strip().split("\n\n")
    for i, b in enumerate(blocks, 1):
        lines = b.split("\n")
        assert lines[0] == str(i)
        assert re.fullmatch(r"\d\d:\d\d:\d\d,\d{3} --> \d\d:\d\d:\d\d,\d{3}", lines[1])
    back = parse_srt(text)
    assert back == cues
    check_cues(back)


def test_vtt_round_trip_is_well_formed():
    cues = make_cues(WORDS)
    text = to_vtt(cues)
    assert text.startswith("WEBVTT\n\n")
    assert re.search(r"^\d\d:\d\d:\d\d\.\d{3} --> \d\d:\d\d:\d\d\.\d{3}$", text, re.M)
    assert parse_vtt(text) == cues
    assert parse_vtt("WEBVTT\n\nNOTE hi\n\nid-1\n00:00:01.000 --> 00:00:02.000 align:start\nhello\n") == \
        [Cue(1.0, 2.0, "hello")]


@pytest.mark.parametrize("text, match", [
    ("2\n00:00:01,000 --> 00:00:02,000\nhi\n", "index"),
    ("1\n00:00:01.000 --> 00:00:02,000\nhi\n", "malformed timestamp"),
    ("1\n00:00:01,000 -> 00:00:02,000\nhi\n", "start --> end"),
    ("1\n00:00:01,000 --> 00:00:02,000\n", "needs an index"),
])
def test_malformed_srt_is_refused(text, match):
    with pytest.raises(ValueError, match=match):
        parse_srt(text)


def test_bad_cues_are_found():
    with pytest.raises(ValueError, match="before cue 1 ends"):
        check_cues([Cue(0, 2, "a"), Cue(1, 3, "b")])
    with pytest.raises(ValueError, match="ends"):
        check_cues([Cue(2, 1, "a")])
    with pytest.raises(ValueError, match="WEBVTT"):
        parse_vtt("00:00:01.000 --> 00:00:02.000\nhi\n")
