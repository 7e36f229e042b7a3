"""Caption metrics for the shapes data: read the slots back out of a caption.

    parse_slots("a tiny crimson disc near the top edge")
        -> {"shape": "circle", "color": "red", "size": "small", "position": "top"}
    slot_accuracy(captions, attributes)  share of slots right (and of captions with all four right)
The variety and corpus scores (distinct-n, Self-BLEU, BLEU/METEOR/CIDEr, tone, WER) are in caption_scores.py.

parse_slots uses data/shapes.py's synonym table (SYNONYMS, PLACES, PLACE_WORDS): longest phrases
first, on word boundaries; a slot that is missing, or named twice with different values, is None.
Hyphens count as spaces on both sides, so a transcript of speech ("a three sided shape", as spoken-shapes
writes what is said) reads as its caption ("a three-sided shape") does.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache

from ..data.shapes import ATTRIBUTES, PLACE_WORDS, PLACES, SYNONYMS

SLOTS = ("shape", "color", "size", "position")
POSITION_WORDS = {"top": ["top", "upper", "up"], "bottom": ["bottom", "lower", "below"],
                  "left": ["left"], "right": ["right"]}


@cache
def _phrases() -> dict[str, list[tuple[re.Pattern, str]]]:
    """slot -> [(pattern, value)], longest phrase first."""
    out: dict[str, list[tuple[str, str]]] = {s: [] for s in SLOTS}
    for slot, values in ATTRIBUTES.items():
        for v in values:
            words = SYNONYMS.get(v, [])
            if slot == "position":
                words = PLACES[v] + PLACE_WORDS[v] + POSITION_WORDS[v]
            out[slot] += [(w, v) for w in words]
    return {s: [(re.compile(r"(?<!\w)" + re.escape(w.replace("-", " ")) + r"(?!\w)"), v)
                for w, v in sorted(pairs, key=lambda p: -len(p[0]))] for s, pairs in out.items()}


def parse_slots(caption: str) -> dict[str, str | None]:
    """The shape, color, size and position a caption names (None where it names none, or two)."""
    found: dict[str, str | None] = {}
    for slot, patterns in _phrases().items():
        text, values = caption.lower().replace("-", " "), set()
        for pat, value in patterns:
            if pat.search(text):
                values.add(value)
                text = pat.sub(" ", text)              # a longer phrase's words are not counted again
        found[slot] = values.pop() if len(values) == 1 else None
    return found


def slot_accuracy(captions: Sequence[str], attributes: Sequence[Sequence[int]]) -> dict[str, float]:
    """Captions against (n, 4) attribute indices (shapes' attributes column): per-slot accuracy, the mean
    over slots ("slots") and the share of captions with all four right ("exact")."""
    if len(captions) != len(attributes):
        raise ValueError(f"{len(captions)} captions for {len(attributes)} attribute rows")
    right = {s: 0 for s in SLOTS}
    exact = 0
    for cap, row in zip(captions, attributes):
        got = parse_slots(cap)
        ok = [got[s] == ATTRIBUTES[s][int(i)] for s, i in zip(SLOTS, row)]
        for s, k in zip(SLOTS, ok):
            right[s] += k
        exact += all(ok)
    n = max(1, len(captions))
    out = {s: right[s] / n for s in SLOTS}
    out["slots"] = sum(out[s] for s in SLOTS) / len(SLOTS)
    out["exact"] = exact / n
    return out
