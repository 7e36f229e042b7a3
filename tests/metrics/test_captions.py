"""metrics.captions: the shapes slot parser reads every reference caption back."""
from __future__ import annotations

from mmgan.data import load_dataset
from mmgan.metrics.captions import parse_slots, slot_accuracy


def test_parse_slots_reads_synonyms():
    assert parse_slots("a tiny crimson disc near the top edge") == \
        {"shape": "circle", "color": "red", "size": "small", "position": "top"}
    assert parse_slots("down below: a giant pumpkin-orange star shape") == \
        {"shape": "star", "color": "orange", "size": "large", "position": "bottom"}
    assert parse_slots("a red blue thing")["color"] is None          # two colours: no answer
    assert parse_slots("")["shape"] is None


def test_every_reference_caption_parses_right():
    for name in ("shapes", "shapes-styled"):
        ds = load_dataset(name, n=400)
        acc = slot_accuracy(ds.columns["text"], ds.columns["attributes"].tolist())
        assert acc["exact"] == 1.0, name


def test_every_spoken_transcript_parses_right():
    # what spoken-shapes writes down for a caption: hyphens as spaces ("a three sided shape"), no punctuation
    from mmgan.data.spoken_shapes import transcript

    ds = load_dataset("shapes", n=400)
    acc = slot_accuracy([transcript(t) for t in ds.columns["text"]], ds.columns["attributes"].tolist())
    assert acc["exact"] == 1.0
